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

# Worker threads for `Database.run`: enough for a page load, a count and a sync batch to
# overlap; SQLite serialises writers anyway.
WORKER_THREADS = 4

_WRITE_OPTION = "uhadmin_write"

MIGRATIONS_VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$",
                            re.MULTILINE)


class DatabaseUnavailableError(UhadminError):
    """The database cannot be reached or stayed locked too long; nothing was written."""


def _unavailable(database: Database, exc: OperationalError) -> DatabaseUnavailableError:
    # The driver's first line says what went wrong (refused, auth failed, locked); the rest
    # is SQL and a link that a person does not need.
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
    return DatabaseUnavailableError(f"database {database.display_url}: {reason}")


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

    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = normalise_url(url)
        self.url: str = parsed.render_as_string(hide_password=False)
        self.dialect: Literal["sqlite", "postgresql"] = (
            "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
        )
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
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(
                    parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                )
            _install_sqlite_transaction_control(engine)
        else:
            engine = create_engine(parsed, echo=echo, pool_pre_ping=True)
        self.engine: Engine = engine
        self._write_engine: Engine = engine.execution_options(**{_WRITE_OPTION: True})
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="uhadmin-db")
        self._closed = False
        self._upgrade_lock = threading.Lock()

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
                from uhadmin.services.migrations import upgrade_to_head

                with self._write_engine.connect() as connection:
                    upgrade_to_head(connection)
        except OperationalError as exc:
            raise _unavailable(self, exc) from exc

    def _at_head(self) -> bool:
        head = shipped_head_revision()
        if head is None:
            return False
        try:
            with self.engine.connect() as connection:
                stored = connection.execute(
                    text("SELECT version_num FROM alembic_version")).scalars().all()
        except (OperationalError, ProgrammingError) as exc:
            if "alembic_version" in str(exc.orig):  # no such table yet: a new database
                return False
            raise
        return stored == [head]

    # --- sessions -----------------------------------------------------------------------
    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        Read sessions roll back at the end (they have nothing to commit) so a reader
        never holds a lock longer than its query.
        """
        bind = self._write_engine if write else self.engine
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

    async def run(self, fn: Callable[[Session], T], *, write: bool = False) -> T:
        """Run `fn(session)` in a worker thread inside `session(write=...)`.

        The event loop (the GUI) never waits on the database; if the awaiting task is
        cancelled the transaction still finishes in its thread, committed or rolled back
        as a whole.
        """
        if self._closed:
            raise RuntimeError("database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._run_sync, fn, write)
        )

    def _run_sync(self, fn: Callable[[Session], T], write: bool) -> T:
        try:
            with self.session(write=write) as session:
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
        if connection.get_execution_options().get(_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


@functools.cache
def shipped_head_revision() -> str | None:
    """The newest migration shipped, read from the migration files' `revision` and
    `down_revision` lines without importing Alembic; None when that is not a single clear
    head (then Alembic itself decides)."""
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
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
