"""The "needs fixing" filter in SQL: a condition every listing that breaks a rule meets
(and few valid ones do), so the filter counts and pages in the database; the exact rules
(validation.listing_problems) then drop the few valid listings it let through."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause

from uhadmin.domain.listing import ListingStatus, SyncState
from uhadmin.money import (
    MAXIMUM_AMOUNT_MINOR,
    MINIMUM_CHARGE_MINOR,
    STRIPE_CURRENCIES,
    THREE_DECIMAL_CURRENCIES,
)
from uhadmin.validation import (
    MAX_CATEGORY_CHARS,
    MAX_CONDITION_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_IMAGE_URL_CHARS,
    MAX_IMAGES,
    MAX_SELLER_CONTACT_CHARS,
    MAX_TITLE_CHARS,
)

_TEXT_LIMITS = {
    "title": MAX_TITLE_CHARS, "description": MAX_DESCRIPTION_CHARS,
    "seller_contact": MAX_SELLER_CONTACT_CHARS, "category": MAX_CATEGORY_CHARS,
    "condition": MAX_CONDITION_CHARS,
}


def _in(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in sorted(values))  # constants of ours, not input


def _minimum() -> str:
    cases = " ".join(f"WHEN '{code}' THEN {minimum}"
                     for code, minimum in sorted(MINIMUM_CHARGE_MINOR.items()))
    cases += "".join(f" WHEN '{code}' THEN 10" for code in sorted(THREE_DECIMAL_CURRENCIES)
                     if code not in MINIMUM_CHARGE_MINOR)
    return f"(CASE listings.currency {cases} ELSE 1 END)"


def _url_may_be_bad(value: str, dialect: str) -> str:
    """A URL that is not plainly http(s)://host[/printable ASCII]. Whatever passes here,
    urlsplit reads as an absolute http(s) URL with a host: no userinfo, brackets or port
    (no ':' after the scheme), no space or control or non-ASCII character."""
    if dialect == "sqlite":
        shape = (f"NOT ({value} GLOB 'http://[A-Za-z0-9]*' OR {value} GLOB "
                 f"'https://[A-Za-z0-9]*') OR {value} GLOB '*[^!-~]*'")
        find = "instr"
    else:
        shape = f"{value} !~ '^https?://[A-Za-z0-9][!-~]*$'"
        find = "strpos"
    odd = " OR ".join(f"{find}({value}, '{char}') > 0" for char in ("@", "[", "]", "\\"))
    return (f"length({value}) > {MAX_IMAGE_URL_CHARS} OR {shape} OR {odd} "
            f"OR {find}(substr({value}, 9), ':') > 0")


def _images_may_be_bad(dialect: str) -> str:
    column = "listings.image_urls"
    if dialect == "sqlite":
        # CASE, not OR: SQLite's JSON functions raise on text that is not JSON.
        element = _url_may_be_bad("element.value", dialect)
        return (f"(CASE WHEN json_valid({column}) THEN (json_type({column}) <> 'array' "
                f"OR json_array_length({column}) > {MAX_IMAGES} OR EXISTS (SELECT 1 FROM "
                f"json_each({column}) AS element WHERE element.type <> 'text' OR {element})) "
                "ELSE 1 END)")
    element = _url_may_be_bad("(element #>> '{}')", dialect)
    return (f"(CASE WHEN json_typeof({column}) = 'array' THEN (json_array_length({column}) "
            f"> {MAX_IMAGES} OR EXISTS (SELECT 1 FROM json_array_elements({column}) AS "
            f"element WHERE json_typeof(element) <> 'string' OR {element})) ELSE true END)")


def _text_may_be_bad(name: str, limit: int, dialect: str) -> str:
    column = f"listings.{name}"
    if dialect == "sqlite":
        # SQLite stores anything in a text column; length() stops at a NUL, instr on bytes not.
        return (f"typeof({column}) <> 'text' OR length({column}) > {limit} "
                f"OR instr(CAST({column} AS BLOB), x'00') > 0")
    return f"length({column}) > {limit}"


def may_need_fixing(dialect: Literal["sqlite", "postgresql"]) -> TextClause:
    """A WHERE condition true for every listing that breaks a rule (a superset)."""
    price_type = ("typeof(listings.price_minor) <> 'integer'" if dialect == "sqlite"
                  else "false")
    no_letter = ("listings.title NOT GLOB '*[A-Za-z0-9]*'" if dialect == "sqlite"
                 else "listings.title !~ '[A-Za-z0-9]'")
    parts = [
        f"listings.currency NOT IN ({_in(STRIPE_CURRENCIES)})",
        price_type,
        f"listings.price_minor < {_minimum()}",
        f"listings.price_minor > {MAXIMUM_AMOUNT_MINOR}",
        f"(listings.currency IN ({_in(THREE_DECIMAL_CURRENCIES)}) "
        "AND listings.price_minor % 10 <> 0)",
        no_letter,
        *(_text_may_be_bad(name, limit, dialect) for name, limit in _TEXT_LIMITS.items()),
        f"listings.status NOT IN ({_in(s.value for s in ListingStatus)})",
        f"listings.sync_state NOT IN ({_in(s.value for s in SyncState)})",
        _images_may_be_bad(dialect),
    ]
    return text("(" + " OR ".join(f"({part})" for part in parts) + ")")
