"""The one way to reach the catalog database: short transactions in sessions, an async facade."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Literal, TypeVar

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

# The engine and schema-revision parts are Core-only modules of their own (a one-shot read
# uses them without this module's ORM and threads); callers may keep importing them here.
from uhadmin.services.engine import (
    LOCK_TIMEOUT_S,
    RELAXED_OPTION,
    SQLITE_BUSY_TIMEOUT_MS,
    STATEMENT_TIMEOUT_S,
    WRITE_OPTION,
    DatabaseBusyError,
    DatabaseUnavailableError,
    catalog_engine,
    driver_connection,
    is_memory_sqlite,
    normalise_url,
    unavailable_error,
)
from uhadmin.services.schema_revision import (
    SchemaTooNewError,
    newer_schema_error,
    shipped_head_revision,
    shipped_revisions,
    stored_revisions,
)

__all__ = [
    "LOCK_TIMEOUT_S", "SQLITE_BUSY_TIMEOUT_MS", "STATEMENT_TIMEOUT_S", "WORKER_THREADS",
    "Database", "DatabaseBusyError", "DatabaseUnavailableError", "SchemaTooNewError",
    "driver_connection", "normalise_url", "shipped_head_revision", "shipped_revisions",
]

T = TypeVar("T")

# Worker threads for `Database.run`: enough for a page load, a count and a sync batch to
# overlap; SQLite serialises writers anyway.
WORKER_THREADS = 4


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
        # An in-memory SQLite database is one shared connection, used by one thread at a
        # time (a single worker).
        workers = 1 if is_memory_sqlite(parsed) else WORKER_THREADS
        engine = catalog_engine(parsed, echo=echo, lock_timeout_s=lock_timeout_s,
                                statement_timeout_s=statement_timeout_s)
        self.engine: Engine = engine
        self._write_engine: Engine = engine.execution_options(**{WRITE_OPTION: True})
        self._relaxed_write_engine: Engine = engine.execution_options(
            **{WRITE_OPTION: True, RELAXED_OPTION: True})
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
            raise self._unavailable(exc) from exc

    def _at_head(self) -> bool:
        head = shipped_head_revision()
        if head is None:
            return False
        return self._stored_revisions() == [head]

    def _stored_revisions(self) -> list[str]:
        with self.engine.connect() as connection:
            return stored_revisions(connection)

    def _refuse_newer_schema(self) -> None:
        error = newer_schema_error(self._stored_revisions(), self.display_url)
        if error is not None:
            raise error

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
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: OperationalError) -> Exception:
        return unavailable_error(exc, display_url=self.display_url,
                                 lock_timeout_s=self.lock_timeout_s,
                                 statement_timeout_s=self.statement_timeout_s)

    def close(self) -> None:
        """Wait for running work, then release every connection."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        self.engine.dispose()


