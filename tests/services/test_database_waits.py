"""Bounded waits on PostgreSQL (lock and statement timeouts become one clear line) and a
database from a newer uhadmin (one line, nothing changed), as a service call and a command."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from db_fixtures import _empty_postgres
from sqlalchemy import create_engine, text

from uhadmin.domain import ListingChanges, NewListing
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import (
    LOCK_TIMEOUT_S,
    Database,
    DatabaseBusyError,
    SchemaTooNewError,
)
from uhadmin.services.listings import ListingService

pytestmark = pytest.mark.anyio


def uhadmin(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from uhadmin.cli import main; main()", "--database-url", url,
         *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def pg_database(postgres_database_url):
    db = _empty_postgres(postgres_database_url)
    yield db
    db.close()


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_write_behind_a_row_lock_gives_up_naming_the_listing(pg_database):
    service = ListingService(pg_database, ChangeBus())
    listing = await service.create(NewListing(title="Desk", price_minor=900, currency="usd"),
                                   actor="staff")
    other = create_engine(pg_database.url)  # a second session: another admin, the website
    try:
        with other.connect() as holder:
            holder.execute(text("SELECT 1 FROM listings WHERE id = :id FOR UPDATE"),
                           {"id": listing.id})
            started = time.monotonic()
            with pytest.raises(DatabaseBusyError) as caught:
                await service.update(listing.id, ListingChanges(title="Oak desk"),
                                     expected_version=listing.version, actor="staff")
            waited = time.monotonic() - started
            assert str(caught.value) == (
                f"listing {listing.id} is locked by another session (waited 5 s); try again")
            assert LOCK_TIMEOUT_S - 0.5 < waited < LOCK_TIMEOUT_S + 10

            command = uhadmin(pg_database.url, "listings", "update", str(listing.id),
                              "--title", "Pine desk")
            assert command.returncode == 1
            assert command.stderr == (f"error: listing {listing.id} is locked by another "
                                      "session (waited 5 s); try again\n")
            holder.rollback()
    finally:
        other.dispose()
    # Nothing was half-written: the lock holder let go, and the listing is as it was.
    assert (await service.get(listing.id)).title == "Desk"


@pytest.mark.postgres
async def test_a_statement_over_the_time_limit_stops_with_one_line(postgres_database_url):
    db = Database(postgres_database_url, statement_timeout_s=1)
    try:
        with pytest.raises(DatabaseBusyError) as caught:
            await db.run(lambda session: session.execute(text("SELECT pg_sleep(5)")))
        assert "took longer than 1 s" in str(caught.value)
        assert "statement_timeout" in str(caught.value)
        with db.session() as session:
            assert session.execute(text("SHOW lock_timeout")).scalar_one() == "5s"
    finally:
        db.close()


@pytest.mark.slow
async def test_a_schema_from_a_newer_uhadmin_is_one_line_and_changes_nothing(database):
    service = ListingService(database, ChangeBus())
    await service.create(NewListing(title="Lamp", price_minor=900, currency="usd"),
                         actor="staff")
    with database.session(write=True) as session:
        before = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        session.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    try:
        with pytest.raises(SchemaTooNewError) as caught:
            Database(database.url).upgrade()
        message = str(caught.value)
        assert "upgraded by a newer uhadmin" in message and "0099_future" in message
        assert "upgrade uhadmin" in message
        for command in (["listings", "list"], ["db", "upgrade"]):
            result = uhadmin(database.url, *command)
            assert result.returncode == 1, result.stdout
            assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
            assert "newer uhadmin" in result.stderr and "0099_future" in result.stderr
        with database.session() as session:
            assert session.execute(
                text("SELECT version_num FROM alembic_version")).scalar_one() == "0099_future"
            assert session.execute(text("SELECT title FROM listings")).scalars().all() == [
                "Lamp"]
    finally:
        with database.session(write=True) as session:
            session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": before})
