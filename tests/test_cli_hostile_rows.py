"""Every listings command, run as a person runs it (a subprocess), over a catalog holding the
hostile website rows: the bad ones show as needing fixing, nothing tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hostile_rows import expected, insert_hostile_rows

# Each test starts a dozen CLI processes (seconds each on a loaded 2-core machine): the
# full suite and CI run them, the `-m "not slow"` loop does not.
pytestmark = pytest.mark.slow

SHOWN = {"good", "currency-xyz", "images-object", "price-above-max", "images-not-json",
         "price-text", "title-blob"}


def run(database, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-c", "from uhadmin.cli import main; main()",
         "--database-url", database.url, *args],
        capture_output=True, text=True, timeout=180, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_list_and_show_show_what_needs_fixing(database):
    ids = insert_hostile_rows(database)
    cases = expected(database.dialect)
    bad = {case for case, fields in cases.items() if fields}

    listed = run(database, "--json", "listings", "list", "--limit", "1000")
    assert listed.returncode == 0, listed.stderr
    items = {item["category"]: item for item in json.loads(listed.stdout)["items"]}
    assert set(items) == set(cases)
    for case, fields in cases.items():
        assert items[case]["needs_fixing"] == bool(fields)
        assert {p["field"] for p in items[case]["problems"]} == fields
    assert items["currency-xyz"]["price"] is None  # no major units in an unknown currency

    text = run(database, "listings", "list", "--limit", "1000")
    assert text.returncode == 0, text.stderr
    lines = {int(line.split("\t")[0]): line for line in text.stdout.splitlines()[:-1]}
    assert "needs fixing: currency: 'xyz' is not a currency Stripe accepts" in lines[
        ids["currency-xyz"]]
    assert "needs fixing" not in lines[ids["good"]]
    assert f"{len(bad)} shown need fixing" in text.stdout.splitlines()[-1]

    only = json.loads(run(database, "listings", "list", "--needs-fixing", "--json",
                          "--limit", "5").stdout)
    assert only["total"] == len(bad) and len(only["items"]) == 5

    # One of each kind (each subprocess costs a second): the JSON list above had them all.
    for case in SHOWN & set(ids):
        listing_id = ids[case]
        shown = run(database, "listings", "show", str(listing_id))
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith("needs fixing") == bool(cases[case])
        data = json.loads(run(database, "listings", "show", str(listing_id), "--json").stdout)
        assert {p["field"] for p in data["problems"]} == cases[case]


def test_staff_fix_a_bad_row_from_the_command_line(database):
    ids = insert_hostile_rows(database)
    refused = run(database, "listings", "update", str(ids["currency-xyz"]), "--price", "12")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "currency" in refused.stderr

    fixed = run(database, "--json", "listings", "update", str(ids["currency-xyz"]),
                "--currency", "usd", "--price", "12.50")
    assert fixed.returncode == 0, fixed.stderr
    data = json.loads(fixed.stdout)
    assert (data["needs_fixing"], data["price_minor"], data["currency"]) == (False, 1250, "usd")

    moved = run(database, "listings", "status", str(ids["images-object"]), "archived")
    assert moved.returncode == 0, moved.stderr
    assert "needs fixing: images" in moved.stdout


def test_sync_and_reconcile_read_every_row_without_a_traceback(database):
    insert_hostile_rows(database)
    for command in (["sync"], ["reconcile"], ["--json", "sync"], ["--json", "reconcile"]):
        result = run(database, *command)
        assert result.returncode in (0, 1), result.stderr
        assert result.stdout.strip() or result.stderr.strip()
