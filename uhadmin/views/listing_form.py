"""The listing form without its widgets: its choices, what its text means, what an edit changes."""

from __future__ import annotations

import re
from dataclasses import fields as dataclass_fields

from uhadmin.domain import Listing, ListingChanges, NewListing
from uhadmin.errors import FieldProblem, ValidationError
from uhadmin.money import parse_money
from uhadmin.validation import validate_new_listing

CURRENCIES = ("usd", "eur", "gbp", "cad", "aud", "jpy")
CATEGORIES = ("Textbooks", "Electronics", "Furniture", "Bikes", "Clothing", "Tickets",
              "Kitchen", "Sports", "Other")
CONDITIONS = ("New", "Like new", "Good", "Fair", "For parts")

# Validation field name -> the form row that shows its problem.
FIELD_ROWS = ("title", "price", "currency", "description", "images", "seller_contact",
              "category", "condition")


# ListingChanges' name for the fields whose problems carry another name.
_CHANGE_FIELD_OF_PROBLEM = {"price": "price_minor", "images": "image_urls"}


def row_name(field: str) -> str:
    """The form row of a problem's field: "images[1]" belongs to the "images" row."""
    return re.split(r"[\[.]", field, maxsplit=1)[0]


def read_form(*, title: str, price: str, currency: str, description: str, images: str,
              seller_contact: str, category: str, condition: str,
              ) -> tuple[NewListing, list[FieldProblem]]:
    """What the form's text says, as a NewListing, with every rule it breaks. `currency`
    is the lower-case code; `images` holds one address per line."""
    problems: list[FieldProblem] = []
    price_minor = 0
    try:
        price_minor = parse_money(price, currency)
    except ValidationError as exc:
        problems.extend(exc.problems)
    new = NewListing(
        title=title.strip(),
        price_minor=price_minor,
        currency=currency,
        description=description.strip(),
        image_urls=tuple(line.strip() for line in images.splitlines() if line.strip()),
        seller_contact=seller_contact.strip(),
        category=category.strip(),
        condition=condition.strip(),
    )
    try:
        validate_new_listing(new)
    except ValidationError as exc:
        price_known = any(p.field in ("price", "currency") for p in problems)
        problems.extend(p for p in exc.problems
                        if not (price_known and p.field in ("price", "currency")))
    return new, problems


def edit_changes(base: Listing, new: NewListing) -> ListingChanges:
    """The edit as a partial change: only the fields that differ from the base listing."""
    # A field stored badly is written again even when it reads the same (text stored as
    # bytes, say): saving the form is how a person fixes it.
    stored_badly = {_CHANGE_FIELD_OF_PROBLEM.get(row, row)
                    for row in map(row_name, (p.field for p in base.problems))}
    diff = {}
    for spec in dataclass_fields(ListingChanges):
        value = getattr(new, spec.name)
        if value != getattr(base, spec.name) or spec.name in stored_badly:
            diff[spec.name] = value
    return ListingChanges(**diff)
