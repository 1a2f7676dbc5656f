"""Many plain listings in one bulk insert (search index included), for tests of big filters."""

from __future__ import annotations

from datetime import UTC, datetime

from uhadmin.services.search import insert_listings_in_bulk


def seed(database, count: int, status: str, title: str = "Item") -> None:
    """`count` listings titled "<title> <n>" in `status`, as the website would write them."""
    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    with database.session(write=True) as session:
        insert_listings_in_bulk(session, (
            {"title": f"{title} {n}", "description": "", "price_minor": 1000 + n,
             "currency": "usd", "image_urls": [], "status": status, "version": 1,
             "created_at": stamp, "updated_at": stamp, "created_by": "seed",
             "updated_by": "seed", "sync_state": "not_published"}
            for n in range(count)))
