"""Listing and metadata validation: every Stripe and column limit, all problems at once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import String

from uhadmin.domain import Listing, ListingChanges, ListingStatus, NewListing
from uhadmin.errors import FieldProblem, ValidationError
from uhadmin.services.tables import ListingRow
from uhadmin.validation import (
    MAX_CATEGORY_CHARS,
    MAX_CONDITION_CHARS,
    MAX_SELLER_CONTACT_CHARS,
    MAX_TITLE_CHARS,
    validate_listing_changes,
    validate_metadata,
    validate_new_listing,
)

GOOD = NewListing(
    title="Calculus textbook, 8th edition",
    price_minor=1250,
    currency="usd",
    description="Lightly used.",
    image_urls=("https://img.example.edu/a.png", "http://127.0.0.1:8080/b.jpg"),
    seller_contact="student@example.edu",
    category="books",
    condition="good",
    status=ListingStatus.DRAFT,
)

STORED = Listing(id=7, title="Lamp", description="", price_minor=50_00, currency="usd")


def problems_of(call, *args, **kwargs) -> list[FieldProblem]:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    assert str(caught.value) == "; ".join(str(p) for p in caught.value.problems)
    return caught.value.problems


def fields_of(problems: list[FieldProblem]) -> list[str]:
    return [problem.field for problem in problems]


# --- new listings ------------------------------------------------------------------------------

def test_a_good_listing_passes() -> None:
    validate_new_listing(GOOD)
    validate_new_listing(replace(GOOD, title="x" * 5000, description="d" * 40000,
                                 image_urls=("https://a.example/" + "p" * 2000,) * 8,
                                 seller_contact="c" * 320, category="c" * 100,
                                 condition="c" * 50, price_minor=500, currency="jpy"))


def test_all_problems_are_reported_at_once() -> None:
    bad = NewListing(title="  ", price_minor=10, currency="usd", description="d" * 40001,
                     image_urls=("ftp://a.example/x.png",) * 9, seller_contact="c" * 321,
                     category="c" * 101, condition="c" * 51, status="approved")  # type: ignore[arg-type]
    problems = problems_of(validate_new_listing, bad)
    assert fields_of(problems) == [
        "title", "description", "price", "images", *[f"images[{n}]" for n in range(1, 10)],
        "seller_contact", "category", "condition", "status",
    ]
    by_field = {p.field: p.rule for p in problems}
    assert by_field["title"] == "required (must not be blank)"
    assert by_field["description"] == "at most 40,000 characters (has 40,001)"
    assert by_field["price"] == "at least $0.50 (Stripe's minimum charge for USD)"
    assert by_field["images"] == "at most 8 (Stripe's limit, has 9)"
    assert by_field["images[1]"] == "must be an absolute http:// or https:// URL"
    assert by_field["seller_contact"] == "at most 320 characters (has 321)"
    assert by_field["condition"] == "at most 50 characters (has 51)"
    assert by_field["status"].startswith("'approved' is not a listing status (one of draft,")


def test_title_limits() -> None:
    assert problems_of(validate_new_listing, replace(GOOD, title="")) == [
        FieldProblem("title", "required (must not be blank)")]
    assert problems_of(validate_new_listing, replace(GOOD, title="\n\t ")) == [
        FieldProblem("title", "required (must not be blank)")]
    assert problems_of(validate_new_listing, replace(GOOD, title="x" * 5001)) == [
        FieldProblem("title", "at most 5,000 characters (has 5,001)")]
    assert problems_of(validate_new_listing, replace(GOOD, title="a\x00b")) == [
        FieldProblem("title", "must not contain NUL characters")]
    assert problems_of(validate_new_listing, replace(GOOD, title=None)) == [  # type: ignore[arg-type]
        FieldProblem("title", "must be text")]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://a.example/x.png",
        "a.example/x.png",
        "/relative/x.png",
        "https://",
        "https:///nohost.png",
        "https://a.example/x y.png",
        " https://a.example/x.png",
        "https://a.example:port/x.png",
        "javascript:alert(1)",
        "",
    ],
)
def test_image_urls_must_be_absolute_http(url: str) -> None:
    assert problems_of(validate_new_listing, replace(GOOD, image_urls=(url,))) == [
        FieldProblem("images[1]", "must be an absolute http:// or https:// URL")]


def test_image_url_length_and_shape() -> None:
    long_url = "https://a.example/" + "p" * (2049 - len("https://a.example/"))
    assert problems_of(validate_new_listing, replace(GOOD, image_urls=(long_url,))) == [
        FieldProblem("images[1]", "at most 2048 characters")]
    assert problems_of(validate_new_listing, replace(GOOD, image_urls="https://a.example/x")) == [  # type: ignore[arg-type]
        FieldProblem("images", "must be a list of URLs")]
    assert problems_of(validate_new_listing, replace(GOOD, image_urls=(3,))) == [  # type: ignore[arg-type]
        FieldProblem("images[1]", "must be text")]


def test_currency_and_price() -> None:
    assert problems_of(validate_new_listing, replace(GOOD, currency="USD")) == [
        FieldProblem("currency", "must be lower-case: 'usd'")]
    # An unknown currency hides the price check that would depend on it.
    assert problems_of(validate_new_listing, replace(GOOD, currency="xyz", price_minor=1)) == [
        FieldProblem("currency",
                     "'xyz' is not a currency Stripe accepts (a lower-case code like usd)")]
    assert fields_of(problems_of(validate_new_listing, replace(GOOD, price_minor=-5))) == ["price"]
    assert problems_of(validate_new_listing, replace(GOOD, price_minor=100_000_000)) == [
        FieldProblem("price", "at most $999,999.99 (Stripe's maximum: 8 digits in minor units)")]
    (bhd_problem,) = problems_of(validate_new_listing,
                                 replace(GOOD, price_minor=1005, currency="bhd"))
    assert bhd_problem.rule.startswith("the last of the 3 decimals must be 0 for BHD")
    assert problems_of(validate_new_listing, replace(GOOD, price_minor=12.5)) == [  # type: ignore[arg-type]
        FieldProblem("price", "must be a whole number of minor units")]
    validate_new_listing(replace(GOOD, price_minor=30, currency="gbp"))


def test_every_status_is_accepted() -> None:
    for status in ListingStatus:
        validate_new_listing(replace(GOOD, status=status))


def test_column_limits_match_the_table() -> None:
    """The limits repeated in validation must stay equal to the real column widths."""
    def width(column: str) -> int:
        column_type = ListingRow.__table__.c[column].type
        assert isinstance(column_type, String)
        return column_type.length

    assert width("title") == MAX_TITLE_CHARS
    assert width("seller_contact") == MAX_SELLER_CONTACT_CHARS
    assert width("category") == MAX_CATEGORY_CHARS
    assert width("condition") == MAX_CONDITION_CHARS


# --- changes -----------------------------------------------------------------------------------

def test_empty_changes_pass() -> None:
    validate_listing_changes(ListingChanges())


def test_changes_check_only_what_changes_and_report_all() -> None:
    validate_listing_changes(ListingChanges(title="New title", description=""))
    problems = problems_of(validate_listing_changes, ListingChanges(
        title=" ", description="d" * 40001, image_urls=("nope",), seller_contact="c" * 321,
        category="c" * 101, condition="c" * 51))
    assert fields_of(problems) == ["title", "description", "images[1]", "seller_contact",
                                   "category", "condition"]


def test_changed_price_uses_new_or_current_currency() -> None:
    validate_listing_changes(ListingChanges(price_minor=50, currency="jpy"))
    assert problems_of(validate_listing_changes,
                       ListingChanges(price_minor=49, currency="jpy")) == [
        FieldProblem("price", "at least ¥50 (Stripe's minimum charge for JPY)")]
    assert problems_of(validate_listing_changes, ListingChanges(price_minor=40),
                       current=STORED) == [
        FieldProblem("price", "at least $0.50 (Stripe's minimum charge for USD)")]
    validate_listing_changes(ListingChanges(price_minor=30),
                             current=replace(STORED, currency="gbp"))


def test_currency_change_rechecks_the_stored_price() -> None:
    cheap = replace(STORED, price_minor=40, currency="php")
    assert problems_of(validate_listing_changes, ListingChanges(currency="jpy"), current=cheap) == [
        FieldProblem("price", "at least ¥50 (Stripe's minimum charge for JPY)")]
    assert problems_of(validate_listing_changes, ListingChanges(currency="EUR")) == [
        FieldProblem("currency", "must be lower-case: 'eur'")]


def test_price_without_any_currency_gets_the_currency_free_rules() -> None:
    validate_listing_changes(ListingChanges(price_minor=1))
    assert problems_of(validate_listing_changes, ListingChanges(price_minor=-1)) == [
        FieldProblem("price", "must not be negative")]
    assert problems_of(validate_listing_changes, ListingChanges(price_minor=10**8)) == [
        FieldProblem("price", "at most 8 digits in minor units (Stripe's maximum)")]


# --- metadata ----------------------------------------------------------------------------------

def test_metadata_within_limits_passes() -> None:
    validate_metadata({})
    validate_metadata({f"key{n}": "v" * 500 for n in range(50)})
    validate_metadata({"k" * 40: ""})


def test_metadata_limits_all_at_once() -> None:
    metadata = {f"key{n}": "v" for n in range(49)}
    metadata.update({"bad[key]": "x", "k" * 41: "x", "long": "v" * 501, "number": 5})  # type: ignore[dict-item]
    problems = problems_of(validate_metadata, metadata, field="listing metadata")
    rules = [str(p) for p in problems]
    assert rules[0] == "listing metadata: at most 50 keys (Stripe's limit, has 53)"
    assert "listing metadata['bad[key]']: key must not contain [ or ]" in rules
    assert f"listing metadata['{'k' * 40}']: key at most 40 characters (has 41)" in rules
    assert "listing metadata['long']: value at most 500 characters (has 501)" in rules
    assert ("listing metadata['number']: value must be text "
            "(Stripe metadata holds strings only), not int") in rules
    assert len(problems) == 5


def test_metadata_odd_keys() -> None:
    assert problems_of(validate_metadata, {"": "x"}) == [
        FieldProblem("metadata", "keys must not be empty")]
    assert problems_of(validate_metadata, {1: "x"}) == [  # type: ignore[dict-item]
        FieldProblem("metadata", "key 1 must be text")]
    assert problems_of(validate_metadata, [("a", "b")]) == [  # type: ignore[arg-type]
        FieldProblem("metadata", "must be a mapping of text keys to text values")]
    assert problems_of(validate_metadata, {"a": None}) == [  # type: ignore[dict-item]
        FieldProblem("metadata['a']",
                     "value must be text (Stripe metadata holds strings only), not NoneType")]
