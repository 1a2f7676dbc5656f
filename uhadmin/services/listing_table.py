"""The `listings` table in SQLAlchemy Core: the ORM maps it, one-shot commands read it bare."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    literal_column,
    text,
)

# Every table of the catalog lives in this metadata (tables.Base uses it): the ORM module
# costs a one-shot `uhadmin listings list` more than all of its own work, so the table it
# reads is declared here, where Core alone can use it.
METADATA = MetaData()


def _text(name: str, length: int | None = None, default: str = "") -> Column[str]:
    """A NOT NULL text column the website may leave out (it gets `default`)."""
    kind = Text() if length is None else String(length)
    return Column(name, kind, nullable=False, default=default, server_default=default)


def _optional(name: str, kind: BigInteger | String | Boolean | DateTime) -> Column:
    return Column(name, kind, nullable=True)


# One listing. The marketplace website writes the catalog columns and reads
# `stripe_price_id`; uhadmin owns the `stripe_*`, `pushed_*` and `sync_*` columns.
# Every column the website may leave out has a server default, so a plain
# INSERT (title, price_minor) from outside works. PostgreSQL also has a generated
# `search_vector` column and SQLite a `listings_fts` table kept in step by triggers
# (see the migrations): both follow rows whoever writes them.
LISTINGS = Table(
    "listings", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # --- catalog columns (the website may write these) ---
    Column("title", String(5000), nullable=False),
    _text("description"),
    Column("price_minor", BigInteger, nullable=False),
    _text("currency", 3, "usd"),
    Column("image_urls", JSON, nullable=False, default=list, server_default=text("'[]'")),
    _text("seller_contact", 320),
    _text("category", 100),
    _text("condition", 50),
    Column("status", String(20), nullable=False, default="draft", server_default="draft",
           index=True),
    _text("rejection_reason"),
    # Optimistic lock: every writer (uhadmin and the website) bumps it on UPDATE.
    Column("version", Integer, nullable=False, default=1, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    _text("created_by", 200),
    _text("updated_by", 200),
    # --- Stripe link (uhadmin writes these; the website reads stripe_price_id) ---
    Column("stripe_product_id", String(255), nullable=True, index=True),
    _optional("stripe_price_id", String(255)),
    # Fingerprint of what was last pushed to Stripe successfully; a listing whose current
    # fingerprint differs needs a push, whoever wrote the row.
    _optional("pushed_fingerprint", String(64)),
    _optional("pushed_price_minor", BigInteger()),
    _optional("pushed_currency", String(3)),
    _optional("pushed_active", Boolean()),
    _optional("pushed_at", DateTime(timezone=True)),
    Column("sync_state", String(20), nullable=False, default="not_published",
           server_default="not_published", index=True),
    _text("sync_error"),
    # The database refuses what no screen could show, whoever writes the row.
    CheckConstraint(
        "status IN ('draft', 'pending_review', 'approved', 'rejected', 'archived')",
        name="ck_listings_status",
    ),
    CheckConstraint(
        "sync_state IN ('not_published', 'pending', 'synced', 'failed')",
        name="ck_listings_sync_state",
    ),
    CheckConstraint("price_minor >= 0", name="ck_listings_price_not_negative"),
    CheckConstraint("version >= 1", name="ck_listings_version_positive"),
    # Sort indices for the catalog table: each ends with id, the stable tiebreak, so
    # a sorted first page is an index range scan, not a sort of 100,000 rows.
    Index("ix_listings_price", "price_minor", "id"),
    Index("ix_listings_title", func.lower(literal_column("title")), "id"),
    Index("ix_listings_updated", "updated_at", "id"),
    Index("ix_listings_created", "created_at", "id"),
)
