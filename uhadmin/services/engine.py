"""Catalog engines in SQLAlchemy Core: URLs, connection settings, and what a failure means."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

from uhadmin.errors import ConfigError, UhadminError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    # What a read runs on: a service's ORM session, or a one-shot command's Core connection.
    Reader: TypeAlias = Session | Connection

# How long a writer waits for another writer's lock before SQLite gives up ("database is
# locked"). Write transactions here last milliseconds, so 15 s only matters when another
# process (the website, a second admin) holds the lock.
SQLITE_BUSY_TIMEOUT_MS = 15_000

# PostgreSQL waits, bounded: a write blocked behind another session's row lock (an admin's
# open transaction, the website's) gives up after LOCK_TIMEOUT_S with a message naming the
# row, and no statement runs longer than STATEMENT_TIMEOUT_S (uhadmin's take milliseconds;
# the longest, a bulk import, takes seconds). Either way the transaction rolls back whole.
LOCK_TIMEOUT_S = 5.0
STATEMENT_TIMEOUT_S = 60.0
_PG_LOCK_TIMEOUT = "55P03"  # SQLSTATE lock_not_available
_PG_QUERY_CANCELED = "57014"  # SQLSTATE query_canceled (statement_timeout among others)

# What a blocked row is called in a message, by table.
_ROW_NAMES = {
    "listings": "listing", "stripe_changes": "queued Stripe change",
    "stripe_sync_claims": "sync claim of listing", "stripe_operations": "Stripe operation",
    "checkout_attempts": "checkout attempt", "app_settings": "setting",
}
_TABLE_OF_STATEMENT = re.compile(
    r"^\s*(?:UPDATE|DELETE\s+FROM|INSERT\s+INTO)\s+\"?(\w+)|\bFROM\s+\"?(\w+)",
    re.IGNORECASE)
_ID_PARAMETER = re.compile(r"(?:listing_)?id(?:_\d+)?")

# An execution option marking a writer's connection (BEGIN IMMEDIATE on SQLite).
WRITE_OPTION = "uhadmin_write"
# A write whose loss in a power cut the caller can recover from (see Database.session()).
RELAXED_OPTION = "uhadmin_relaxed"


class DatabaseUnavailableError(UhadminError):
    """The database cannot be reached; nothing was written."""


class DatabaseBusyError(UhadminError):
    """A PostgreSQL lock or statement timeout ran out; the transaction was rolled back.

    Not a DatabaseUnavailableError: the catalog answered, so this is no reason to go offline.
    """


def driver_connection(connection: Connection) -> Any:
    """The driver's own connection (sqlite3's, psycopg's) under a SQLAlchemy connection."""
    driver = connection.connection.driver_connection
    if driver is None:  # SQLAlchemy's pool has invalidated or closed it
        raise DatabaseUnavailableError("the database connection was closed")
    return driver


def unavailable_error(exc: OperationalError, *, display_url: str, lock_timeout_s: float,
                      statement_timeout_s: float) -> UhadminError:
    """The one-line error a failed statement means: a lock or statement timeout ran out
    (DatabaseBusyError), else the database could not be reached."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == _PG_LOCK_TIMEOUT:
        return DatabaseBusyError(
            f"{_what_was_blocked(exc)} is locked by another session (waited "
            f"{lock_timeout_s:g} s); try again")
    if sqlstate == _PG_QUERY_CANCELED and "statement timeout" in str(exc.orig):
        return DatabaseBusyError(
            f"the database took longer than {statement_timeout_s:g} s on "
            f"{_what_was_blocked(exc)} and stopped (statement_timeout); nothing was "
            "written; try again")
    # The driver's first line says what went wrong (refused, auth failed, locked); the rest
    # is SQL and a link that a person does not need.
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
    return DatabaseUnavailableError(f"database {display_url}: {reason}")


def _what_was_blocked(exc: OperationalError) -> str:
    """"listing 12" from the statement that waited (its table and id parameter)."""
    found = _TABLE_OF_STATEMENT.search(exc.statement or "")
    table = next((name for name in found.groups() if name), "") if found else ""
    if not table:  # e.g. the advisory lock of a schema upgrade another uhadmin runs
        return "the database"
    name = _ROW_NAMES.get(table, f"a row of {table}")
    params = exc.params if isinstance(exc.params, dict) else {}
    ids = [value for key, value in params.items()
           if _ID_PARAMETER.fullmatch(key) and isinstance(value, int)]
    return f"{name} {ids[0]}" if len(ids) == 1 else name


def normalise_url(url: str) -> URL:
    """Parse a database URL; plain postgresql:// means psycopg 3, the driver we ship."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL: cannot parse {url!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        if parsed.drivername in ("postgres", "postgresql"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        return parsed
    raise ConfigError(
        f"database URL: unsupported database {backend!r} (use sqlite:///PATH or "
        "postgresql+psycopg://USER:PASSWORD@HOST/DB)"
    )


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def catalog_engine(parsed: URL, *, echo: bool = False, lock_timeout_s: float = LOCK_TIMEOUT_S,
                   statement_timeout_s: float = STATEMENT_TIMEOUT_S) -> Engine:
    """The engine every catalog connection comes from, the same for the services and for
    one-shot Core reads: SQLite with a busy timeout, BEGIN IMMEDIATE for writers and WAL;
    PostgreSQL with bounded lock and statement waits."""
    if parsed.get_backend_name() == "sqlite":
        if is_memory_sqlite(parsed):
            # One shared connection for an in-memory database, because every new
            # connection would be a new, empty database.
            engine = create_engine(parsed, echo=echo, poolclass=StaticPool,
                                   connect_args={"check_same_thread": False})
        else:
            assert parsed.database is not None  # a None database is in-memory (above)
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _install_sqlite_transaction_control(engine)
        return engine
    # Session settings sent with the connection: every session of ours waits boundedly.
    options = (f"-c lock_timeout={round(lock_timeout_s * 1000)} "
               f"-c statement_timeout={round(statement_timeout_s * 1000)}")
    return create_engine(parsed, echo=echo, pool_pre_ping=True,
                         connect_args={"options": options})


def _install_sqlite_transaction_control(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 module from emitting its own (deferred) BEGIN; _on_begin does it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # WAL lets readers (the GUI's page loads) run while a writer commits. It is a
            # property of the file, so setting it again is harmless; memory databases
            # answer "memory" and stay as they are.
            cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(WRITE_OPTION):
            # Per transaction (SQLite refuses to change it inside one): FULL syncs the
            # commit to disk, NORMAL leaves that to the next durable commit (session()).
            level = "NORMAL" if options.get(RELAXED_OPTION) else "FULL"
            connection.exec_driver_sql(f"PRAGMA synchronous = {level}")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


