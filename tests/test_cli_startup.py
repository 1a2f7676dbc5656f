"""What the command line loads: `--help` no command module; `listings list` SQLAlchemy Core
alone (no ORM, keyring, Stripe, Alembic, Qt or PostgreSQL dialect) on a SQLite catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# CLI subprocesses (seconds each on a loaded 2-core machine): CI and the full suite run them.
pytestmark = pytest.mark.slow

PROBE = """
import json, sys
from uhadmin.cli import main
code = main.main(sys.argv[1:], standalone_mode=False)
loaded = sorted(sys.modules)
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def loaded_by(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules a run of `uhadmin ARGS` imported: uhadmin's, SQLAlchemy's dialect packages
    and its ORM by their full names, every other package by its top-level name."""
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, timeout=120, env=env)
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, result.stderr
    return {name if name.startswith(("uhadmin", "sqlalchemy.dialects.", "sqlalchemy.orm")) else
            name.split(".")[0] for name in report["loaded"]}


def test_help_loads_no_command_module_and_no_database_layer():
    loaded = loaded_by("--help")
    assert not {name for name in loaded if name.startswith("uhadmin.cli.")} - {
        "uhadmin.cli.common"}
    assert not loaded & {"sqlalchemy", "keyring", "stripe", "PySide6", "asyncio", "babel"}


def test_listings_list_json_opens_no_keyring_and_no_stripe(tmp_path: Path):
    env = {**os.environ, "UHADMIN_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}"}
    env.pop("PYTHON_KEYRING_BACKEND", None)  # the machine's own keyring, as for a person
    subprocess.run([sys.executable, "-m", "uhadmin.cli", "db", "upgrade"], env=env,
                   check=True, capture_output=True, timeout=120)
    loaded = loaded_by("listings", "list", "--limit", "50", "--json", env=env)
    assert "uhadmin.cli.listing_commands" in loaded and "sqlalchemy" in loaded
    assert not loaded & {"keyring", "stripe", "httpx", "alembic", "PySide6", "babel",
                         "pydantic"}
    # A catalog at the newest schema is read with SQLAlchemy Core (services/core_read.py):
    # the ORM, the services' threads and the dataclasses of checkout and sync cost more
    # than the rest of the command (bench/startup_bench.py).
    assert not {name for name in loaded if name.startswith("sqlalchemy.orm")}
    assert not loaded & {"uhadmin.bootstrap", "uhadmin.services.database",
                         "uhadmin.services.tables", "uhadmin.services.listings",
                         "uhadmin.domain.checkout", "uhadmin.domain.sync"}
    # SQLAlchemy loads a dialect's whole package (every driver module) once anything names
    # it: PostgreSQL's costs a quarter of this command's start and a SQLite catalog never
    # needs it.
    assert "sqlalchemy.dialects.sqlite" in loaded
    assert not {name for name in loaded if name.startswith("sqlalchemy.dialects.postgresql")}


def test_sync_loads_the_stripe_sdk_without_requests(tmp_path: Path):
    # The SDK imports `requests` as it loads, for a default client uhadmin never uses
    # (~60 ms of every start that loads the SDK): the gateway package keeps it out.
    env = {**os.environ, "UHADMIN_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}",
           "UHADMIN_STRIPE_API_BASE": "http://127.0.0.1:9"}
    env.pop("UHADMIN_STRIPE_API_KEY", None)
    subprocess.run([sys.executable, "-m", "uhadmin.cli", "db", "upgrade"], env=env,
                   check=True, capture_output=True, timeout=120)
    loaded = loaded_by("sync", "--dry-run", "--json", env=env)
    assert "stripe" in loaded and "uhadmin.services.stripe_gateway" in loaded
    assert not loaded & {"requests", "urllib3", "charset_normalizer"}
    # Nor, on SQLite, the PostgreSQL dialect (the partial indexes that name it are declared
    # for migrations only) or Alembic (a catalog at the newest schema is not migrated).
    assert not {name for name in loaded if name.startswith("sqlalchemy.dialects.postgresql")}
    assert "alembic" not in loaded
    # ... and `requests` is still there for anything that imports it afterwards.
    code = ("import uhadmin.services.stripe_gateway, sys; assert 'requests' not in sys.modules;"
            " import requests")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
