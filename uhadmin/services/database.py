"""The one way to reach the catalog database: engines, short transactions, an async facade."""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from uhadmin.errors import ConfigError, UhadminError

T = TypeVar("T")

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

# Worker threads for `Database.run`: enough for a page load, a count and a sync batch to
# overlap; SQLite serialises writers anyway.
WORKER_THREADS = 4

_WRITE_OPTION = "uhadmin_write"
# A write whose loss in a power cut the caller can recover from (see session()).
_RELAXED_OPTION = "uhadmin_relaxed"

MIGRATIONS_VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$",
                            re.MULTILINE)


class DatabaseUnavailableError(UhadminError):
    """The database cannot be reached; nothing was written."""


class DatabaseBusyError(UhadminError):
    """A PostgreSQL lock or statement timeout ran out; the transaction was rolled back.

    Not a DatabaseUnavailableError: the catalog answered, so this is no reason to go offline.
    """


class SchemaTooNewError(UhadminError):
    """The database was migrated by a newer uhadmin; this one changes nothing in it."""


def driver_connection(connection: Connection) -> Any:
    """The driver's own connection (sqlite3's, psycopg's) under a SQLAlchemy connection."""
    driver = connection.connection.driver_connection
    if driver is None:  # SQLAlchemy's pool has invalidated or closed it
        raise DatabaseUnavailableError("the database connection was closed")
    return driver


def _unavailable(database: Database, exc: OperationalError) -> UhadminError:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == _PG_LOCK_TIMEOUT:
        return DatabaseBusyError(
            f"{_what_was_blocked(exc)} is locked by another session (waited "
            f"{database.lock_timeout_s:g} s); try again")
    if sqlstate == _PG_QUERY_CANCELED and "statement timeout" in str(exc.orig):
        return DatabaseBusyError(
            f"the database took longer than {database.statement_timeout_s:g} s on "
            f"{_what_was_blocked(exc)} and stopped (statement_timeout); nothing was "
            "written; try again")
    # The driver's first line says what went wrong (refused, auth failed, locked); the rest
    # is SQL and a link that a person does not need.
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
    return DatabaseUnavailableError(f"database {database.display_url}: {reason}")


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


def _is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


class Database:
    """Engine plus sessions for SQLite and PostgreSQL with the same calling code.

    SQLite's own transaction handling is switched off (SQLAlchemy's pysqlite recipe) so
    that write sessions can start with BEGIN IMMEDIATE: a deferred transaction that reads
    first and writes later fails at once with "database is locked" when another writer got
    in between, whatever the busy timeout says.
    """

    def __init__(self, url: str, *, echo: bool = False, lock_timeout_s: float = LOCK_TIMEOUT_S,
                 statement_timeout_s: float = STATEMENT_TIMEOUT_S) -> None:
        parsed = normalise_url(url)
        self.url: str = parsed.render_as_string(hide_password=False)
        self.dialect: Literal["sqlite", "postgresql"] = (
            "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
        )
        self.lock_timeout_s = lock_timeout_s
        self.statement_timeout_s = statement_timeout_s
        workers = WORKER_THREADS
        if self.dialect == "sqlite":
            if _is_memory_sqlite(parsed):
                # One shared connection for an in-memory database, used by one thread at a
                # time (a single worker), because every new connection would be a new,
                # empty database.
                engine = create_engine(
                    parsed, echo=echo, poolclass=StaticPool,
                    connect_args={"check_same_thread": False},
                )
                workers = 1
            else:
                assert parsed.database is not None  # a None database is in-memory (above)
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(
                    parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                )
            _install_sqlite_transaction_control(engine)
        else:
            # Session settings sent with the connection: every session of ours waits boundedly.
            options = (f"-c lock_timeout={round(lock_timeout_s * 1000)} "
                       f"-c statement_timeout={round(statement_timeout_s * 1000)}")
            engine = create_engine(parsed, echo=echo, pool_pre_ping=True,
                                   connect_args={"options": options})
        self.engine: Engine = engine
        self._write_engine: Engine = engine.execution_options(**{_WRITE_OPTION: True})
        self._relaxed_write_engine: Engine = engine.execution_options(
            **{_WRITE_OPTION: True, _RELAXED_OPTION: True})
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="uhadmin-db")
        self._closed = False
        self._upgrade_lock = threading.Lock()
        self._sqlite_writer = threading.RLock()  # see session()

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    # --- schema -----------------------------------------------------------------------
    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent; safe to call at every start).

        A database already at the newest revision (the usual start) is recognised with one
        small query, without importing Alembic (a fifth of the start-up time).
        """
        try:
            with self._upgrade_lock:
                if self._at_head():
                    return
                self._refuse_newer_schema()
                from uhadmin.services.migrations import upgrade_to_head

                with self._write_engine.connect() as connection:
                    upgrade_to_head(connection)
        except OperationalError as exc:
            raise _unavailable(self, exc) from exc

    def _at_head(self) -> bool:
        head = shipped_head_revision()
        if head is None:
            return False
        return self._stored_revisions() == [head]

    def _stored_revisions(self) -> list[str]:
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(
                    text("SELECT version_num FROM alembic_version")).scalars().all())
        except (OperationalError, ProgrammingError) as exc:
            if "alembic_version" in str(exc.orig):  # no such table yet: a new database
                return []
            raise

    def _refuse_newer_schema(self) -> None:
        """A revision no migration file of ours names was written by a newer uhadmin:
        say so in one line and touch nothing (Alembic would fail with a traceback)."""
        unknown = [rev for rev in self._stored_revisions() if rev not in shipped_revisions()]
        if unknown:
            known = shipped_head_revision() or ", ".join(sorted(shipped_revisions()))
            raise SchemaTooNewError(
                f"database {self.display_url} was upgraded by a newer uhadmin (schema "
                f"revision {', '.join(unknown)}; this uhadmin knows up to {known}): upgrade "
                "uhadmin to use it; nothing was changed")

    # --- sessions -----------------------------------------------------------------------
    @contextmanager
    def session(self, *, write: bool = False, durable: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        Read sessions roll back at the end (they have nothing to commit) so a reader
        never holds a lock longer than its query.
        """
        bind = self._write_engine if write else self.engine
        if write and not durable:
            # SQLite: the commit is not fsynced (synchronous=NORMAL in WAL): it survives a
            # crash or kill of the process, and a power cut can lose it, but only with
            # every commit after it (WAL keeps commits in order, and the next durable
            # commit syncs the ones before). For writes the caller recovers from, e.g. the
            # sync's results, whose keys were saved durably first. PostgreSQL: unchanged.
            bind = self._relaxed_write_engine
        # SQLite has one writer at a time. Writers of this process queue here and start
        # the moment the previous one commits; left to SQLite's busy handler they would
        # sleep in steps of up to 100 ms, which stalled a sync behind its own Stripe-log
        # writes. The wait stays bounded: after the busy timeout SQLite decides.
        queued = write and self.dialect == "sqlite" and self._sqlite_writer.acquire(
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        session = Session(bind=bind, expire_on_commit=False, autoflush=False)
        try:
            yield session
            if write:
                session.commit()
            else:
                session.rollback()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if queued:
                self._sqlite_writer.release()

    async def run(self, fn: Callable[[Session], T], *, write: bool = False,
                  durable: bool = True) -> T:
        """Run `fn(session)` in a worker thread inside `session(write=...)`.

        The event loop (the GUI) never waits on the database; if the awaiting task is
        cancelled the transaction still finishes in its thread, committed or rolled back
        as a whole.
        """
        if self._closed:
            raise RuntimeError("database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._run_sync, fn, write, durable)
        )

    def _run_sync(self, fn: Callable[[Session], T], write: bool, durable: bool = True) -> T:
        try:
            with self.session(write=write, durable=durable) as session:
                return fn(session)
        except OperationalError as exc:
            raise _unavailable(self, exc) from exc

    def close(self) -> None:
        """Wait for running work, then release every connection."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        self.engine.dispose()


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
        if options.get(_WRITE_OPTION):
            # Per transaction (SQLite refuses to change it inside one): FULL syncs the
            # commit to disk, NORMAL leaves that to the next durable commit (session()).
            level = "NORMAL" if options.get(_RELAXED_OPTION) else "FULL"
            connection.exec_driver_sql(f"PRAGMA synchronous = {level}")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


@functools.cache
def _shipped_graph() -> tuple[frozenset[str], frozenset[str]] | None:
    """(revisions, parents) of the migration files, read from their `revision` and
    `down_revision` lines without importing Alembic; None if a file is not that simple."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in MIGRATIONS_VERSIONS_DIR.glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            found = re.findall(r"['\"]([^'\"]+)['\"]", value)
            if name == "revision":
                if len(found) != 1:
                    return None
                revisions.add(found[0])
            else:
                parents.update(found)
    return frozenset(revisions), frozenset(parents)


def shipped_revisions() -> frozenset[str]:
    """Every migration revision this uhadmin ships."""
    graph = _shipped_graph()
    if graph is None:
        from alembic.script import ScriptDirectory

        from uhadmin.services.migrations import alembic_config

        script = ScriptDirectory.from_config(alembic_config())
        return frozenset(rev.revision for rev in script.walk_revisions())
    return graph[0]


def shipped_head_revision() -> str | None:
    """The newest migration shipped; None when that is not a single clear head (then
    Alembic itself decides)."""
    graph = _shipped_graph()
    if graph is None:
        return None
    heads = graph[0] - graph[1]
    return next(iter(heads)) if len(heads) == 1 else None
