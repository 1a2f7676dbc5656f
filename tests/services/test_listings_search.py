"""Catalog search on both backends: keystroke full-text, filters, sort order, paging."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from uhadmin.domain import ListingQuery, ListingStatus, NewListing, SortKey, SyncState
from uhadmin.errors import ValidationError
from uhadmin.services import listing_queries as listings_module
from uhadmin.services import search as search_module
from uhadmin.services.search import (
    fts5_query,
    insert_listings_in_bulk,
    search_terms,
    tsquery_text,
)

pytestmark = pytest.mark.anyio

CATALOG = [
    # title, description, price, status
    ("Mountain bike", "Hardtail, 21 gears", 12500, ListingStatus.APPROVED),
    ("bike lock", "U-lock with two keys", 1500, ListingStatus.DRAFT),
    ("Desk lamp", "Warm light, fits a bike basket", 1500, ListingStatus.PENDING_REVIEW),
    ("Calculus textbook", "Stewart, 8th edition", 4000, ListingStatus.APPROVED),
    ("Apple keyboard", "Bluetooth", 2500, ListingStatus.DRAFT),
    ("armchair", "", 6000, ListingStatus.PENDING_REVIEW),
]


@pytest.fixture
async def catalog(listing_service) -> dict[str, int]:
    ids = {}
    for title, description, price, status in CATALOG:
        listing = await listing_service.create(
            NewListing(title=title, description=description, price_minor=price,
                       currency="usd", status=status), actor="seed")
        ids[title] = listing.id
    return ids


async def titles(service, **query) -> list[str]:
    page = await service.search(ListingQuery(**query))
    return [listing.title for listing in page.items]


async def test_a_keystroke_prefix_finds_whole_words_in_title_and_description(
        listing_service, catalog):
    found = await titles(listing_service, search="bik", sort=SortKey.ID, descending=False)
    assert found == ["Mountain bike", "bike lock", "Desk lamp"]  # lamp: "bike basket"
    assert await titles(listing_service, search="BIKE LO") == ["bike lock"]
    assert await titles(listing_service, search="stew") == ["Calculus textbook"]


async def test_a_finished_word_matches_whole_words_only(listing_service, catalog):
    assert await titles(listing_service, search="lam") == ["Desk lamp"]
    assert await titles(listing_service, search="lam ") == []


@pytest.mark.parametrize("nasty", ['"', "bike*", "bike AND", "NEAR(", "a:b", "x & | !",
                                   "'; DROP TABLE listings; --", "-bike", "(", "^", "😀"])
async def test_search_syntax_typed_by_a_person_never_breaks_the_query(
        listing_service, catalog, nasty):
    page = await listing_service.search(ListingQuery(search=nasty))
    assert page.total >= 0


async def test_filters_by_status_and_sync_state(listing_service, catalog):
    approved = await titles(listing_service, statuses=frozenset({ListingStatus.APPROVED}),
                            sort=SortKey.TITLE, descending=False)
    assert approved == ["Calculus textbook", "Mountain bike"]
    pending_sync = await titles(listing_service, sync_states=frozenset({SyncState.PENDING}),
                                search="bike")
    assert pending_sync == ["Mountain bike"]
    both = await listing_service.search(ListingQuery(
        statuses=frozenset({ListingStatus.DRAFT, ListingStatus.PENDING_REVIEW})))
    assert both.total == 4


async def test_sort_by_price_breaks_ties_by_id_in_both_directions(listing_service, catalog):
    ascending = await titles(listing_service, sort=SortKey.PRICE, descending=False)
    assert ascending == ["bike lock", "Desk lamp", "Apple keyboard", "Calculus textbook",
                         "armchair", "Mountain bike"]
    descending = await titles(listing_service, sort=SortKey.PRICE, descending=True)
    assert descending == ascending[::-1]


async def test_sort_by_title_ignores_case(listing_service, catalog):
    assert await titles(listing_service, sort=SortKey.TITLE, descending=False) == [
        "Apple keyboard", "armchair", "bike lock", "Calculus textbook", "Desk lamp",
        "Mountain bike"]


@pytest.mark.parametrize("key", list(SortKey))
@pytest.mark.slow
async def test_every_sort_key_pages_through_every_listing_exactly_once(
        listing_service, catalog, key):
    seen = []
    for offset in range(0, 6, 4):
        page = await listing_service.search(ListingQuery(sort=key, offset=offset, limit=4))
        assert page.total == 6 and page.offset == offset
        seen.extend(listing.id for listing in page.items)
    assert sorted(seen) == sorted(catalog.values())


async def test_paging_past_the_end_gives_no_items_but_the_total(listing_service, catalog):
    page = await listing_service.search(ListingQuery(search="bike", offset=10, limit=5))
    assert (page.items, page.total) == ((), 3)


async def test_negative_paging_is_refused(listing_service):
    with pytest.raises(ValidationError, match="offset"):
        await listing_service.search(ListingQuery(offset=-1))


async def test_website_rows_are_found_like_our_own(listing_service, database, catalog):
    with database.session(write=True) as session:
        session.execute(text("INSERT INTO listings (title, price_minor) "
                             "VALUES ('Bike pump', 900)"))
    assert "Bike pump" in await titles(listing_service, search="bike pu")


def test_search_terms_keep_words_only_and_know_when_a_word_is_finished():
    assert search_terms('  "Bike"  lo') == (["bike", "lo"], True)
    assert search_terms("bike ") == (["bike"], False)
    assert search_terms("*&|") == ([], False)
    assert fts5_query(["bike", "lo"], True) == '"bike" "lo"*'
    assert tsquery_text(["bike", "lo"], True) == "bike & lo:*"


async def test_bulk_insert_rows_are_searchable_and_later_inserts_still_indexed(
        listing_service, database):
    stamp = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    rows = [{"title": f"Bulk kettle {n}", "description": "steel", "price_minor": 100 + n,
             "image_urls": ["https://img.example/k.jpg"], "status": "approved",
             "created_at": stamp, "updated_at": stamp, "sync_state": "pending"}
            for n in range(30)]
    schema_before = _schema(database)
    with database.session(write=True) as session:
        assert insert_listings_in_bulk(session, rows) == 30
        assert insert_listings_in_bulk(session, []) == 0
    assert _schema(database) == schema_before  # indexes and triggers all back
    page = await listing_service.search(ListingQuery(search="kett", sort=SortKey.PRICE,
                                                     descending=False, limit=5))
    assert page.total == 30
    first = page.items[0]
    assert (first.title, first.price_minor, first.created_at, first.version) == (
        "Bulk kettle 0", 100, stamp, 1)
    assert first.image_urls == ("https://img.example/k.jpg",)
    # The per-row index upkeep is back in place for everyone else's writes.
    await listing_service.create(NewListing(title="Kettle descaler", price_minor=500,
                                            currency="usd"), actor="ana")
    assert (await listing_service.search(ListingQuery(search="descal"))).total == 1


def test_bulk_insert_refuses_unknown_columns(database):
    with pytest.raises(ValueError, match="not listings columns: colour"), \
            database.session(write=True) as session:
        insert_listings_in_bulk(session, [{"title": "x", "price_minor": 100, "colour": "red"}])


@pytest.mark.parametrize("descending", [False, True])
async def test_every_page_plan_gives_the_same_page(listing_service, database, monkeypatch,
                                                    descending):
    """Walk the sort index, drive from the matches, or hand over ids: same rows, same order."""
    rows = [{"title": f"Lamp {n:03d}", "price_minor": 1000 + (n * 7919) % 50}
            for n in range(300)]
    with database.session(write=True) as session:
        insert_listings_in_bulk(session, rows)
    query = ListingQuery(search="lamp", sort=SortKey.PRICE, descending=descending, limit=40,
                         offset=100)
    pages = []
    for walk_above, few in ((0, 0), (10_000, 0), (10_000, 10_000)):
        monkeypatch.setattr(search_module, "WALK_SORT_INDEX_ABOVE", walk_above)
        monkeypatch.setattr(listings_module, "FEW_MATCHES", few)
        pages.append(await listing_service.search(query))
    assert all(page.total == 300 for page in pages)
    assert [x.id for x in pages[0].items] == [x.id for x in pages[1].items] == [
        x.id for x in pages[2].items]
    keys = [(x.price_minor, x.id) for x in pages[0].items]
    assert keys == sorted(keys, reverse=descending) and len(keys) == 40


def _schema(database) -> list[tuple]:
    query = ("SELECT type, name, sql FROM sqlite_master ORDER BY name" if database.dialect ==
             "sqlite" else
             "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
             "ORDER BY indexname")
    with database.session() as session:
        return [tuple(row) for row in session.execute(text(query))]
