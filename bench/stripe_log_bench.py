"""Benchmark of the Stripe log (run: python bench/stripe_log_bench.py [--postgres URL]).

1. Sync throughput with the log recording every request vs without, side by side in one
   run against the same sandbox process: many short runs in A B B A order, the cost taken
   as the median over neighbouring pairs, with its quartiles and extremes, in wall time
   (the target: < 5 %) and in this process's CPU time; the 1-minute load before and after.
   `--callgrind N` adds the load-independent figure of bench/stripe_log_callgrind.py.
2. A log of 1,000,000 entries on SQLite (and PostgreSQL with --postgres or
   UHADMIN_TEST_POSTGRES_URL): the Stripe log tab opened through its real widgets until
   its first page shows (target < 1 s), and each filter's first page (target < 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sqlalchemy import create_engine, insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sync_bench import SANDBOX_KEY, SandboxProcess, make_catalog  # noqa: E402

from uhadmin.bootstrap import SANDBOX_CONCURRENCY  # noqa: E402
from uhadmin.domain.stripe_log import StripeLogFilter  # noqa: E402
from uhadmin.services.change_bus import ChangeBus  # noqa: E402
from uhadmin.services.database import Database  # noqa: E402
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway  # noqa: E402
from uhadmin.services.stripe_gateway.catalog import CatalogGateway  # noqa: E402
from uhadmin.services.stripe_log import StripeLogService  # noqa: E402
from uhadmin.services.sync import SyncService  # noqa: E402
from uhadmin.services.tables import StripeLogRow  # noqa: E402

FILTERS = {
    "listing": StripeLogFilter(listing_id=4321),
    "attempt": StripeLogFilter(attempt_id=777),
    "errors_only": StripeLogFilter(errors_only=True),
    "status_5xx": StripeLogFilter(status_class="5xx"),
    "method_GET": StripeLogFilter(method="GET"),
    "listing_and_errors": StripeLogFilter(listing_id=4321, errors_only=True),
    "text_common": StripeLogFilter(text="products"),
    "text_request_id": StripeLogFilter(text="req_00000042"),
}


# --- 1. sync throughput, with and without the log -----------------------------------------

async def one_sync(db: Database, url: str, log: StripeLogService | None
                   ) -> tuple[float, float]:
    """Wall and CPU seconds (this process, every thread) of one sync run; with a log, until
    its last batch is written too."""
    gateway = StripeGateway(GatewayConfig(api_key=SANDBOX_KEY, api_base=url, rate_limit=None,
                                          max_concurrency=SANDBOX_CONCURRENCY))
    if log is not None:
        gateway.recorder = log.record
    sync = SyncService(db, ChangeBus(), CatalogGateway(gateway), actor="bench")
    await sync.catalog_id()
    started, cpu_started = time.perf_counter(), time.process_time()
    report = await sync.run()
    if log is not None:
        await log.aclose()  # the last batch's write counts too
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert report.failed == 0, report
    await gateway.aclose()
    return elapsed, cpu


def abba(rounds: int) -> list[tuple[str, str]]:
    """Round after round in A B B A A B B A order: a machine getting busier or quieter
    during the run hits both kinds alike, and each pair's two runs are neighbours."""
    return [("without_log", "with_log") if number % 2 == 0 else ("with_log", "without_log")
            for number in range(rounds)]


def spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles and extremes of per-pair figures, in percent."""
    quartiles = (statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1
                 else values * 3)
    return {"median": round(statistics.median(values), 2), "q1": round(quartiles[0], 2),
            "q3": round(quartiles[2], 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


async def sync_overhead(listings: int, rounds: int) -> dict:
    """The log's cost as the median over pairs of neighbouring runs (one with the log, one
    without, the same number of listings) of (with / without - 1), in wall and in CPU time:
    a pair shares the machine's load of its moment, and one burst spoils one pair only."""
    per_round = max(1, listings // rounds)
    wall: dict[str, list[float]] = {"without_log": [], "with_log": []}
    cpu: dict[str, list[float]] = {"without_log": [], "with_log": []}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder, SandboxProcess(rate_limit=None) as sandbox:
        directory = Path(folder)
        for kind in ("without_log", "with_log"):  # warm both paths up (compiled statements)
            warm = make_catalog(directory, f"warm_{kind}.db", 50)
            await one_sync(warm, sandbox.url, StripeLogService(warm)
                           if kind == "with_log" else None)
            warm.close()
        for number, order in enumerate(abba(rounds)):
            for kind in order:
                db = make_catalog(directory, f"{kind}_{number}.db", per_round)
                log = StripeLogService(db) if kind == "with_log" else None
                gc.collect()  # every run starts with the same garbage left to collect
                elapsed, spent = await one_sync(db, sandbox.url, log)
                wall[kind].append(elapsed)
                cpu[kind].append(spent)
                if log is not None:
                    assert await log.count() == per_round, "one entry per request"
                db.close()

    def cost(times: dict[str, list[float]]) -> list[float]:
        return [100 * (with_log / without - 1)
                for without, with_log in zip(times["without_log"], times["with_log"],
                                             strict=True)]

    return {"rounds": rounds, "listings_per_run": per_round,
            "load_1min_before": round(load_before, 2),
            "load_1min_after": round(os.getloadavg()[0], 2),
            "without_log_per_s": round(per_round / statistics.median(wall["without_log"]), 1),
            "with_log_per_s": round(per_round / statistics.median(wall["with_log"]), 1),
            "wall_cost_percent": spread(cost(wall)),
            # The client's own CPU (the sandbox is another process): steadier than wall
            # time on a shared machine, and where the log's work shows.
            "cpu_ms_per_listing_without_log": round(
                1000 * statistics.median(cpu["without_log"]) / per_round, 3),
            "cpu_ms_per_listing_with_log": round(
                1000 * statistics.median(cpu["with_log"]) / per_round, 3),
            "cpu_cost_percent": spread(cost(cpu)),
            # What the bench printed before (all runs of a kind summed): a burst in one run
            # moves it as much as it moves that run.
            "of_totals_percent": {
                name: round(100 * (sum(times["with_log"]) / sum(times["without_log"]) - 1), 2)
                for name, times in (("wall", wall), ("cpu", cpu))}}


# --- 2. a million entries ---------------------------------------------------------------

def fill_log(db: Database, count: int, chunk: int = 20_000) -> float:
    """`count` entries shaped like a busy year: syncs, checkouts, a few errors."""
    rng = random.Random(14)
    start = datetime.now(UTC) - timedelta(days=25)
    started = time.perf_counter()
    number = 0
    while number < count:
        rows = []
        for _ in range(min(chunk, count - number)):
            number += 1
            status = rng.choices((200, 402, 404, 429, 500, 0), (95, 1.5, 1.5, 1, 0.7, 0.3))[0]
            method = "GET" if number % 4 == 0 else "POST"
            listing = rng.randint(1, 20_000) if number % 5 else None
            path = f"/v1/products/uh_x_{listing}" if method == "GET" else "/v1/products"
            rows.append({
                "at": start + timedelta(seconds=number * 2), "kind": "request",
                "method": method, "api_base": "http://127.0.0.1:9", "path": path,
                "api_version": "2026-10-28.endive", "params": '[["name", "Bench"]]',
                "idempotency_key": f"uh_{number}", "request_id": f"req_{number:08d}",
                "status": status, "status_class": "no answer" if status == 0
                else f"{status // 100}xx", "is_error": status == 0 or status >= 400,
                "latency_ms": 120.0, "call_id": f"c{number}", "retry": 0,
                "endpoint": "products.create", "served": "sync" if listing else "checkout",
                "sync_run": None, "listing_id": listing, "listing_revision": 1,
                "attempt_id": None if listing else number % 2000, "error_type": None,
                "error_code": None, "decline_code": None, "error_message": None,
                "object_type": "product", "object_id": f"uh_x_{listing}",
                "response_excerpt": '{"object": "product"}', "event_id": None,
                "event_type": None, "signature_verified": None, "effect": "",
                "search_text": f"{path} products.create req_{number:08d} uh_{number}"})
        with db.session(write=True) as session:
            session.execute(insert(StripeLogRow.__table__), rows)
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE stripe_log")
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


async def median_ms(action, repeat: int = 5) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1)


async def open_tab_ms(log: StripeLogService) -> float:
    """Build the real tab, start it, and wait until its first page is on screen."""
    from PySide6.QtWidgets import QApplication

    from uhadmin.views.stripe_log_tab import StripeLogTab

    app = QApplication.instance()
    assert app is not None  # main() made it
    started = time.perf_counter()
    tab = StripeLogTab(log)
    tab.resize(1200, 700)
    tab.show()
    tab.start()
    await tab.tasks.wait_idle()
    app.processEvents()
    elapsed = (time.perf_counter() - started) * 1000
    rows = tab.model.rowCount()
    tab.shutdown()
    tab.close()
    assert rows == 200, rows
    return round(elapsed, 1)


async def million(db: Database, count: int) -> dict:
    fill_s = fill_log(db, count)
    log = StripeLogService(db)
    result = {"entries": await log.count(), "fill_s": round(fill_s, 1),
              "tab_open_ms": await open_tab_ms(log),
              "first_page_ms": await median_ms(lambda: log.page(limit=200))}
    for name, where in FILTERS.items():
        result[f"filter_{name}_ms"] = await median_ms(lambda w=where: log.page(w, limit=200))
    result["scroll_page_ms"] = await median_ms(lambda: log.page(before_id=count // 2,
                                                                 limit=200))
    return result


def postgres_database(server_url: str):
    server = make_url(server_url)
    if server.drivername in ("postgres", "postgresql"):
        server = server.set(drivername="postgresql+psycopg")
    name = f"uhadmin_bench_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return admin, name, server.set(database=name).render_as_string(hide_password=False)


async def bench(args: argparse.Namespace) -> dict:
    results = {"sync": await sync_overhead(args.listings, args.rounds)}
    if args.entries == 0:
        return results
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'log.db'}")
        db.upgrade()
        results["sqlite"] = await million(db, args.entries)
        db.close()
    if args.postgres:
        admin, name, url = postgres_database(args.postgres)
        try:
            db = Database(url)
            db.upgrade()
            results["postgresql"] = await million(db, args.entries)
            db.close()
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=4000,
                        help="listings synced with and without the log (each, over all "
                             "rounds: 250 per run by default)")
    parser.add_argument("--rounds", type=int, default=16,
                        help="pairs of runs (one with the log, one without)")
    parser.add_argument("--callgrind", type=int, default=0, metavar="N",
                        help="also count instructions over N listings under valgrind "
                             "(minutes; 0 skips it)")
    parser.add_argument("--entries", type=int, default=1_000_000,
                        help="log entries for part 2 (0 skips it)")
    parser.add_argument("--postgres", default=os.environ.get("UHADMIN_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from uhadmin.views.event_loop import QtEventLoop

    found = QApplication.instance()
    app = found if isinstance(found, QApplication) else QApplication([])
    app.setQuitOnLastWindowClosed(False)  # closing the measured tab must not stop the loop
    loop = QtEventLoop(app)  # the app's own loop (uhadmin.views.event_loop.run_app)
    asyncio.set_event_loop(loop)
    with loop:
        results = loop.run_until_complete(bench(args))
    if args.callgrind:
        from stripe_log_callgrind import measure

        results["callgrind"] = measure(args.callgrind)
    print(json.dumps(results, indent=2))
    targets = {"sync cost < 5 % (median pair, wall)":
               results["sync"]["wall_cost_percent"]["median"] < 5.0}
    for backend in ("sqlite", "postgresql"):
        if backend in results:
            figures = results[backend]
            targets[f"{backend}: tab opens < 1 s"] = figures["tab_open_ms"] < 1000
            for key, value in figures.items():
                if key.startswith("filter_"):
                    targets[f"{backend}: {key[7:-3]} < 100 ms"] = value < 100
    for name, met in targets.items():
        print(f"{'met ' if met else 'MISSED'} {name}")
    cost = results["sync"]["wall_cost_percent"]
    if cost["q1"] < 5.0 <= cost["q3"]:
        print(f"note: the pairs' quartiles ({cost['q1']} %, {cost['q3']} %) straddle 5 %: "
              "the machine's noise decides this run; see cpu_cost_percent and --callgrind")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
