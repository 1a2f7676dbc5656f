"""`uhadmin offline ...` and `--offline` as a person runs them: subprocesses against a
private PostgreSQL cluster that goes away and comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

pytest_plugins = ["private_postgres"]
pytestmark = pytest.mark.postgres


def uhadmin(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "UHADMIN_DATABASE_URL": url, "UHADMIN_ACTOR": "ana"}
    return subprocess.run([sys.executable, "-c", "from uhadmin.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def ok(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_review_offline_from_the_shell_and_merge_back(private_cluster) -> None:
    url = private_cluster.url
    for title in ("Lamp", "Desk"):
        ok(uhadmin(url, "listings", "add", "--title", title, "--price", "10",
                   "--status", "pending_review", "--json"))
    refreshed = ok(uhadmin(url, "offline", "refresh", "--json"))
    assert refreshed["changed"] == 2 and refreshed["listings"] == 2

    private_cluster.stop()
    refused = uhadmin(url, "listings", "update", "1", "--title", "Lamp (ana)")
    assert refused.returncode == 1
    assert "unreachable" in refused.stderr and "--offline" in refused.stderr
    assert "Traceback" not in refused.stderr
    edited = ok(uhadmin(url, "listings", "update", "1", "--title", "Lamp (ana)", "--offline",
                        "--json"))
    assert edited["title"] == "Lamp (ana)" and edited["offline"] is True
    ok(uhadmin(url, "listings", "status", "2", "approved", "--offline", "--json"))
    status = ok(uhadmin(url, "offline", "status", "--json"))
    assert set(status) >= {"catalog", "refreshed_at", "pending", "conflicts"}
    assert (status["pending"], status["conflicts"]) == (2, 0)
    assert status["catalog"] == url
    assert status["refreshed_at"] is not None
    not_now = uhadmin(url, "offline", "push", "--json")
    assert not_now.returncode == 1 and "unreachable" in json.loads(not_now.stderr)["message"]

    private_cluster.start()
    ok(uhadmin(url, "listings", "update", "1", "--title", "Lamp (web)", "--json"))
    pushed = uhadmin(url, "offline", "push", "--json")
    assert pushed.returncode == 2, pushed.stderr  # a conflict waits for a person
    report = json.loads(pushed.stdout)
    assert (report["applied"], report["merged"]) == (1, 0)
    [conflict] = report["conflicts"]
    assert conflict["listing_id"] == 1
    assert conflict["fields"] == [{"field": "title", "base": "Lamp", "theirs": "Lamp (web)",
                                   "mine": "Lamp (ana)"}]
    resolved = ok(uhadmin(url, "offline", "resolve", str(conflict["id"]), "--take", "mine",
                          "--json"))
    assert resolved["state"] == "resolved"
    assert ok(uhadmin(url, "listings", "show", "1", "--json"))["title"] == "Lamp (ana)"
    assert ok(uhadmin(url, "listings", "show", "2", "--json"))["status"] == "approved"
    assert ok(uhadmin(url, "offline", "status", "--json"))["conflicts"] == 0
    engine = create_engine(url)
    with engine.connect() as connection:
        actions = connection.execute(text(
            "SELECT entity_id, action, actor FROM audit_log WHERE action LIKE 'offline%' "
            "ORDER BY id")).all()
    engine.dispose()
    assert [tuple(row) for row in actions] == [
        ("1", "offline_conflict", "ana"), ("2", "offline_applied", "ana"),
        ("1", "offline_resolved", "ana")]
