"""Benchmark of the Stripe sync against the offline sandbox (run: python bench/sync_bench.py).

1. 2,000 new listings, sandbox without a rate limit: sync throughput as a ratio of a plain
   loop of SDK products.create calls against the same sandbox in the same run (target
   >= 0.8), and API calls per listing (target 1.0).
2. 1,000 new listings, sandbox limited to 25 requests/s: wall time as a ratio of the
   physical floor of 40 s (target <= 1.15), and the share of 429 answers (target < 1 %).
3. Re-sync of the unchanged 2,000: API calls (target 0) and wall time.

The sandbox runs in its own process, as Stripe would, so its request handling does not
share this process's interpreter with the client being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from uhadmin.bootstrap import SANDBOX_CONCURRENCY
from uhadmin.domain import ListingStatus, SyncState
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.stripe_gateway.client import LIMIT_SHARE, TEST_MODE_LIMIT
from uhadmin.services.sync import SyncService
from uhadmin.services.tables import ListingRow, StripeChangeRow

SANDBOX_KEY = "sk_test_uhadminBench0000000000"


def _serve(port_out, stop, rate_limit) -> None:
    from uhadmin.sandbox.server import SandboxServer

    server = SandboxServer(rate_limit=rate_limit).start()
    port_out.put(server.port)
    stop.wait()
    server.stop()


class SandboxProcess:
    """A SandboxServer in a child process; `url` once started."""

    def __init__(self, rate_limit: float | None) -> None:
        context = multiprocessing.get_context("spawn")
        self._ports = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(target=_serve, args=(self._ports, self._stop,
                                                             rate_limit), daemon=True)
        self.url = ""

    def __enter__(self) -> SandboxProcess:
        self._process.start()
        self.url = f"http://127.0.0.1:{self._ports.get(timeout=30)}"
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=10)


def make_catalog(directory: Path, name: str, count: int) -> Database:
    """A migrated SQLite catalog with `count` approved listings waiting for Stripe."""
    db = Database(f"sqlite:///{directory / name}")
    seed_listings(db, count)
    return db


def seed_listings(db: Database, count: int) -> None:
    """Migrate `db` and add `count` approved listings, each with its outbox row (what
    ListingService writes), inserted in bulk so setup time stays out of the figures."""
    from datetime import UTC, datetime

    db.upgrade()
    with db.session(write=True) as session:
        session.execute(insert(ListingRow.__table__), [
            {"title": f"Bench listing {number}", "description": "Used, good condition",
             "price_minor": 500 + number, "currency": "usd",
             "status": ListingStatus.APPROVED.value, "version": 1,
             "sync_state": SyncState.PENDING.value} for number in range(count)])
        ids = [row[0] for row in session.execute(ListingRow.__table__.select().with_only_columns(
            ListingRow.__table__.c.id))]
        now = datetime.now(UTC)
        session.execute(insert(StripeChangeRow.__table__), [
            {"listing_id": listing_id, "revision": 1, "created_at": now} for listing_id in ids])


async def plain_loop(url: str, count: int) -> float:
    """The baseline: one SDK products.create after another, nothing else. Each call sends
    what the sync sends for a new listing: a custom product id, name, description,
    metadata and the default price in the same call."""
    import uuid

    import stripe  # the benchmark measures the SDK itself here

    http = stripe.HTTPXClient(timeout=30)
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": url}, http_client=http)
    run = uuid.uuid4().hex[:10]
    started = time.perf_counter()
    for number in range(count):
        await client.v1.products.create_async({
            "id": f"uh_{run}_{number}",
            "name": f"Plain loop {number}", "description": "Used, good condition",
            "metadata": {"listing_id": str(number), "catalog_id": "plainloop"},
            "default_price_data": {"currency": "usd", "unit_amount": 500 + number}})
    elapsed = time.perf_counter() - started
    await http.close_async()
    return elapsed


def throughput(count: int, loop_s: float, sync_s: float) -> dict:
    """The sync beside the plain loop over the same listings: times, rates, their ratio."""
    return {"listings": count, "plain_loop_s": round(loop_s, 2),
            "plain_loop_per_s": round(count / loop_s, 1), "sync_s": round(sync_s, 2),
            "sync_per_s": round(count / sync_s, 1),
            "throughput_ratio": round(loop_s / sync_s, 2)}


async def timed_sync(db: Database, url: str, rate_limit) -> tuple[SyncService, float, object]:
    # Configured as the app configures its gateway for the local sandbox.
    gateway = StripeGateway(GatewayConfig(api_key=SANDBOX_KEY, api_base=url,
                                          rate_limit=rate_limit,
                                          max_concurrency=SANDBOX_CONCURRENCY))
    sync = SyncService(db, ChangeBus(), CatalogGateway(gateway), actor="bench")
    await sync.catalog_id()
    started = time.perf_counter()
    report = await sync.run()
    return sync, time.perf_counter() - started, report


async def bench(new_count: int, limited_count: int) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        # 1. unlimited sandbox: plain loop vs sync, same sandbox, same run
        with SandboxProcess(rate_limit=None) as sandbox:
            db = make_catalog(directory, "unlimited.db", new_count)
            await plain_loop(sandbox.url, 50)  # warm both sides up
            # Half the loop before the sync and half after, so a machine that gets busier
            # or quieter during the run (or a store that grows) hits both sides alike.
            loop_s = await plain_loop(sandbox.url, new_count // 2)
            sync, sync_s, report = await timed_sync(db, sandbox.url, None)
            loop_s += await plain_loop(sandbox.url, new_count - new_count // 2)
            assert report.created == new_count and report.failed == 0, report
            results["unlimited"] = {
                **throughput(new_count, loop_s, sync_s),
                "calls_per_listing": round(report.api_calls / new_count, 3),
            }
            # 3. re-sync of the unchanged catalog
            calls_before = sync.gateway.api_calls
            started = time.perf_counter()
            again = await sync.run()
            results["resync_unchanged"] = {
                "listings": new_count, "api_calls": sync.gateway.api_calls - calls_before,
                "unchanged": again.unchanged, "wall_s": round(time.perf_counter() - started, 3)}
            await sync.gateway.aclose()
            db.close()
        # 2. sandbox limited to 25 requests/s, the gateway paced as configured with
        #    UHADMIN_STRIPE_RATE_LIMIT (a sandbox URL is not paced by "auto")
        with SandboxProcess(rate_limit=25) as sandbox:
            db = make_catalog(directory, "limited.db", limited_count)
            # Let the sandbox's one-second bucket fill, as an idle account's would be.
            await asyncio.sleep(1.1)
            sync, sync_s, report = await timed_sync(db, sandbox.url,
                                                    TEST_MODE_LIMIT * LIMIT_SHARE)
            assert report.created == limited_count and report.failed == 0, report
            stats = sync.gateway.stats
            floor = limited_count / 25
            results["limited_25_per_s"] = {
                "listings": limited_count, "wall_s": round(sync_s, 2),
                "floor_s": floor, "ratio_to_floor": round(sync_s / floor, 3),
                "requests": stats.requests, "responses_429": stats.by_status.get(429, 0),
                "share_429_percent": round(100 * stats.by_status.get(429, 0)
                                           / max(stats.requests, 1), 2),
                "calls_per_listing": round(report.api_calls / limited_count, 3),
            }
            await sync.gateway.aclose()
            db.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=int, default=2000, help="listings for parts 1 and 3")
    parser.add_argument("--limited", type=int, default=1000, help="listings for part 2")
    args = parser.parse_args(argv)
    results = asyncio.run(bench(args.new, args.limited))
    print(json.dumps(results, indent=2))
    unlimited, limited = results["unlimited"], results["limited_25_per_s"]
    targets = {
        "throughput_ratio >= 0.8": unlimited["throughput_ratio"] >= 0.8,
        "calls_per_listing == 1.0": unlimited["calls_per_listing"] == 1.0,
        "ratio_to_floor <= 1.15": limited["ratio_to_floor"] <= 1.15,
        "share_429 < 1 %": limited["share_429_percent"] < 1.0,
        "resync api_calls == 0": results["resync_unchanged"]["api_calls"] == 0,
    }
    for name, met in targets.items():
        print(f"{'met ' if met else 'MISSED'} {name}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
