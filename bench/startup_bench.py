"""Start-up cost of the command line beside the imports it cannot avoid, in one run.

    python bench/startup_bench.py [--runs 15]

Each command runs as a fresh process (as a shell runs it), interleaved with its baseline so
machine load hits both alike; the medians of wall and CPU time and their ratios are printed
with the targets (judged on wall time):
`uhadmin --help` within 2x of `python -c "import click"`, and `uhadmin listings list --limit
50 --json` (a 200-listing SQLite catalog) within 1.3x of `python -c "import sqlalchemy,
click"`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP_TARGET = 2.0
LIST_TARGET = 1.3


def uhadmin_command() -> list[str]:
    """The installed `uhadmin` script beside this Python (what a person runs)."""
    script = Path(sys.executable).with_name("uhadmin")
    return [str(script)] if script.exists() else [sys.executable, "-m", "uhadmin.cli"]


def seconds(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(
    command: list[str], baseline: list[str], env: dict[str, str], runs: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) of `command` and of `baseline`, run alternately."""
    for _ in range(2):  # warm the file cache and .pyc files
        seconds(command, env), seconds(baseline, env)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(seconds(command, env))
        theirs.append(seconds(baseline, env))

    def medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
        return (
            statistics.median(s[0] for s in samples),
            statistics.median(s[1] for s in samples),
        )

    return medians(ours), medians(theirs)


def seed(env: dict[str, str], count: int = 200) -> None:
    uhadmin = uhadmin_command()
    subprocess.run([*uhadmin, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
    code = (
        "import asyncio\n"
        "from uhadmin.bootstrap import build_services\n"
        "from uhadmin.config import load_settings\n"
        "from uhadmin.domain import NewListing\n"
        "services = build_services(load_settings())\n"
        "async def main():\n"
        f"    for n in range({count}):\n"
        "        await services.listings.create(NewListing(title=f'Listing {n}',"
        " price_minor=100 + n, currency='usd'), actor='bench')\n"
        "asyncio.run(main())\n"
        "services.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="uhadmin-startup-") as temp:
        env = {key: value for key, value in os.environ.items() if not key.startswith("UHADMIN_")}
        # A private catalog and settings; the OS keyring is whatever this machine has, as
        # for a person (uhadmin must not ask it for commands that need no Stripe key).
        env.update(
            XDG_DATA_HOME=f"{temp}/data",
            XDG_CONFIG_HOME=f"{temp}/config",
            UHADMIN_DATABASE_URL=f"sqlite:///{temp}/catalog.sqlite3",
            # Bytecode caches for both sides, as any install has them: with
            # PYTHONDONTWRITEBYTECODE (set on some machines, this one included) uhadmin's
            # own modules were compiled from source on every run while the baselines'
            # came precompiled by pip. The warm-up runs fill this private cache.
            PYTHONPYCACHEPREFIX=f"{temp}/pycache",
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        seed(env)
        uhadmin = uhadmin_command()
        python = sys.executable
        rows = [
            (
                "uhadmin --help",
                [*uhadmin, "--help"],
                'python -c "import click"',
                [python, "-c", "import click"],
                HELP_TARGET,
            ),
            (
                "uhadmin listings list --limit 50 --json",
                [*uhadmin, "listings", "list", "--limit", "50", "--json"],
                'python -c "import sqlalchemy, click"',
                [python, "-c", "import sqlalchemy, click"],
                LIST_TARGET,
            ),
        ]
        print(
            f"{runs} runs each, medians (load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores: wall time is noisy on a busy machine, CPU time less)"
        )
        print(
            f"{'command':<42} {'wall ms':>8} {'cpu ms':>7}   {'baseline':<36} "
            f"{'wall ms':>8} {'cpu ms':>7}  wall x  cpu x  target"
        )
        failed = False
        for name, command, base_name, baseline, target in rows:
            (ours, our_cpu), (theirs, their_cpu) = compare(command, baseline, env, runs)
            ratio, cpu_ratio = ours / theirs, our_cpu / their_cpu
            failed |= ratio > target
            print(
                f"{name:<42} {ours * 1000:8.0f} {our_cpu * 1000:7.0f}   {base_name:<36} "
                f"{theirs * 1000:8.0f} {their_cpu * 1000:7.0f}  {ratio:6.2f} {cpu_ratio:6.2f}"
                f"  {'<=' if ratio <= target else '> '} {target}"
            )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
