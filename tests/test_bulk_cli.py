"""`uhadmin listings bulk-status` run as a person runs it: a subprocess over a real catalog."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from catalog_seed import seed

from uhadmin.services.listing_bulk import BULK_BATCH_SIZE

# CLI subprocesses (seconds each on a loaded 2-core machine): CI and the full suite run them.
pytestmark = pytest.mark.slow


def uhadmin(database, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uhadmin.cli", "--database-url", database.url,
                           *args], capture_output=True, text=True, timeout=120, check=False)


def test_every_match_moves_with_progress_and_a_count_of_what_was_skipped(sqlite_database):
    seed(sqlite_database, BULK_BATCH_SIZE + 30, "pending_review", "Lamp")
    seed(sqlite_database, 2, "approved", "Lamp")
    seed(sqlite_database, 5, "pending_review", "Kettle")
    done = uhadmin(sqlite_database, "listings", "bulk-status", "--search", "lamp",
                   "--where-status", "pending_review", "--where-status", "approved",
                   "--to", "approved")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("Approved 230 of 232 matching; skipped 2: already "
                                   "approved")
    assert done.stderr.splitlines() == ["200/232 looked at, 200 changed",
                                        "232/232 looked at, 230 changed"]
    kettles = uhadmin(sqlite_database, "listings", "list", "--status", "pending_review",
                      "--json")
    assert json.loads(kettles.stdout)["total"] == 5


def test_a_rejection_needs_a_reason_and_a_filter_is_required(sqlite_database):
    seed(sqlite_database, 3, "pending_review")
    refused = uhadmin(sqlite_database, "listings", "bulk-status", "--where-status",
                      "pending_review", "--to", "rejected")
    assert refused.returncode == 1 and "--reason" in refused.stderr
    everything = uhadmin(sqlite_database, "listings", "bulk-status", "--to", "archived")
    assert everything.returncode == 1 and "give a filter" in everything.stderr
    done = uhadmin(sqlite_database, "listings", "bulk-status", "--where-status",
                   "pending_review", "--to", "rejected", "--reason", "Duplicate listing",
                   "--json")
    assert json.loads(done.stdout) == {"matched": 3, "changed": 3, "skipped": {},
                                       "to": "rejected"}
