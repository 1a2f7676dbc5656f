"""Listing rows as untrusted input: whatever the website wrote becomes a Listing, never an
exception, with every broken rule in `Listing.problems` and the raw bad value kept visible."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import type_coerce
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from uhadmin.domain.listing import Listing, ListingStatus, SyncState
from uhadmin.errors import FieldProblem
from uhadmin.services.listing_table import LISTINGS
from uhadmin.validation import field_problems

# Columns whose SQLAlchemy type would parse the stored value on fetch and raise on a bad
# one (SQLite stores any text in a JSON or DATETIME column: `image_urls = 'not json'`,
# `created_at = 'soon'`); they are fetched as the driver returns them and parsed here.
_PARSED_HERE = frozenset({"image_urls", "created_at", "updated_at", "pushed_at"})


def raw_column(name: str) -> ColumnElement[Any]:
    """A listings column, fetched without SQLAlchemy's result processing when that could raise."""
    column = LISTINGS.c[name]
    if name in _PARSED_HERE:
        return type_coerce(column, NullType()).label(name)
    return column


# Every listings column, safe to fetch whatever a row holds (the PostgreSQL search_vector
# is not one of them).
LISTING_COLUMNS: tuple[ColumnElement[Any], ...] = tuple(raw_column(c.name) for c in LISTINGS.c)


def _shown(value: object, limit: int = 80) -> str:
    """A stored value as a person can read it in a rule: NULL, or its repr cut short."""
    if value is None:
        return "NULL"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _text(value: object) -> tuple[str, bool]:
    """(the value as text, whether it already was text)."""
    if isinstance(value, str):
        return value, True
    if value is None:
        return "", False
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace"), False
    return str(value), False


def parse_images(value: object) -> tuple[tuple[str, ...], FieldProblem | None]:
    """The image URLs a stored `image_urls` value holds, and the problem if it is not a JSON
    list of text. A value of the wrong shape is kept as one entry of its raw text, so the
    person fixing it sees what is there."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", errors="replace")
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return (value,), FieldProblem(
                "images", f"must be a JSON list of URLs (the row holds {_shown(value)})")
    if isinstance(parsed, list):
        # Non-text entries become their JSON text; the URL rule then names them.
        return tuple(item if isinstance(item, str) else json.dumps(item) for item in parsed), None
    raw = value if isinstance(value, str) else json.dumps(parsed)
    return (raw,), FieldProblem(
        "images", f"must be a JSON list of URLs (the row holds {_shown(raw)})")


def parse_price(value: object) -> tuple[int, FieldProblem | None]:
    """Minor units as an int (0 when the row holds something else, with the problem)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, None
    return 0, FieldProblem(
        "price", f"must be a whole number of minor units (the row holds {_shown(value)})")


def parse_time(value: object) -> datetime | None:
    """A stored moment in UTC: SQLite hands back text (naive = UTC), PostgreSQL datetimes;
    anything unreadable is None rather than an error."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def stored_time(value: object, field: str) -> datetime:
    """A moment uhadmin wrote itself into a NOT NULL DateTime column (an audit entry, a
    checkout attempt, an offline operation), read back through SQLAlchemy's DateTime type."""
    moment = parse_time(value)
    if moment is None:
        raise ValueError(f"{field}: the stored time {value!r} is not a date and time")
    return moment


def _enum(kind: Any, value: object, default: Any, field: str) -> tuple[Any, FieldProblem | None]:
    try:
        return kind(value), None
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        return default, FieldProblem(
            field, f"{_shown(value)} is not a listing {field.replace('_', ' ')} "
                   f"(one of {allowed})")


def _int_or(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _field_root(field: str) -> str:
    return field.split("[", 1)[0]


# The text columns the rules check, in the order their problems are reported.
_CHECKED_TEXT = ("title", "description", "currency", "seller_contact", "category",
                 "condition")


def _read_checked(row: Any) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The fields the rules look at, as a Listing holds them, and what could not be read."""
    images, image_problem = parse_images(row.image_urls)
    price, price_problem = parse_price(row.price_minor)
    status, status_problem = _enum(ListingStatus, row.status, ListingStatus.DRAFT, "status")
    sync_state, sync_problem = _enum(SyncState, row.sync_state, SyncState.FAILED, "sync_state")
    problems = [p for p in (image_problem, price_problem, status_problem, sync_problem)
                if p is not None]
    values: dict[str, Any] = {"image_urls": images, "price_minor": price, "status": status,
                              "sync_state": sync_state}
    for name in _CHECKED_TEXT:
        raw = getattr(row, name)
        value, was_text = _text(raw)
        if not was_text:
            problems.append(FieldProblem(name, f"must be text (the row holds {_shown(raw)})"))
        values[name] = value
    return values, problems


def _problems(values: dict[str, Any], read_problems: list[FieldProblem],
              ) -> tuple[FieldProblem, ...]:
    # What could not even be read is the most specific problem of its field; the rules on
    # the stand-in value (a price of 0, a title "") would only repeat it less clearly.
    unreadable = {_field_root(p.field) for p in read_problems}
    rules = field_problems(values["title"], values["description"], values["currency"],
                           values["price_minor"], values["image_urls"],
                           values["seller_contact"], values["category"], values["condition"],
                           values["status"])
    return tuple(read_problems) + tuple(p for p in rules if _field_root(p.field) not in unreadable)


def row_problems(row: Any) -> tuple[FieldProblem, ...]:
    """`row_to_listing(row).problems` without building the Listing (a sync checks every
    row it claims: the whole Listing cost ~4 % of its CPU per listing)."""
    return _problems(*_read_checked(row))


def row_to_listing(row: Any) -> Listing:
    """A Listing from a listings row (any object with the columns as attributes), for any
    content: rules it breaks are in `problems`, and the listing needs fixing."""
    values, read_problems = _read_checked(row)
    return Listing(
        id=row.id,
        **values,
        # A version that is no number matches no saved version, so an edit over it is a
        # conflict rather than an overwrite.
        version=_int_or(row.version, 0),
        created_at=parse_time(row.created_at),
        updated_at=parse_time(row.updated_at),
        created_by=_text(row.created_by)[0],
        updated_by=_text(row.updated_by)[0],
        rejection_reason=_text(row.rejection_reason)[0],
        stripe_product_id=row.stripe_product_id if isinstance(row.stripe_product_id, str)
        else None,
        stripe_price_id=row.stripe_price_id if isinstance(row.stripe_price_id, str) else None,
        sync_error=_text(row.sync_error)[0],
        last_synced_at=parse_time(row.pushed_at),
        problems=_problems(values, read_problems),
    )
