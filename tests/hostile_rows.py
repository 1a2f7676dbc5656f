"""A corpus of hostile listing rows, written by plain SQL as the marketplace website might.

Each row's `category` names its case; `EXPECTED` says which fields the case must flag
(empty: the row is valid). Some cases only SQLite can hold (it stores any value in any
column); PostgreSQL refuses them at INSERT, so they are left out there.
"""

from __future__ import annotations

from sqlalchemy import text

from uhadmin.services.database import Database

# case -> (columns written, fields whose problems the case must show)
_BOTH: dict[str, tuple[dict[str, object], set[str]]] = {
    "good": ({"title": "Good bike", "price_minor": 5000, "currency": "usd",
              "image_urls": '["https://img.example/bike.jpg"]'}, set()),
    "currency-xyz": ({"title": "Lamp xyz", "price_minor": 900, "currency": "xyz"},
                     {"currency"}),
    "currency-us": ({"title": "Lamp us", "price_minor": 900, "currency": "us"}, {"currency"}),
    "currency-upper": ({"title": "Lamp USD", "price_minor": 900, "currency": "USD"},
                       {"currency"}),
    "images-object": ({"title": "Desk object", "price_minor": 900,
                       "image_urls": '{"url": 5}'}, {"images"}),
    "images-javascript": ({"title": "Desk js", "price_minor": 900,
                           "image_urls": '["javascript:alert(1)"]'}, {"images[1]"}),
    "images-mixed": ({"title": "Desk mixed", "price_minor": 900,
                      "image_urls": '[5, "ftp://files.example/a.png", "https://ok.example/b"]'},
                     {"images[1]", "images[2]"}),
    "images-too-many": ({"title": "Desk many", "price_minor": 900, "image_urls": str(
        [f"https://img.example/{n}.png" for n in range(9)]).replace("'", '"')}, {"images"}),
    "price-above-max": ({"title": "Car", "price_minor": 999_999_999_999}, {"price"}),
    "price-below-min": ({"title": "Pencil", "price_minor": 10}, {"price"}),
    "price-three-decimal": ({"title": "Dinar", "price_minor": 1005, "currency": "bhd"},
                            {"price"}),
    "title-blank": ({"title": "   ", "price_minor": 900}, {"title"}),
    "description-long": ({"title": "Essay", "price_minor": 900,
                          "description": "word " * 8001}, {"description"}),
}
_SQLITE_ONLY: dict[str, tuple[dict[str, object], set[str]]] = {
    "images-not-json": ({"title": "Chair not json", "price_minor": 900,
                         "image_urls": "not json"}, {"images"}),
    "images-number": ({"title": "Chair number", "price_minor": 900, "image_urls": "5"},
                      {"images"}),
    "price-text": ({"title": "Sofa text", "price_minor": "abc"}, {"price"}),
    "price-fraction": ({"title": "Sofa fraction", "price_minor": 12.5}, {"price"}),
    "title-long": ({"title": "T" * 5001, "price_minor": 900}, {"title"}),
    "title-nul": ({"title": "Nul\x00title", "price_minor": 900}, {"title"}),
    "title-blob": ({"title": b"\xff\xfeblob", "price_minor": 900}, {"title"}),
    "currency-long": ({"title": "Lamp long", "price_minor": 900, "currency": "usdollar"},
                      {"currency"}),
    "dates-garbage": ({"title": "Clock", "price_minor": 900, "created_at": "soon",
                       "updated_at": "yesterday-ish"}, set()),
}


def cases(dialect: str) -> dict[str, tuple[dict[str, object], set[str]]]:
    return {**_BOTH, **(_SQLITE_ONLY if dialect == "sqlite" else {})}


def expected(dialect: str) -> dict[str, set[str]]:
    return {case: fields for case, (_, fields) in cases(dialect).items()}


def insert_hostile_rows(db: Database, *, status: str = "approved") -> dict[str, int]:
    """Insert every case by plain SQL, as the website would; returns case -> listing id."""
    ids: dict[str, int] = {}
    with db.engine.begin() as connection:
        for case, (columns, _) in cases(db.dialect).items():
            values = {"status": status, "category": case, **columns}
            names = ", ".join(values)
            marks = ", ".join(f":{name}" for name in values)
            ids[case] = connection.execute(
                text(f"INSERT INTO listings ({names}) VALUES ({marks}) RETURNING id"),
                values).scalar_one()
    return ids
