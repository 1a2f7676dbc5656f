"""4 admins syncing 2,000 listings at once on PostgreSQL against a Stripe limited to 25/s
(run: python bench/sync_team_bench.py [--listings N] [--workers N]).

A fresh PostgreSQL database (UHADMIN_TEST_POSTGRES_URL's server, else the local one from
scripts/start_postgres.sh) holds N approved listings waiting for Stripe; the offline sandbox
answers 429 above 25 requests/s (Stripe test mode). The workers are `uhadmin sync`
processes started together with UHADMIN_STRIPE_RATE_LIMIT=25: each announces itself with a
heartbeat row and paces at 25 / running syncs. The floor is N / 25 s (one call per new
listing). Targets: wall (start-up included) within 1.15x of the floor, 0 double pushes,
< 1 % of requests answered 429. Prints one JSON object with the figures and machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from uhadmin.sandbox.server import SandboxServer
from uhadmin.services.database import Database

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_bench import seed_listings  # noqa: E402 - the bench folder is no package

ROOT = Path(__file__).resolve().parent.parent
SYNC = [sys.executable, "-c", "from uhadmin.cli import main; main()", "sync", "--json",
        "--no-progress"]
LIMIT = 25.0


def server_url() -> str:
    url = os.environ.get("UHADMIN_TEST_POSTGRES_URL", "").strip()
    if url:
        return url
    started = subprocess.run(["bash", str(ROOT / "scripts" / "start_postgres.sh")],
                             capture_output=True, text=True, check=True)
    return started.stdout.strip().splitlines()[-1]


def seed(url: str, count: int) -> None:
    db = Database(url)
    seed_listings(db, count)
    db.close()


def double_pushes(url: str) -> int:
    """Listing revisions whose push was recorded more than once."""
    db = Database(url)
    with db.session() as session:
        rows = session.execute(text(
            "SELECT entity_id, details FROM audit_log WHERE action = 'sync'")).all()
    db.close()
    revisions = Counter((entity_id, details["revision"]) for entity_id, details in rows)
    return sum(count - 1 for count in revisions.values())


def run(count: int, workers: int) -> dict:
    server = make_url(server_url()).set(drivername="postgresql+psycopg")
    name = f"uhadmin_bench_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    sandbox = SandboxServer().start()
    try:
        seed(url, count)
        sandbox.set_faults(rate_limit=LIMIT)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("UHADMIN_", "STRIPE_"))}
        env.update(UHADMIN_DATABASE_URL=url, UHADMIN_STRIPE_API_BASE=sandbox.url,
                   UHADMIN_STRIPE_RATE_LIMIT=str(LIMIT))
        load_before = os.getloadavg()
        started = time.perf_counter()
        processes = [subprocess.Popen(SYNC, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                     for _ in range(workers)]
        outputs = [process.communicate() for process in processes]
        wall = time.perf_counter() - started
        load_after = os.getloadavg()
        reports = [json.loads(out) if out.strip() else {"error": err[-500:]}
                   for out, err in outputs]
        stats = sandbox.stats
        with sandbox.store.lock:
            products = len(sandbox.store.objects["product"])
        floor = count / LIMIT
        rate_limited = stats.by_status.get(429, 0)
        return {
            "listings": count, "workers": workers, "limit_per_s": LIMIT,
            "floor_s": floor, "wall_s": round(wall, 1),
            "wall_vs_floor": round(wall / floor, 3),
            "slowest_run_s": max(report.get("elapsed_s", 0) for report in reports),
            "exit_codes": [process.returncode for process in processes],
            "created_per_worker": [report.get("created") for report in reports],
            "products_in_stripe": products, "double_pushes": double_pushes(url),
            "requests": stats.total, "answered_429": rate_limited,
            "share_429": round(rate_limited / max(stats.total, 1), 4),
            "load_avg_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "cpus": os.cpu_count(),
            "targets_met": {"wall": wall <= 1.15 * floor,
                            "no_double_push": double_pushes(url) == 0 and products == count,
                            "429_under_1pct": rate_limited < 0.01 * max(stats.total, 1)},
        }
    finally:
        sandbox.stop()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.listings, args.workers), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
