"""The listing form's rules without widgets: reading its text and diffing an edit."""

from __future__ import annotations

from dataclasses import replace

from uhadmin.domain import Listing, ListingChanges
from uhadmin.errors import FieldProblem
from uhadmin.views.listing_form import edit_changes, read_form, row_name

FORM = dict(title="  Desk lamp ", price="12.50", currency="usd", description="",
            images="https://img.example/a.jpg\n\n  https://img.example/b.jpg  ",
            seller_contact="sam@uni.example", category="Furniture", condition="Good")


def test_read_form_strips_text_and_reads_the_price_in_minor_units() -> None:
    new, problems = read_form(**FORM)
    assert problems == []
    assert (new.title, new.price_minor, new.image_urls) == (
        "Desk lamp", 1250, ("https://img.example/a.jpg", "https://img.example/b.jpg"))


def test_read_form_names_the_price_once_when_it_is_no_number() -> None:
    _, problems = read_form(**{**FORM, "price": "twelve", "title": ""})
    assert sorted({p.field for p in problems}) == ["price", "title"]
    assert len([p for p in problems if p.field == "price"]) == 1


def test_an_edit_changes_only_what_differs_and_rewrites_what_was_stored_badly() -> None:
    new, _ = read_form(**FORM)
    base = Listing(id=7, title="Desk lamp", description="", price_minor=1000, currency="usd",
                   image_urls=new.image_urls, seller_contact="sam@uni.example",
                   category="Furniture", condition="Good")
    assert edit_changes(base, new) == ListingChanges(price_minor=1250)
    stored_badly = replace(base, price_minor=1250,
                           problems=(FieldProblem("images[1]", "not a URL"),))
    assert edit_changes(stored_badly, new) == ListingChanges(image_urls=new.image_urls)
    assert row_name("images[1]") == "images"
