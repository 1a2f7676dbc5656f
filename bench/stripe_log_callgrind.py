"""The Stripe log's cost in instructions (valgrind --tool=callgrind), which load hardly moves.

    python bench/stripe_log_callgrind.py [--listings 300] [--repeat 2]

Processes run under callgrind against one sandbox (its own process, not traced), each
after the same warm-up (a small sync with the log, so every import and compiled statement
is in place): `base` only seeds a catalog of N listings, `without_log` also syncs it,
`with_log` syncs it with the log recording every request. Then
  sync instructions per listing = (without_log - base) / N
  log instructions per entry    = (with_log - without_log) / N
and their ratio is the log's share of the client's work; each syncing kind runs --repeat
times and its mean counts (a sync's count still moves a little with the timing of the
sandbox's answers: the spread between repeats shows how much). Batches are made of
BATCH entries (what a real sync's half-second flush delay gathers), not by the clock:
under valgrind the clock runs ~50x slower than the program and would make tiny batches.
The loop is plain asyncio (the CLI's); PYTHONHASHSEED is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_bench import SandboxProcess, make_catalog  # noqa: E402

from uhadmin.services import stripe_log  # noqa: E402
from uhadmin.services.stripe_log import StripeLogService  # noqa: E402

KINDS = ("base", "without_log", "with_log")
BATCH = 100
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


async def child(kind: str, url: str, folder: Path, listings: int) -> None:
    from stripe_log_bench import one_sync

    stripe_log.FLUSH_DELAY_S = 3600.0  # batches by count (see the module's docstring)
    stripe_log.FLUSH_NOW_AT = BATCH
    warm = make_catalog(folder, f"warm_{kind}.db", 20)
    await one_sync(warm, url, StripeLogService(warm))
    warm.close()
    db = make_catalog(folder, f"{kind}.db", listings)
    if kind != "base":
        await one_sync(db, url, StripeLogService(db) if kind == "with_log" else None)
    db.close()


def instructions(kind: str, url: str, listings: int) -> int:
    """Instructions callgrind counted in one child process of `kind`."""
    with tempfile.TemporaryDirectory() as folder:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out",
                   sys.executable, __file__, "--child", kind, "--url", url,
                   "--folder", folder, "--listings", str(listings)]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run {kind} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(listings: int, repeat: int = 2) -> dict:
    """Instructions per sync listing and per log entry, and their ratio; each syncing kind
    runs `repeat` times, in turn, and its mean counts (how much a sync's count moves with
    the timing of the sandbox's answers is the spread between repeats)."""
    counted: dict[str, list[int]] = {kind: [] for kind in KINDS}
    with SandboxProcess(rate_limit=None) as sandbox:
        counted["base"].append(instructions("base", sandbox.url, listings))
        for _ in range(repeat):
            for kind in KINDS[1:]:
                counted[kind].append(instructions(kind, sandbox.url, listings))
    mean = {kind: statistics.mean(values) for kind, values in counted.items()}
    per_listing = (mean["without_log"] - mean["base"]) / listings
    per_entry = (mean["with_log"] - mean["without_log"]) / listings
    return {"listings": listings, "batch": BATCH, "repeat": repeat,
            "sync_instructions_per_listing": round(per_listing),
            "log_instructions_per_entry": round(per_entry),
            "log_share_percent": round(100 * per_entry / per_listing, 2),
            "repeat_spread_per_listing": {
                kind: round((max(values) - min(values)) / listings)
                for kind, values in counted.items() if kind != "base"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each syncing kind (their mean counts)")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(child(args.child, args.url, Path(args.folder), args.listings))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    print(json.dumps(measure(args.listings, args.repeat), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
