"""The database layer on real SQLite and PostgreSQL: pragmas, write locking, search upkeep."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from uhadmin.domain import ListingQuery, ListingStatus, SyncState
from uhadmin.errors import ConfigError
from uhadmin.services.database import Database, DatabaseUnavailableError, normalise_url
from uhadmin.services.listings import ListingService
from uhadmin.services.migrations import current_revision, head_revision

pytestmark = pytest.mark.anyio


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_database):
    with sqlite_database.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


async def test_sqlite_syncs_every_write_to_disk_unless_told_it_may_be_lost(sqlite_database):
    def level(session) -> int:
        return session.execute(text("PRAGMA synchronous")).scalar()

    # FULL (2): each commit is synced; NORMAL (1): left to the next synced commit (WAL).
    assert await sqlite_database.run(level, write=True) == 2
    assert await sqlite_database.run(level, write=True, durable=False) == 1
    assert await sqlite_database.run(level, write=True) == 2  # per transaction, not sticky
    await sqlite_database.run(lambda s: s.execute(
        text("INSERT INTO app_settings(key, value) VALUES ('k', 'v')")), write=True,
        durable=False)
    assert await sqlite_database.run(
        lambda s: s.execute(text("SELECT value FROM app_settings")).scalar_one()) == "v"


def test_concurrent_read_modify_write_sessions_wait_instead_of_failing(sqlite_database):
    """The SQLite trap: deferred transactions that read first fail with "database is
    locked"; BEGIN IMMEDIATE makes each writer wait its turn, so no increment is lost."""
    db = sqlite_database
    with db.session(write=True) as session:
        session.execute(text("INSERT INTO app_settings(key, value) VALUES ('counter', '0')"))

    def increment(_: int) -> None:
        with db.session(write=True) as session:
            value = int(session.execute(
                text("SELECT value FROM app_settings WHERE key = 'counter'")).scalar_one())
            time.sleep(0.001)  # widen the window between the read and the write
            session.execute(text("UPDATE app_settings SET value = :v WHERE key = 'counter'"),
                            {"v": str(value + 1)})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(increment, range(80)))
    with db.session() as session:
        assert session.execute(
            text("SELECT value FROM app_settings WHERE key = 'counter'")).scalar_one() == "80"


def test_write_session_rolls_back_on_error(database):
    with pytest.raises(RuntimeError), database.session(write=True) as session:
        session.execute(text("INSERT INTO app_settings(key, value) VALUES ('a', 'b')"))
        raise RuntimeError("boom")
    with database.session() as session:
        assert session.execute(text("SELECT count(*) FROM app_settings")).scalar_one() == 0


async def test_run_works_in_a_worker_thread_and_keeps_the_loop_free(database):
    loop_thread = threading.get_ident()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    def slow(session) -> int:
        time.sleep(0.3)
        assert threading.get_ident() != loop_thread
        return session.execute(text("SELECT 41 + 1")).scalar_one()

    ticking = asyncio.create_task(ticker())
    assert await database.run(slow) == 42
    ticking.cancel()
    assert ticks >= 3  # the loop kept running while the query slept (blocked: 1 tick)


async def test_run_write_commits(database):
    await database.run(lambda s: s.execute(
        text("INSERT INTO app_settings(key, value) VALUES ('k', 'v')")), write=True)
    assert await database.run(
        lambda s: s.execute(text("SELECT value FROM app_settings")).scalar_one()) == "v"


def test_upgrade_is_idempotent_and_reaches_head(database):
    database.upgrade()
    database.upgrade()
    with database.engine.connect() as connection:
        assert current_revision(connection) == head_revision()


def test_upgrade_creates_a_fresh_sqlite_file_and_its_folder(tmp_path):
    path = tmp_path / "nested" / "folder" / "catalog.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.close()
    assert path.exists()


def _website_insert(db: Database, title: str, description: str = "") -> int:
    """What the marketplace website does: a plain INSERT of the catalog columns."""
    with db.session(write=True) as session:
        session.execute(text(
            "INSERT INTO listings (title, description, price_minor) VALUES (:t, :d, 1500)"),
            {"t": title, "d": description})
        return session.execute(text("SELECT max(id) FROM listings")).scalar_one()


async def test_rows_written_outside_uhadmin_get_defaults_and_are_searchable(database):
    service = ListingService(database, _Bus())
    listing_id = _website_insert(database, "Vintage typewriter", "Olivetti, works")
    listing = await service.get(listing_id)
    assert (listing.status, listing.version, listing.sync_state, listing.currency) == (
        ListingStatus.DRAFT, 1, SyncState.NOT_PUBLISHED, "usd")
    assert listing.created_at is not None and listing.image_urls == ()
    assert [x.id for x in (await service.search(ListingQuery(search="olive"))).items] == [
        listing_id]

    with database.session(write=True) as session:
        session.execute(text("UPDATE listings SET title = 'Electric kettle', "
                             "description = '' WHERE id = :id"), {"id": listing_id})
    assert (await service.search(ListingQuery(search="typewriter"))).total == 0
    assert (await service.search(ListingQuery(search="kettl"))).total == 1

    with database.session(write=True) as session:
        session.execute(text("DELETE FROM listings WHERE id = :id"), {"id": listing_id})
    assert (await service.search(ListingQuery(search="kettle"))).total == 0


def test_schema_refuses_an_unknown_status(database):
    with pytest.raises(IntegrityError), database.session(write=True) as session:
        session.execute(text(
            "INSERT INTO listings (title, price_minor, status) VALUES ('x', 100, 'sold')"))


def test_foreign_keys_are_enforced(database):
    with pytest.raises(IntegrityError), database.session(write=True) as session:
        session.execute(text(
            "INSERT INTO stripe_changes (listing_id, revision, created_at) "
            "VALUES (999, 1, CURRENT_TIMESTAMP)"))


def test_plain_postgresql_urls_use_psycopg_3():
    assert normalise_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "not a url"])
def test_unsupported_urls_are_a_config_error(url):
    with pytest.raises(ConfigError, match="database URL"):
        Database(url)


@pytest.mark.postgres
def test_unreachable_database_is_one_clear_error_without_the_password(postgres_server_url):
    from sqlalchemy.engine import make_url

    wrong = make_url(postgres_server_url).set(password="not-the-password-xyz")
    db = Database(wrong.render_as_string(hide_password=False))
    with pytest.raises(DatabaseUnavailableError) as caught:
        db.upgrade()
    db.close()
    assert "password authentication failed" in str(caught.value)
    assert "not-the-password-xyz" not in str(caught.value)


class _Bus:
    def publish(self, change) -> None:
        pass
