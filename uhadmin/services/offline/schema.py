"""The replica's tables: a mirror of the catalog's listings and their history, plus the
operations made offline and the thumbnail cache's index."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import make_url

metadata = MetaData()

# The catalog's listing columns, as they were last read (the website's rows included).
MIRROR = Table(
    "listings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3)),
    Column("image_urls", JSON),
    Column("seller_contact", Text),
    Column("category", Text),
    Column("condition", Text),
    Column("status", String(20), nullable=False),
    Column("rejection_reason", Text),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("created_by", Text),
    Column("updated_by", Text),
    Column("stripe_product_id", Text),
    Column("stripe_price_id", Text),
    Column("sync_state", String(20), nullable=False),
    Column("sync_error", Text),
    Column("pushed_at", DateTime(timezone=True)),
    # The catalog's own summary of the row when it was copied (see refresh.signature).
    Column("signature", Text, nullable=False),
    Index("ix_replica_listings_status", "status", "id"),
    Index("ix_replica_listings_updated", "updated_at", "id"),
)

# The catalog's audit rows about listings (their history), by the catalog's own ids.
HISTORY = Table(
    "history", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("listing_id", Integer, nullable=False),
    Column("action", String(50), nullable=False),
    Column("actor", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("details", JSON),
    Index("ix_replica_history_listing", "listing_id", "at"),
)

# Changes made offline, in the order they were made; never deleted (the record of what
# happened to each, state and note included, stays for the person and the tests).
OPERATIONS = Table(
    "operations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("listing_id", Integer, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("base_version", Integer, nullable=False),
    Column("base", JSON, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("actor", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("state", String(10), nullable=False),
    Column("conflicts", JSON, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("settled_at", DateTime(timezone=True)),
    Index("ix_replica_operations_state", "state", "id"),
)

THUMBNAILS = Table(
    "thumbnails", metadata,
    Column("url", Text, primary_key=True),
    Column("file", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=False, index=True),
)

STATE = Table(
    "replica_state", metadata,
    Column("key", String(50), primary_key=True),
    Column("value", Text, nullable=False),
)


def catalog_label(database_url: str) -> str:
    """The catalog's URL without its password: how people and the replica name it."""
    return make_url(database_url).render_as_string(hide_password=True)


def replica_path(data_dir: Path, database_url: str) -> Path:
    """One replica file per catalog under the data folder: a readable host/database part
    and a hash of the whole URL (user, port), so two catalogs never share a copy."""
    url = make_url(database_url)
    readable = re.sub(r"[^A-Za-z0-9]+", "-", f"{url.host or 'local'}-{url.database or ''}")
    digest = hashlib.sha256(catalog_label(database_url).encode()).hexdigest()[:12]
    return data_dir / "replicas" / f"{readable.strip('-')[:60]}-{digest}.sqlite3"
