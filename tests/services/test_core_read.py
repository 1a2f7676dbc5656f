"""The Core-only read of `uhadmin listings list` returns exactly the page the listing service
returns, hostile rows included, and checks the schema revision as a service start does."""

from __future__ import annotations

import pytest
from hostile_rows import insert_hostile_rows
from sqlalchemy import text

from uhadmin.domain import ListingQuery, ListingStatus, SortKey, SyncState
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.core_read import read_listing_page
from uhadmin.services.database import Database, DatabaseUnavailableError, SchemaTooNewError
from uhadmin.services.listings import ListingService

pytestmark = pytest.mark.anyio

QUERIES = [
    ListingQuery(limit=50),
    ListingQuery(needs_fixing=True, limit=5, offset=2),
    ListingQuery(search="desk", limit=3),
    ListingQuery(search="lamp ", statuses=frozenset({ListingStatus.APPROVED})),
    ListingQuery(sync_states=frozenset({SyncState.NOT_PUBLISHED}), offset=4, limit=7),
    ListingQuery(statuses=frozenset({ListingStatus.DRAFT})),  # none match
    *(ListingQuery(sort=key, descending=descending, limit=1000)
      for key in SortKey for descending in (True, False)),
]


async def test_every_query_reads_the_same_page_as_the_service(database):
    insert_hostile_rows(database)
    service = ListingService(database, ChangeBus())
    for query in QUERIES:
        page = read_listing_page(database.url, query)
        assert page == await service.search(query), query
    broken = read_listing_page(database.url, ListingQuery(needs_fixing=True, limit=1000))
    assert broken is not None and broken.total >= 10
    assert all(listing.needs_fixing for listing in broken.items)


def test_a_catalog_without_the_newest_schema_is_left_to_the_services(tmp_path):
    missing = tmp_path / "folder" / "catalog.db"
    assert read_listing_page(f"sqlite:///{missing}", ListingQuery()) is None
    assert not missing.parent.exists()  # nothing created: the services decide about that
    empty = tmp_path / "empty.db"
    empty.touch()
    assert read_listing_page(f"sqlite:///{empty}", ListingQuery()) is None
    assert read_listing_page("sqlite://", ListingQuery()) is None


def test_an_older_schema_is_left_to_the_services_which_migrate_it(sqlite_database):
    with sqlite_database.session(write=True) as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    assert read_listing_page(sqlite_database.url, ListingQuery()) is None


def test_a_newer_schema_is_refused_with_the_services_error(sqlite_database):
    with sqlite_database.session(write=True) as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    with pytest.raises(SchemaTooNewError) as ours:
        read_listing_page(sqlite_database.url, ListingQuery())
    with pytest.raises(SchemaTooNewError) as services:
        Database(sqlite_database.url).upgrade()
    assert str(ours.value) == str(services.value)


def test_an_unreachable_database_gives_the_services_error():
    url = "postgresql://someone:secret-pw@127.0.0.1:1/nothing"
    with pytest.raises(DatabaseUnavailableError) as ours:
        read_listing_page(url, ListingQuery())
    unreachable = Database(url)
    try:
        with pytest.raises(DatabaseUnavailableError) as services:
            unreachable.upgrade()
    finally:
        unreachable.close()
    assert str(ours.value) == str(services.value)
    assert "secret-pw" not in str(ours.value)
