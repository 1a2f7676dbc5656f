"""Several `uhadmin sync` processes at once, with faults, edits and kill -9, checked at Stripe.

Each test runs real processes against one catalog and the offline sandbox over HTTP, then
looks at what Stripe holds: one product per listing, one active price per product, the
default price equal to the catalog's, each listing revision pushed once, no pending row left.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from uhadmin.domain import ListingChanges, ListingStatus, NewListing
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService

SYNC = [sys.executable, "-c", "from uhadmin.cli import main; main()", "sync", "--json",
        "--no-progress"]


def sync_env(database_url: str, sandbox) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("UHADMIN_", "STRIPE_"))}
    env.update(UHADMIN_DATABASE_URL=database_url, UHADMIN_STRIPE_API_BASE=sandbox.url,
               UHADMIN_ACTOR="worker")
    return env


def start_syncs(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    return [subprocess.Popen(SYNC, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(count)]


def finish(process: subprocess.Popen) -> tuple[int, dict, str]:
    out, err = process.communicate(timeout=240)
    try:
        report = json.loads(out)
    except ValueError:
        report = {}
    return process.returncode, report, err


def seed(db: Database, count: int) -> list[int]:
    async def make() -> list[int]:
        service = ListingService(db, ChangeBus())
        return [(await service.create(NewListing(
            f"Desk {number}", 2000 + number, "usd", status=ListingStatus.APPROVED),
            actor="seller")).id for number in range(count)]

    return asyncio.run(make())


def sync_started(db: Database, *, claiming: bool = False) -> bool:
    """Whether a sync has claimed a change (`claiming`: holds one now)."""
    condition = "claimed_by IS NOT NULL" + ("" if claiming else " OR done_at IS NOT NULL")
    with db.session() as session:
        return bool(session.execute(text(
            f"SELECT COUNT(*) FROM stripe_changes WHERE {condition}")).scalar_one())


def edit(db: Database, ids: list[int], count: int, seed_value: int = 9, *,
         once_syncing: bool = True) -> None:
    """`count` edits, half staff price edits, half website title edits, 20 ms apart (the
    syncs running meanwhile see them arrive)."""
    async def edits() -> None:
        service = ListingService(db, ChangeBus())
        made = 0
        rng = random.Random(seed_value)
        while made < count:
            listing_id = rng.choice(ids)
            if made % 2:
                listing = await service.get(listing_id)
                await service.update(listing_id, ListingChanges(
                    price_minor=listing.price_minor + 1),
                    expected_version=listing.version, actor="staff")
            else:  # the website writes the row itself, bumping the version as agreed
                with db.session(write=True) as session:
                    session.execute(text(
                        "UPDATE listings SET title = title || '!', version = version + 1 "
                        "WHERE id = :id"), {"id": listing_id})
            made += 1
            await asyncio.sleep(0.02)

    while once_syncing and not sync_started(db):  # processes take seconds to start
        time.sleep(0.05)
    asyncio.run(edits())


def check_stripe_matches_catalog(db: Database, sandbox) -> None:
    with sandbox.store.lock:
        products = [dict(p) for p in sandbox.store.objects["product"].values()]
        prices = [dict(p) for p in sandbox.store.objects["price"].values()]
    with db.session() as session:
        listings = {row.id: row for row in session.execute(text(
            "SELECT id, title, price_minor, currency, stripe_product_id, sync_state "
            "FROM listings"))}
        pending = session.execute(text(
            "SELECT listing_id, COUNT(*) FROM stripe_changes WHERE done_at IS NULL "
            "GROUP BY listing_id")).all()
        audits = session.execute(text(
            "SELECT entity_id, details FROM audit_log WHERE action = 'sync'")).all()
    per_listing = Counter(p["metadata"]["listing_id"] for p in products)
    assert set(per_listing) == {str(listing_id) for listing_id in listings}
    assert set(per_listing.values()) == {1}, "a listing has two products"
    active = Counter(p["product"] for p in prices if p["active"])
    prices_by_id = {p["id"]: p for p in prices}
    for product in products:
        listing = listings[int(product["metadata"]["listing_id"])]
        assert active[product["id"]] == 1, f"{product['id']} has {active[product['id']]} " \
                                           "active prices"
        default = prices_by_id[product["default_price"]]
        assert (default["unit_amount"], default["currency"]) == (listing.price_minor,
                                                                  listing.currency)
        assert product["name"] == listing.title and listing.sync_state == "synced"
    assert pending == []
    revisions = Counter(
        (entity_id, (details if isinstance(details, dict) else json.loads(details))["revision"])
        for entity_id, details in audits)
    assert max(revisions.values()) == 1, "a listing revision was pushed twice"


@pytest.mark.postgres
@pytest.mark.slow
def test_four_sync_processes_with_faults_and_edits_push_each_revision_once(
        postgres_database_url, stripe_sandbox) -> None:
    from db_fixtures import _empty_postgres

    db = _empty_postgres(postgres_database_url)
    ids = seed(db, 150)
    stripe_sandbox.set_faults(fail_rate=0.05, drop_rate=0.05, latency_ms=3)
    env = sync_env(postgres_database_url, stripe_sandbox)
    processes = start_syncs(4, env)
    edit(db, ids, 60)
    assert any(process.poll() is None for process in processes)  # edited during the sync
    results = [finish(process) for process in processes]
    for code, report, err in results:
        assert code in (0, 3), err
        # Never success while work remains: exit 0 means nothing was left queued.
        assert report, err
        if code == 0:
            assert report["queued"] == 0 and report["failed"] == 0
        else:
            assert report["queued"] > 0 and report["waiting"]
    assert sum(report["created"] for _, report, _ in results) == 150
    stripe_sandbox.set_faults(fail_rate=0.0, drop_rate=0.0, latency_ms=0)
    final = subprocess.run(SYNC, env=env, capture_output=True, text=True, timeout=240)
    assert final.returncode == 0, final.stdout + final.stderr
    assert json.loads(final.stdout)["queued"] == 0
    check_stripe_matches_catalog(db, stripe_sandbox)
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
@pytest.mark.slow
def test_kill_9_at_random_points_then_one_clean_sync(
        backend, request, tmp_path: Path, stripe_sandbox) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
        db = Database(url)
        db.upgrade()
    else:
        from db_fixtures import _empty_postgres

        url = request.getfixturevalue("postgres_database_url")
        db = _empty_postgres(url)
    ids = seed(db, 120)
    # Slow enough that each kill lands with calls in flight.
    stripe_sandbox.set_faults(latency_ms=15, drop_rate=0.03)
    env = sync_env(url, stripe_sandbox)
    rng = random.Random(5)
    killed = 0
    for _ in range(3):
        [process] = start_syncs(1, env)
        deadline = time.monotonic() + 90
        while (process.poll() is None and time.monotonic() < deadline
               and not sync_started(db, claiming=True)):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.0))  # a random point of the push
        killed += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        edit(db, ids, 6, seed_value=len(ids) + killed, once_syncing=False)
    assert killed >= 2  # most kills landed while the sync was running
    stripe_sandbox.set_faults(latency_ms=0, drop_rate=0.0)
    started = time.monotonic()
    final = subprocess.run(SYNC, env=env, capture_output=True, text=True, timeout=240)
    # The dead holders' lock and claims are taken over at once, not after their lease.
    assert final.returncode == 0, final.stdout + final.stderr
    assert time.monotonic() - started < 60
    assert json.loads(final.stdout)["queued"] == 0
    check_stripe_matches_catalog(db, stripe_sandbox)
    db.close()
