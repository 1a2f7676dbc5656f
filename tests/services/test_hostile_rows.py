"""Rows the website wrote badly: every one becomes a Listing that says what to fix, on both
backends, and one bad row never stops the others from being read."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hostile_rows import expected, insert_hostile_rows
from sqlalchemy import select

from uhadmin.domain import Listing, ListingQuery, ListingStatus
from uhadmin.money import format_money
from uhadmin.services.fingerprint import desired_product
from uhadmin.services.listing_rows import LISTING_COLUMNS, row_problems, row_to_listing
from uhadmin.services.listing_table import LISTINGS
from uhadmin.validation import listing_problems

pytestmark = pytest.mark.anyio


def fields_of(listing: Listing) -> set[str]:
    return {problem.field for problem in listing.problems}


async def test_every_hostile_row_is_read_with_its_problems(database, listing_service):
    ids = insert_hostile_rows(database)
    page = await listing_service.search(ListingQuery(limit=1000))
    by_case = {listing.category: listing for listing in page.items}
    assert page.total == len(ids) and set(by_case) == set(ids)
    for case, fields in expected(database.dialect).items():
        listing = by_case[case]
        assert fields_of(listing) == fields, (case, listing.problems)
        assert listing.needs_fixing == bool(fields)
        assert (await listing_service.get(ids[case])) == listing
        format_money(listing.price_minor, listing.currency)  # paints, never raises
        desired_product(SimpleNamespace(**{**listing.__dict__, "status": "approved"}), "c")


async def test_raw_bad_values_stay_visible(database, listing_service):
    ids = insert_hostile_rows(database)
    shape = await listing_service.get(ids["images-object"])
    assert shape.image_urls == ('{"url": 5}',)
    assert 'the row holds \'{"url": 5}\'' in shape.problems[0].rule
    assert (await listing_service.get(ids["currency-us"])).currency == "us"
    price = await listing_service.get(ids["price-above-max"])
    assert price.price_minor == 999_999_999_999
    assert "at most" in price.problems[0].rule
    if database.dialect == "sqlite":
        raw = await listing_service.get(ids["images-not-json"])
        assert raw.image_urls == ("not json",)
        assert "must be a JSON list of URLs (the row holds 'not json')" in raw.problems[0].rule
        text_price = await listing_service.get(ids["price-text"])
        assert "(the row holds 'abc')" in text_price.problems[0].rule


async def test_fixing_the_field_in_an_edit_clears_the_state(database, listing_service):
    from uhadmin.domain import ListingChanges

    ids = insert_hostile_rows(database)
    bad = await listing_service.get(ids["currency-xyz"])
    fixed = await listing_service.update(bad.id, ListingChanges(currency="usd"),
                                         expected_version=bad.version, actor="staff")
    assert fixed.problems == () and not fixed.needs_fixing


async def test_the_syncs_check_of_a_row_says_what_the_listing_says(database):
    # A sync checks each row it claims with row_problems (no Listing built): the same
    # problems, in the same order, as the Listing every view shows.
    ids = insert_hostile_rows(database)
    with database.session() as session:
        rows = session.execute(select(*LISTING_COLUMNS).where(
            LISTINGS.c.id.in_(ids.values()))).all()
    assert len(rows) == len(ids)
    for row in rows:
        assert row_problems(row) == row_to_listing(row).problems, row.category
    assert row_problems(next(row for row in rows if row.category == "good")) == ()


def test_a_row_with_nulls_and_unknown_values_is_still_a_listing():
    row = SimpleNamespace(
        id=9, title=None, description=None, price_minor=None, currency=None, image_urls=None,
        seller_contact=None, category=None, condition=None, status="published", version=None,
        created_at=None, updated_at=None, created_by=None, updated_by=None,
        rejection_reason=None, stripe_product_id=None, stripe_price_id=None,
        sync_state="lost", sync_error=None, pushed_at=None)
    listing = row_to_listing(row)
    assert listing.status == ListingStatus.DRAFT and listing.title == ""
    fields = fields_of(listing)
    assert {"title", "description", "price", "currency", "images", "status",
            "sync_state", "seller_contact", "category", "condition"} <= fields
    assert any("'published' is not a listing status" in p.rule for p in listing.problems)
    assert row_problems(row) == listing.problems
    assert format_money(listing.price_minor, listing.currency)


def test_listing_problems_applies_the_edit_rules():
    good = Listing(id=1, title="Lamp", description="", price_minor=500, currency="usd",
                   image_urls=("https://img.example/a.png",))
    assert listing_problems(good) == ()
    bad = Listing(id=2, title="Lamp", description="", price_minor=-1, currency="jpy",
                  image_urls=("javascript:alert(1)", "/relative.png"))
    assert [(p.field, p.rule) for p in listing_problems(bad)] == [
        ("price", "must not be negative"),
        ("images[1]", "must be an absolute http:// or https:// URL"),
        ("images[2]", "must be an absolute http:// or https:// URL"),
    ]
    unknown = Listing(id=3, title="Lamp", description="", price_minor=100_000_000_000,
                      currency="xyz")
    assert {p.field for p in listing_problems(unknown)} == {"currency", "price"}


def test_format_money_and_plain_of_bad_rows_never_raise():
    assert "unknown currency" in format_money(900, "xyz")
    assert format_money(-5, "usd")
    assert format_money(999_999_999_999, "usd")


async def test_needs_fixing_filter_pages_in_the_database(database, listing_service):
    from sqlalchemy import func, select

    from uhadmin.domain import SortKey
    from uhadmin.services.needs_fixing import may_need_fixing
    from uhadmin.services.tables import ListingRow

    ids = insert_hostile_rows(database)
    bad = {ids[case] for case, fields in expected(database.dialect).items() if fields}
    await listing_service.create(_valid("Fine lamp"), actor="staff")
    seen: list[int] = []
    for offset in range(0, 40, 3):
        page = await listing_service.search(ListingQuery(
            needs_fixing=True, sort=SortKey.PRICE, descending=False, offset=offset, limit=3))
        assert page.total == len(bad)
        seen += [listing.id for listing in page.items]
    assert sorted(seen) == sorted(bad) and len(seen) == len(bad)
    # The database alone already narrows it to exactly the broken rows of this corpus.
    with database.session() as session:
        narrowed = session.execute(select(func.count()).select_from(ListingRow.__table__)
                                   .where(may_need_fixing(database.dialect))).scalar_one()
    assert narrowed == len(bad)
    searched = await listing_service.search(ListingQuery(needs_fixing=True, search="lamp"))
    assert {listing.category for listing in searched.items} == {
        "currency-xyz", "currency-us", "currency-upper"} | (
        {"currency-long"} if database.dialect == "sqlite" else set())


def _valid(title: str):
    from uhadmin.domain import NewListing

    return NewListing(title=title, price_minor=900, currency="usd",
                      image_urls=("https://img.example/a.png",))
