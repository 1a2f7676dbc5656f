"""Offline review against a private PostgreSQL cluster that the tests stop and start:
the catalog gone before start, while editing, in the middle of a save, and a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from uhadmin.domain import ListingChanges, ListingQuery, ListingStatus, NewListing
from uhadmin.domain.offline import OperationState
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database, DatabaseUnavailableError
from uhadmin.services.listings import ListingService
from uhadmin.services.offline.failover import FailoverListings
from uhadmin.services.offline.service import OfflineService, open_replica

pytest_plugins = ["private_postgres"]
# Each test starts its own PostgreSQL cluster (initdb) to take it away: seconds each.
pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]


async def catalog_with(url: str, titles: list[str]) -> tuple[Database, ListingService, list]:
    db = Database(url)
    db.upgrade()
    service = ListingService(db, ChangeBus())
    created = [await service.create(NewListing(title=title, price_minor=1000, currency="usd",
                                               status=ListingStatus.PENDING_REVIEW),
                                    actor="web") for title in titles]
    return db, service, created


def audit_rows(url: str, listing_id: int) -> list[tuple]:
    """The listing's audit rows, oldest first: (action, actor, details)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(
                "SELECT action, actor, details FROM audit_log WHERE entity = 'listing' "
                "AND entity_id = :id ORDER BY id"), {"id": str(listing_id)})]
    finally:
        engine.dispose()


async def test_offline_from_the_start_then_merge_back(private_cluster, tmp_path: Path) -> None:
    url = private_cluster.url
    db, website, (same, other, rejected, untouched, beside) = await catalog_with(
        url, ["Lamp", "Desk", "Chair", "Shelf", "Rug"])
    online = OfflineService(open_replica(tmp_path, url), ChangeBus(), catalog=db,
                            listings=website)
    first = await online.refresh()
    assert (first.changed, first.total, first.full) == (5, 5, True)
    online.close()
    db.close()

    private_cluster.stop()  # the catalog is gone before the app starts
    with pytest.raises(DatabaseUnavailableError):
        Database(url).upgrade()
    offline = OfflineService(open_replica(tmp_path, url), ChangeBus())
    mine = offline.offline_listings
    await mine.update(same.id, ListingChanges(title="Lamp (reviewed)"),
                      expected_version=same.version, actor="ana")
    await mine.update(other.id, ListingChanges(price_minor=1500),
                      expected_version=other.version, actor="ana")
    await mine.change_status(rejected.id, ListingStatus.APPROVED, actor="ana")
    await mine.update(untouched.id, ListingChanges(title="Shelf, oak"),
                      expected_version=untouched.version, actor="ana")
    await mine.change_status(beside.id, ListingStatus.APPROVED, actor="ana")
    assert (await mine.get(same.id)).title == "Lamp (reviewed)"  # seen offline as typed
    queue = await mine.search(ListingQuery(statuses=frozenset({ListingStatus.PENDING_REVIEW})))
    assert {item.id for item in queue.items} == {same.id, other.id, untouched.id}
    assert queue.total == 3  # the two approved offline left the queue
    status = await offline.status()
    assert (status.pending, status.conflicts, status.listings) == (5, 0, 5)
    with pytest.raises(Exception, match="out of reach"):
        await offline.push()

    private_cluster.start()  # meanwhile the website changed some of them
    db = Database(url)
    website = ListingService(db, ChangeBus())
    await website.update(same.id, ListingChanges(title="Lamp (web)"),
                         expected_version=same.version, actor="web")
    await website.update(other.id, ListingChanges(description="Oak desk"),
                         expected_version=other.version, actor="web")
    await website.change_status(rejected.id, ListingStatus.REJECTED, actor="web",
                                reason="duplicate")
    await website.update(beside.id, ListingChanges(title="Rug, wool"),
                         expected_version=beside.version, actor="web")
    offline.connect(db, website)
    report = await offline.push()

    assert (report.applied, report.merged, report.waiting) == (1, 2, 0)
    assert sorted(op.listing_id for op in report.conflicts) == [same.id, rejected.id]
    rows = {listing.id: listing for listing in
            [await website.get(item.id) for item in (same, other, rejected, untouched, beside)]}
    assert (rows[same.id].title, rows[same.id].price_minor) == ("Lamp (web)", 1000)
    assert (rows[other.id].price_minor, rows[other.id].description) == (1500, "Oak desk")
    assert rows[rejected.id].status is ListingStatus.REJECTED
    assert rows[untouched.id].title == "Shelf, oak"
    assert (rows[beside.id].status, rows[beside.id].title) == (ListingStatus.APPROVED,
                                                               "Rug, wool")
    # The audit log, row by row, after the two creations' steps (create, status).
    tail = lambda listing: audit_rows(url, listing.id)[2:]  # noqa: E731
    [(action, actor, details)] = tail(same)[1:]
    assert (action, actor) == ("offline_conflict", "ana")
    assert details["conflicts"] == [{"field": "title", "base": "Lamp", "theirs": "Lamp (web)",
                                     "mine": "Lamp (reviewed)"}]
    assert [(a, who) for a, who, _ in tail(other)] == [
        ("update", "web"), ("update", "ana"), ("offline_merged", "ana")]
    assert tail(other)[1][2]["changes"] == {"price_minor": [1000, 1500]}
    assert tail(other)[2][2]["kept_theirs"] == ["description"]
    assert [(a, who) for a, who, _ in tail(rejected)] == [
        ("status", "web"), ("offline_conflict", "ana")]
    assert "no longer allows rejected -> approved" in tail(rejected)[1][2]["note"]
    assert [(a, who) for a, who, _ in tail(untouched)] == [
        ("update", "ana"), ("offline_applied", "ana")]
    assert [(a, who) for a, who, _ in tail(beside)] == [
        ("update", "web"), ("status", "ana"), ("offline_merged", "ana")]

    # A person settles the two conflicts: mine for the title, theirs for the status.
    title_conflict, status_conflict = sorted(report.conflicts, key=lambda op: op.listing_id)
    await offline.resolve(title_conflict.id, take="mine", actor="ana")
    await offline.resolve(status_conflict.id, take="theirs", actor="ana")
    assert (await website.get(same.id)).title == "Lamp (reviewed)"
    assert (await website.get(rejected.id)).status is ListingStatus.REJECTED
    assert [a for a, _, _ in tail(same)][-2:] == ["update", "offline_resolved"]
    assert tail(rejected)[-1][0] == "offline_resolved"
    assert tail(rejected)[-1][2]["took"] == "theirs"
    final = await offline.status()
    assert (final.pending, final.conflicts) == (0, 0)
    assert (await offline.replica.get(same.id)).title == "Lamp (reviewed)"  # copy refreshed
    offline.close()
    db.close()


async def test_connection_drops_while_editing_and_in_the_middle_of_a_save(
        private_cluster, tmp_path: Path) -> None:
    url = private_cluster.url
    db, service, (lamp, desk) = await catalog_with(url, ["Lamp", "Desk"])
    offline = OfflineService(open_replica(tmp_path, url), ChangeBus(), catalog=db,
                             listings=service)
    await offline.refresh()
    switches: list[bool] = []
    listings = FailoverListings(service, offline.offline_listings, switches.append)
    # Online, the reviewer opens the lamp; the website edits it after the copy was made,
    # so the copy is older than what the reviewer is looking at.
    await service.update(lamp.id, ListingChanges(description="Brass"),
                         expected_version=lamp.version, actor="web")
    seen = await listings.get(lamp.id)

    private_cluster.stop()  # dropped while the reviewer types
    saved = await listings.update(lamp.id, ListingChanges(title="Lamp, brass"),
                                  expected_version=seen.version, actor="ana")
    assert switches == [True] and listings.is_offline
    assert (saved.title, saved.description, saved.version) == ("Lamp, brass", "Brass",
                                                               seen.version)

    private_cluster.start()
    listings.reconnect(service)
    # In the middle of a save: the UPDATE waits on a row lock, then the server goes away.
    locker = create_engine(url)
    connection = locker.connect()
    connection.execute(text("SELECT id FROM listings WHERE id = :id FOR UPDATE"),
                       {"id": desk.id})
    save = asyncio.ensure_future(listings.update(desk.id, ListingChanges(price_minor=2500),
                                                 expected_version=desk.version, actor="ana"))
    await asyncio.sleep(1.0)
    assert not save.done()  # blocked behind the lock, mid-save
    private_cluster.stop()
    saved_desk = await asyncio.wait_for(save, 30)
    assert saved_desk.price_minor == 2500 and listings.is_offline
    connection.invalidate()
    locker.dispose()
    assert (await offline.status()).pending == 2

    private_cluster.start()
    report = await offline.push()
    assert (report.applied, report.merged, report.conflicts) == (2, 0, ())
    lamp_now, desk_now = await service.get(lamp.id), await service.get(desk.id)
    assert (lamp_now.title, lamp_now.description) == ("Lamp, brass", "Brass")
    assert desk_now.price_minor == 2500 and desk_now.version == desk.version + 1
    assert [(a, who) for a, who, _ in audit_rows(url, lamp.id)[2:]] == [
        ("update", "web"), ("update", "ana"), ("offline_applied", "ana")]
    assert [(a, who) for a, who, _ in audit_rows(url, desk.id)[2:]] == [
        ("update", "ana"), ("offline_applied", "ana")]
    offline.close()
    db.close()


CRASHING_REVIEWER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from uhadmin.domain import ListingChanges
    from uhadmin.services.change_bus import ChangeBus
    from uhadmin.services.offline.service import OfflineService, open_replica

    async def main():
        offline = OfflineService(open_replica(Path(sys.argv[1]), sys.argv[2]), ChangeBus())
        listing_id = int(sys.argv[3])
        for n in range(1, 100000):
            listing = await offline.offline_listings.get(listing_id)
            await offline.offline_listings.update(
                listing_id, ListingChanges(price_minor=1000 + n),
                expected_version=listing.version, actor="ana")
            print(n, flush=True)  # told "saved" only after the commit

    asyncio.run(main())
""")


def review_until_killed(folder: Path, url: str, listing_id: int, saves: int) -> list[int]:
    """Run the reviewer in a child process and kill -9 it after `saves` confirmed saves."""
    child = subprocess.Popen([sys.executable, "-c", CRASHING_REVIEWER, str(folder), url,
                              str(listing_id)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    confirmed = []
    for line in child.stdout:
        confirmed.append(int(line))
        if len(confirmed) == saves:
            os.kill(child.pid, signal.SIGKILL)  # the app dies mid-work
            break
    child.wait(30)
    assert child.returncode == -signal.SIGKILL
    return confirmed


async def test_crash_while_offline_loses_nothing(private_cluster, tmp_path: Path) -> None:
    url = private_cluster.url
    db, service, (lamp,) = await catalog_with(url, ["Lamp"])
    offline = OfflineService(open_replica(tmp_path, url), ChangeBus(), catalog=db,
                             listings=service)
    await offline.refresh()
    offline.close()
    private_cluster.stop()

    confirmed = await asyncio.to_thread(review_until_killed, tmp_path, url, lamp.id, 40)

    offline = OfflineService(open_replica(tmp_path, url), ChangeBus())
    kept = await offline.replica.operations((OperationState.PENDING,))
    assert len(kept) >= 40  # every confirmed save survived (one more may have committed)
    assert [op.changes["price_minor"] for op in kept][:40] == [1000 + n for n in confirmed]
    last = kept[-1].changes["price_minor"]

    private_cluster.start()
    db2 = Database(url)
    service2 = ListingService(db2, ChangeBus())
    offline.connect(db2, service2)
    report = await offline.push()
    assert report.conflicts == () and report.applied + report.merged == len(kept)
    assert (await service2.get(lamp.id)).price_minor == last
    rows = audit_rows(url, lamp.id)[2:]
    updates = [details["changes"]["price_minor"][1] for a, _, details in rows if a == "update"]
    assert updates == [op.changes["price_minor"] for op in kept]  # each once, in order
    notes = [details["offline_operation"] for a, _, details in rows if a == "offline_applied"]
    assert notes == [op.id for op in kept] and len(rows) == 2 * len(kept)
    offline.close()
    db.close()
    db2.close()
