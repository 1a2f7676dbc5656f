"""The replica: incremental refresh (website writes and deletes included), per-catalog files,
and the bounded image cache fed from a loopback HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text

from uhadmin.domain import ListingChanges, ListingQuery, ListingStatus, NewListing
from uhadmin.services.offline.refresh import refresh
from uhadmin.services.offline.schema import catalog_label, replica_path
from uhadmin.services.offline.service import OfflineService, open_replica

pytestmark = pytest.mark.anyio

IMAGE = b"\x89PNG\r\n\x1a\n" + b"x" * 1000  # 1,008 bytes


@pytest.fixture
def image_server() -> Iterator[tuple[str, list[str]]]:
    """Serves IMAGE at any path on 127.0.0.1 (404 for /missing); records the paths asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            asked.append(self.path)
            if self.path == "/missing":
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(IMAGE)))
            self.end_headers()
            self.wfile.write(IMAGE)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()
    server.server_close()


async def test_refresh_copies_only_what_changed_including_website_writes(
        database, listing_service, change_bus, tmp_path: Path) -> None:
    kept = await listing_service.create(NewListing(title="Lamp", price_minor=1000,
                                                   currency="usd"), actor="web")
    edited = await listing_service.create(NewListing(title="Desk", price_minor=2000,
                                                     currency="usd"), actor="web")
    gone = await listing_service.create(NewListing(title="Chair", price_minor=3000,
                                                   currency="usd"), actor="web")
    offline = OfflineService(open_replica(tmp_path, database.url), change_bus,
                             catalog=database, listings=listing_service)
    first = await offline.refresh()
    assert (first.changed, first.deleted, first.total, first.full) == (3, 0, 3, True)
    assert (await offline.refresh()).changed == 0  # nothing changed: nothing copied

    await listing_service.update(edited.id, ListingChanges(title="Oak desk"),
                                 expected_version=edited.version, actor="ana")
    with database.session(write=True) as session:
        # The website: an insert, an update that forgets the version, a delete.
        session.execute(text("INSERT INTO listings (title, price_minor, status) "
                             "VALUES ('Rug', 500, 'pending_review')"))
        session.execute(text("UPDATE listings SET status = 'pending_review' WHERE id = :id"),
                        {"id": kept.id})
        session.execute(text("DELETE FROM listings WHERE id = :id"), {"id": gone.id})
    second = await offline.refresh()
    assert (second.changed, second.deleted, second.total, second.full) == (3, 1, 3, False)
    copy = offline.replica
    assert (await copy.get(edited.id)).title == "Oak desk"
    assert (await copy.get(kept.id)).status is ListingStatus.PENDING_REVIEW
    assert (await copy.count_by_status())[ListingStatus.PENDING_REVIEW] == 2
    assert [entry.action for entry in await copy.history(edited.id)] == ["update", "create"]
    page = await copy.search(ListingQuery(search="rug"))
    assert [listing.title for listing in page.items] == ["Rug"]

    # After a push only the listings it touched are compared; the copy keeps its time.
    when = await copy.refreshed_at()
    await listing_service.update(edited.id, ListingChanges(title="Desk, oak"),
                                 expected_version=edited.version + 1, actor="ana")
    partial = await refresh(database, copy, only={edited.id})
    assert (partial.changed, partial.total) == (1, 1)
    assert (await copy.get(edited.id)).title == "Desk, oak"
    assert await copy.refreshed_at() == when
    offline.close()


async def test_a_refresh_goes_over_in_chunks_and_copies_everything(
        database, listing_service, change_bus, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows and history are read and written a chunk at a time (a first copy of 100,000
    listings never holds them all at once); every row and entry still arrives once."""
    import uhadmin.services.offline.refresh as refresh_module

    monkeypatch.setattr(refresh_module, "CHUNK", 3)
    made = [await listing_service.create(NewListing(title=f"Lamp {n}", price_minor=100 + n,
                                                    currency="usd"), actor="web")
            for n in range(8)]
    for listing in made[:5]:
        await listing_service.update(listing.id, ListingChanges(title=f"Oak {listing.id}"),
                                     expected_version=listing.version, actor="ana")
    offline = OfflineService(open_replica(tmp_path, database.url), change_bus,
                             catalog=database, listings=listing_service)
    first = await offline.refresh()
    assert (first.changed, first.total, first.history, first.full) == (8, 8, 13, True)
    again = await offline.refresh()  # the overlap re-reads history: nothing copied twice
    assert (again.changed, again.history) == (0, 0)
    copy = offline.replica
    for listing in made:
        copied = await copy.get(listing.id)
        expected = f"Oak {listing.id}" if listing in made[:5] else listing.title
        assert copied.title == expected
        assert len(await copy.history(listing.id)) == (2 if listing in made[:5] else 1)
    assert await copy.refreshed_at() is not None
    offline.close()


def test_one_replica_file_per_catalog_named_without_the_password(tmp_path: Path) -> None:
    first = replica_path(tmp_path, "postgresql+psycopg://ana:secret@db.campus:5432/market")
    other = replica_path(tmp_path, "postgresql+psycopg://ana:secret@db.campus:5433/market")
    assert first != other and first.parent == tmp_path / "replicas"
    assert "secret" not in str(first) and first.name.startswith("db-campus-market-")
    label = catalog_label("postgresql+psycopg://ana:secret@db.campus:5432/market")
    assert "secret" not in label and "***" in label


async def test_images_are_cached_bounded_and_only_from_http(
        sqlite_database, change_bus, tmp_path: Path, image_server) -> None:
    base, asked = image_server
    offline = OfflineService(open_replica(tmp_path, sqlite_database.url), change_bus)
    cache = offline.thumbnails
    cache.limit_bytes = 2 * len(IMAGE)  # room for two images
    added = await cache.fetch([f"{base}/a.png", f"{base}/b.png", f"{base}/missing",
                               "javascript:alert(1)", "file:///etc/passwd", f"{base}/a.png"])
    assert added == 2 and asked == ["/a.png", "/b.png", "/missing"]
    assert (await cache.path_for(f"{base}/a.png")).read_bytes() == IMAGE  # a: used last
    assert await cache.fetch([f"{base}/c.png"]) == 1
    assert await cache.path_for(f"{base}/b.png") is None  # least recently used: evicted
    assert await cache.path_for(f"{base}/a.png") is not None
    assert await cache.total_bytes() == 2 * len(IMAGE)
    assert len(list(cache.folder.iterdir())) == 2
    assert await cache.fetch([f"{base}/a.png", f"{base}/c.png"]) == 0  # cached: not asked
    assert asked.count("/a.png") == 1
    offline.close()


async def test_resolving_a_conflict_they_changed_again_shows_the_new_values(
        sqlite_database, change_bus, tmp_path: Path) -> None:
    from uhadmin.errors import UhadminError
    from uhadmin.services.listings import ListingService

    website = ListingService(sqlite_database, change_bus)
    lamp = await website.create(NewListing(title="Lamp", price_minor=1000, currency="usd"),
                                actor="web")
    offline = OfflineService(open_replica(tmp_path, sqlite_database.url), change_bus,
                             catalog=sqlite_database, listings=website)
    await offline.refresh()
    await offline.offline_listings.update(lamp.id, ListingChanges(title="Mine"),
                                          expected_version=lamp.version, actor="ana")
    theirs = await website.update(lamp.id, ListingChanges(title="Theirs"),
                                  expected_version=lamp.version, actor="web")
    [conflict] = (await offline.push()).conflicts
    await website.update(lamp.id, ListingChanges(title="Theirs, again"),
                         expected_version=theirs.version, actor="web")
    with pytest.raises(UhadminError, match="changed again"):
        await offline.resolve(conflict.id, take="mine", actor="ana")
    [shown] = await offline.conflicts()
    assert shown.conflicts[0].theirs == "Theirs, again"  # nothing written, nothing lost
    assert (await website.get(lamp.id)).title == "Theirs, again"
    await offline.resolve(conflict.id, take="mine", actor="ana")
    assert (await website.get(lamp.id)).title == "Mine"
    offline.close()
