"""The Stripe log's cost in instructions (valgrind --tool=callgrind), which load hardly moves.

    python bench/stripe_log_callgrind.py [--listings 300] [--repeat 2]

Processes run under callgrind against one sandbox (its own process, not traced), each
after the same warm-up (a small sync with the log, so every import and compiled statement
is in place) and the same set-up (a catalog of N listings seeded, N exchanges of a real
sync loaded from a file):
  base         nothing more
  without_log  syncs the N listings
  with_log     syncs them with the log recording every request
  replay       hands the N recorded exchanges (REPLAYS times over) to the gateway's
               recording hook, the log queueing, shaping and inserting them, in batches,
               on an event loop
Then
  sync instructions per listing = (without_log - base) / N
  log instructions per entry    = (replay - base) / (N x REPLAYS)
  live, per entry               = (with_log - without_log) / N   (moves with timing)
and their ratio is the log's share of the client's work. A sync's count moves with the
timing of the sandbox's answers (the spread between --repeat runs shows how much, and its
mean counts), which is why the replay, with no network, gives the per-entry figure; the
warm-up sync every kind makes still moves both base and replay a little (REPLAYS).
Batches are made of BATCH entries (what a real sync's half-second flush delay gathers),
not by the clock: under valgrind the clock runs ~50x slower than the program. The loop is
plain asyncio (the CLI's); PYTHONHASHSEED is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_bench import SandboxProcess, make_catalog  # noqa: E402

from uhadmin.services import stripe_log  # noqa: E402
from uhadmin.services.stripe_log import StripeLogService  # noqa: E402

KINDS = ("base", "without_log", "with_log", "replay")
BATCH = 100
# The recorded exchanges are replayed this many times: the warm-up sync's own count moves
# with the sandbox's timing (by up to ~20 million instructions), spread over more entries.
REPLAYS = 4
EXCHANGES = "exchanges.pickle"
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


class _Keep:
    """A log stand-in that keeps every raw exchange the hook hands it."""

    def __init__(self) -> None:
        self.raws: list[dict[str, Any]] = []

    def record(self, raw: dict[str, Any]) -> None:
        self.raws.append(raw)

    async def aclose(self) -> None:
        return None


async def record_exchanges(url: str, folder: Path, listings: int) -> None:
    """A real sync's exchanges, as the hook saw them, saved for the replay."""
    from stripe_log_bench import one_sync

    db = make_catalog(folder, "exchanges.db", listings)
    kept = _Keep()
    await one_sync(db, url, kept)  # type: ignore[arg-type]  # only record/aclose are used
    db.close()
    (folder / EXCHANGES).write_bytes(pickle.dumps(kept.raws))


def hook_calls(raws: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The recording hook's arguments for each exchange, as the SDK's answer brings them
    (request headers as a dict, response headers as httpx's); every kind makes them, so
    their making is not counted as the log's."""
    import httpx

    calls = []
    for raw in raws:
        headers = {"Authorization": "Bearer sk_test_replay", "Stripe-Version":
                   raw["api_version"], "Content-Type": "application/x-www-form-urlencoded"}
        if raw["idempotency_key"]:
            headers["Idempotency-Key"] = raw["idempotency_key"]
        answer = httpx.Headers({"Content-Type": "application/json",
                                "Request-Id": raw["request_id"] or ""})
        calls.append((raw["at"], 0.0, raw["method"].lower(), raw["url"], headers,
                      raw["body"], raw["status"], answer, raw["content"], None))
    return calls


async def replay(calls: list[tuple[Any, ...]], log: StripeLogService) -> None:
    """Each exchange through RecordingHTTPXClient._record into the log."""
    from uhadmin.services.stripe_gateway.recording import RecordingHTTPXClient

    # The hook without its HTTPX client: making one (an SSL context) costs more than the
    # whole replay, and a sync makes it once.
    client = RecordingHTTPXClient.__new__(RecordingHTTPXClient)
    client._counter, client._sink = collections.Counter(), lambda: log.record
    for number, call in enumerate(calls, 1):
        client._record(*call)
        if number % BATCH == 0:
            await asyncio.sleep(0)  # the loop turns: the full batch's flush starts
    await log.aclose()


async def child(kind: str, url: str, folder: Path, listings: int) -> None:
    from stripe_log_bench import one_sync

    stripe_log.FLUSH_DELAY_S = 3600.0  # batches by count (see the module's docstring)
    stripe_log.FLUSH_NOW_AT = BATCH
    work = Path(tempfile.mkdtemp(dir=folder))  # each run its own catalogs
    warm = make_catalog(work, "warm.db", 20)
    await one_sync(warm, url, StripeLogService(warm))
    warm.close()
    db = make_catalog(work, "catalog.db", listings)
    calls = hook_calls(pickle.loads((folder / EXCHANGES).read_bytes())) * REPLAYS
    if kind in ("without_log", "with_log"):
        await one_sync(db, url, StripeLogService(db) if kind == "with_log" else None)
    elif kind == "replay":
        await replay(calls, StripeLogService(db))
    db.close()


def instructions(kind: str, url: str, folder: Path, listings: int) -> int:
    """Instructions callgrind counted in one child process of `kind`."""
    out = folder / f"callgrind.{kind}"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               sys.executable, __file__, "--child", kind, "--url", url,
               "--folder", str(folder), "--listings", str(listings)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    out.unlink(missing_ok=True)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run {kind} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(listings: int, repeat: int = 2) -> dict:
    """Instructions per sync listing and per log entry, and their ratio; each syncing kind
    runs `repeat` times, in turn, and its mean counts."""
    counted: dict[str, list[int]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory() as name, SandboxProcess(rate_limit=None) as sandbox:
        folder = Path(name)
        asyncio.run(record_exchanges(sandbox.url, folder, listings))
        for kind in ("base", "replay"):
            counted[kind].append(instructions(kind, sandbox.url, folder, listings))
        for _ in range(repeat):
            for kind in ("without_log", "with_log"):
                counted[kind].append(instructions(kind, sandbox.url, folder, listings))
    mean = {kind: statistics.mean(values) for kind, values in counted.items()}
    per_listing = (mean["without_log"] - mean["base"]) / listings
    per_entry = (mean["replay"] - mean["base"]) / (listings * REPLAYS)
    live = (mean["with_log"] - mean["without_log"]) / listings
    return {"listings": listings, "batch": BATCH, "repeat": repeat,
            "sync_instructions_per_listing": round(per_listing),
            "log_instructions_per_entry": round(per_entry),
            "log_share_percent": round(100 * per_entry / per_listing, 2),
            "live_log_instructions_per_entry": round(live),
            "live_log_share_percent": round(100 * live / per_listing, 2),
            "repeat_spread_per_listing": {
                kind: round((max(values) - min(values)) / listings)
                for kind, values in counted.items() if len(values) > 1}}


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
