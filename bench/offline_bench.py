"""Offline review benchmark: copy a 100,000-listing catalog, refresh it, push offline changes.

    python bench/offline_bench.py [--rows 100000] [--changed 1000] [--operations 1000]

The catalog is PostgreSQL (UHADMIN_TEST_POSTGRES_URL, else the local server; a database
uhadmin_bench_<random> is created and dropped), the replica a temporary SQLite file, as in
use. Each figure is one run of the real code (OfflineService.refresh / push through the
ListingService), wall and this process's CPU time side by side with its target (issue 12):
first full copy < 30 s; a refresh with 1,000 rows changed < 2 s; a push of 1,000 offline
operations < 10 s (the push's closing refresh of the copy included).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_bench import generate_rows, postgres_database  # noqa: E402

from uhadmin.domain import ListingChanges, ListingQuery, SortKey  # noqa: E402
from uhadmin.services.change_bus import ChangeBus  # noqa: E402
from uhadmin.services.listings import ListingService  # noqa: E402
from uhadmin.services.offline.service import OfflineService, open_replica  # noqa: E402
from uhadmin.services.search import insert_listings_in_bulk  # noqa: E402

TARGETS_S = {"first full copy": 30.0, "refresh, 1,000 changed": 2.0,
             "push 1,000 offline operations": 10.0}


class Timer:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


async def measure(db, folder: Path, rows: int, changed: int, operations: int) -> list[tuple]:
    service = ListingService(db, ChangeBus())
    offline = OfflineService(open_replica(folder, db.url), ChangeBus(), catalog=db,
                             listings=service)
    figures = []
    with Timer() as first:
        report = await offline.refresh()
    assert report.changed == rows, report
    figures.append((f"first full copy ({rows:,} listings)", "first full copy", first))

    with db.session(write=True) as session:  # someone edits `changed` listings
        session.execute(text(
            "UPDATE listings SET title = title || ' (edited)', version = version + 1 "
            "WHERE id IN (SELECT id FROM listings ORDER BY id LIMIT :n)"), {"n": changed})
    with Timer() as again:
        report = await offline.refresh()
    assert report.changed == changed, report
    figures.append((f"refresh, {changed:,} of {rows:,} changed", "refresh, 1,000 changed",
                    again))

    page = await offline.replica.search(ListingQuery(sort=SortKey.ID, limit=operations))
    ids = [item.id for item in page.items]
    for listing_id in ids:  # recorded offline (not timed: each is one keystroke's save)
        listing = await offline.offline_listings.get(listing_id)
        await offline.offline_listings.update(
            listing_id, ListingChanges(price_minor=listing.price_minor + 1),
            expected_version=listing.version, actor="bench")
    with Timer() as push:
        pushed = await offline.push()
    assert pushed.applied == operations and not pushed.conflicts, pushed
    figures.append((f"push {operations:,} offline operations", "push 1,000 offline operations",
                    push))
    offline.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--operations", type=int, default=1000)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with postgres_database() as db, tempfile.TemporaryDirectory(prefix="uhadmin-bench-") as tmp:
        db.upgrade()
        with db.session(write=True) as session:
            insert_listings_in_bulk(session, generate_rows(args.rows))
        figures = asyncio.run(measure(db, Path(tmp), args.rows, args.changed, args.operations))
    print(f"load average (1 min) before/after: {load_before:.2f}/{os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} CPUs (other work on the machine slows wall time)")
    print(f"{'measure':<40} {'wall':>8} {'cpu':>8} {'target':>7} {'ratio':>6}")
    met = True
    for label, key, timer in figures:
        target = TARGETS_S[key]
        ratio = timer.wall / target
        met &= ratio <= 1
        print(f"{label:<40} {timer.wall:>6.2f} s {timer.cpu:>6.2f} s {target:>5.0f} s "
              f"{ratio:>6.2f}{'' if ratio <= 1 else '  over'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
