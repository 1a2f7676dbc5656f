"""The `uhadmin` command line against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from uhadmin.cli import main


@pytest.fixture
def uhadmin(database):
    """Run `uhadmin --database-url <test database> ARGS...` in-process."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, ["--database-url", database.url, *args],
                             catch_exceptions=False)

    return invoke


def add(uhadmin, *args: str) -> dict:
    result = uhadmin("listings", "add", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_add_prints_the_new_listing_id_first(uhadmin):
    result = uhadmin("listings", "add", "--title", "Red bike", "--price", "12.50")
    assert result.exit_code == 0, result.stderr
    fields = result.stdout.strip().split("\t")
    assert fields[0].isdigit()
    assert fields[1:] == ["draft", "not_published", "$12.50", "Red bike"]


def test_add_with_status_approved_walks_the_workflow_and_records_each_step(uhadmin):
    listing = add(uhadmin, "--title", "Desk", "--price", "40", "--description", "oak",
                  "--image", "https://img.example/a.jpg", "--image", "https://img.example/b.jpg",
                  "--status", "approved")
    assert (listing["status"], listing["sync_state"], listing["version"]) == (
        "approved", "pending", 3)
    assert listing["price_minor"] == 4000 and listing["price"] == "40.00"
    assert listing["image_urls"] == ["https://img.example/a.jpg", "https://img.example/b.jpg"]


def test_add_in_a_zero_decimal_currency(uhadmin):
    listing = add(uhadmin, "--title", "Kettle", "--price", "500", "--currency", "JPY")
    assert (listing["price_minor"], listing["currency"]) == (500, "jpy")


def test_list_filters_and_searches(uhadmin):
    add(uhadmin, "--title", "Mountain bike", "--price", "125", "--status", "approved")
    add(uhadmin, "--title", "Bike lock", "--price", "15")
    add(uhadmin, "--title", "Lamp", "--price", "9")
    result = uhadmin("listings", "list", "--search", "bik", "--status", "approved", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total"] == 1 and [x["title"] for x in data["items"]] == ["Mountain bike"]

    text = uhadmin("listings", "list", "--sort", "price", "--ascending", "--limit", "2")
    lines = text.stdout.strip().splitlines()
    assert [line.split("\t")[-1] for line in lines[:2]] == ["Lamp", "Bike lock"]
    assert lines[-1] == "(1-2 of 3 listings)"

    pending = json.loads(uhadmin("--json", "listings", "list", "--sync-state", "pending").stdout)
    assert [x["title"] for x in pending["items"]] == ["Mountain bike"]


def test_show_update_and_status(uhadmin):
    listing_id = add(uhadmin, "--title", "Chair", "--price", "20")["id"]
    shown = uhadmin("listings", "show", str(listing_id))
    assert shown.exit_code == 0 and "Chair" in shown.stdout and "$20.00" in shown.stdout

    updated = json.loads(uhadmin("listings", "update", str(listing_id), "--price", "22.50",
                                 "--title", "Oak chair", "--json").stdout)
    assert (updated["title"], updated["price_minor"], updated["version"]) == (
        "Oak chair", 2250, 2)

    for status in ("pending_review", "rejected"):
        result = uhadmin("listings", "status", str(listing_id), status, "--reason", "wobbly",
                         "--json")
        assert result.exit_code == 0, result.stderr
    final = json.loads(uhadmin("listings", "show", str(listing_id), "--json").stdout)
    assert (final["status"], final["rejection_reason"]) == ("rejected", "wobbly")


def test_rejecting_needs_a_reason_and_a_rejected_listing_goes_back_to_draft(uhadmin):
    listing_id = add(uhadmin, "--title", "Lamp", "--price", "9")["id"]
    assert uhadmin("listings", "status", str(listing_id), "pending_review").exit_code == 0
    refused = uhadmin("listings", "status", str(listing_id), "rejected")
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "--reason" in refused.stderr
    assert uhadmin("listings", "status", str(listing_id), "rejected", "--reason",
                   "blurry").exit_code == 0
    back = uhadmin("listings", "status", str(listing_id), "draft", "--json")
    assert back.exit_code == 0, back.stderr
    assert json.loads(back.stdout)["status"] == "draft"
    help_text = uhadmin("listings", "status", "--help").stdout
    assert "rejected -> draft" in help_text and "--reason" in help_text


def test_delete_only_a_draft(uhadmin):
    draft = add(uhadmin, "--title", "Mug", "--price", "3")["id"]
    assert uhadmin("listings", "delete", str(draft)).stdout.strip() == f"deleted listing {draft}"
    assert uhadmin("listings", "show", str(draft)).exit_code == 1

    live = add(uhadmin, "--title", "Mug", "--price", "3", "--status", "approved")["id"]
    refused = uhadmin("listings", "delete", str(live))
    assert refused.exit_code == 1 and "only a draft" in refused.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("listings", "add", "--title", "X", "--price", "12.505"), "price: at most 2 decimal"),
    (("listings", "add", "--title", " ", "--price", "12"), "title: required"),
    (("listings", "show", "424242"), "listing 424242 does not exist"),
    (("listings", "update", "1"), "nothing to change"),
])
def test_errors_are_one_line_on_stderr_and_exit_non_zero(uhadmin, args, message):
    result = uhadmin(*args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr

    as_json = uhadmin("--json", *args)
    body = json.loads(as_json.stderr)
    assert as_json.exit_code == 1 and message in body["message"] and body["error"]


def test_illegal_transition_is_refused_with_the_allowed_ones(uhadmin):
    listing_id = add(uhadmin, "--title", "Mug", "--price", "3")["id"]
    result = uhadmin("listings", "status", str(listing_id), "approved", "--json")
    body = json.loads(result.stderr)
    assert result.exit_code == 1 and body["error"] == "IllegalTransitionError"
    assert "allowed from draft: pending_review" in body["message"]


def test_db_upgrade_reports_the_revision(uhadmin):
    result = uhadmin("db", "upgrade", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["revision"]


def test_database_url_comes_from_the_environment_and_the_flag_wins(tmp_path, monkeypatch):
    env_db = tmp_path / "from-env.db"
    flag_db = tmp_path / "from-flag.db"
    monkeypatch.setenv("UHADMIN_DATABASE_URL", f"sqlite:///{env_db}")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert env_db.exists()
    assert runner.invoke(main, ["--database-url", f"sqlite:///{flag_db}", "db",
                                "upgrade"]).exit_code == 0
    assert flag_db.exists()


@pytest.mark.slow
def test_unreachable_database_is_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from uhadmin.cli import main; main()", "--database-url",
         "postgresql://someone:secret-pw@127.0.0.1:1/nothing", "listings", "list"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: database") and result.stderr.count("\n") == 1
    assert "secret-pw" not in result.stderr
