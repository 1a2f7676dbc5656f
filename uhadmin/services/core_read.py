"""A page of listings read with SQLAlchemy Core alone: a one-shot `uhadmin listings list`
without the ORM, worker threads or Alembic (bench/startup_bench.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from uhadmin.domain.listing import Listing, ListingQuery, Page
from uhadmin.services.engine import (
    LOCK_TIMEOUT_S,
    STATEMENT_TIMEOUT_S,
    catalog_engine,
    is_memory_sqlite,
    normalise_url,
    unavailable_error,
)
from uhadmin.services.listing_queries import Dialect, search_in
from uhadmin.services.schema_revision import (
    newer_schema_error,
    shipped_head_revision,
    stored_revisions,
)


def read_listing_page(database_url: str, query: ListingQuery) -> Page[Listing] | None:
    """The page `ListingService.search(query)` returns, read on one Core connection when
    the catalog is at this uhadmin's schema revision.

    None when it is not (no catalog file or schema yet, or an older schema): the caller
    then takes the services' path, which creates or migrates it as every start does. A
    schema from a newer uhadmin, or a database that cannot be reached, raises the same
    error the services raise.
    """
    parsed = normalise_url(database_url)
    if _sqlite_file_missing(parsed):
        return None
    display_url = parsed.render_as_string(hide_password=True)
    engine = catalog_engine(parsed)
    try:
        with engine.connect() as connection:
            stored = stored_revisions(connection)
            head = shipped_head_revision()
            if head is None or stored != [head]:
                error = newer_schema_error(stored, display_url)
                if error is not None:
                    raise error
                return None
            dialect: Dialect = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
            return search_in(connection, dialect, query)
    except OperationalError as exc:
        raise unavailable_error(exc, display_url=display_url, lock_timeout_s=LOCK_TIMEOUT_S,
                                statement_timeout_s=STATEMENT_TIMEOUT_S) from exc
    finally:
        engine.dispose()


def _sqlite_file_missing(parsed: URL) -> bool:
    """A SQLite catalog that does not exist yet (connecting would create an empty file)."""
    if parsed.get_backend_name() != "sqlite" or is_memory_sqlite(parsed):
        return False
    assert parsed.database is not None  # a None database is in-memory
    return not Path(parsed.database).expanduser().exists()
