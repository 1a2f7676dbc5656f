"""`uhadmin log` as a person runs it: a subprocess after a real sync against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each test runs a real sync against the sandbox, then `uhadmin log` processes: seconds each.
pytestmark = pytest.mark.slow

CANARY_KEY = "sk_test_CANARYcliLogq8NeverPrintThis"


@pytest.fixture
def uhadmin(tmp_path: Path, stripe_sandbox):
    env = {**os.environ, "UHADMIN_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
           "UHADMIN_STRIPE_API_BASE": stripe_sandbox.url,
           "UHADMIN_STRIPE_API_KEY": CANARY_KEY}
    outputs: list[str] = []

    def run(*args: str, code: int = 0) -> str:
        result = subprocess.run([sys.executable, "-c", "from uhadmin.cli import main; main()",
                                 "--create", *args], env=env, capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == code, result.stderr
        outputs.append(result.stdout + result.stderr)
        return result.stdout

    run.outputs = outputs  # type: ignore[attr-defined]
    run.database = tmp_path / "catalog.db"  # type: ignore[attr-defined]
    return run


def test_log_json_lists_the_sync_calls_newest_first_and_show_copies_them(uhadmin) -> None:
    first = json.loads(uhadmin("listings", "add", "--title", "Bike", "--price", "80",
                               "--status", "approved", "--json"))
    uhadmin("listings", "add", "--title", "Desk", "--price", "45", "--status", "approved")
    uhadmin("sync")

    every = json.loads(uhadmin("log", "--json"))["items"]
    # The sync asks which account the key belongs to first (GET /v1/account), then pushes.
    assert [(i["method"], i["path"]) for i in every[2:]] == [("GET", "/v1/account")]
    items = every[:2]
    assert len(items) == 2 and items[0]["id"] > items[1]["id"]
    for item in items:
        assert {"id", "time", "method", "path", "status", "request_id", "idempotency_key",
                "listing_id", "attempt_id", "latency_ms", "error_code", "params"} <= set(item)
        assert (item["method"], item["path"], item["status"]) == ("POST", "/v1/products", 200)
        assert item["request_id"].startswith("req_") and item["idempotency_key"]
        assert item["params"]["metadata"]["listing_id"] == str(item["listing_id"])
    bike = json.loads(uhadmin("log", "--listing", str(first["id"]), "--json"))["items"]
    assert [item["listing_id"] for item in bike] == [first["id"]]
    assert bike[0]["params"]["name"] == "Bike"
    assert json.loads(uhadmin("log", "--errors", "--json"))["items"] == []
    assert len(json.loads(uhadmin("log", "--since", "1h", "--limit", "1", "--json"))["items"]) \
        == 1

    text = uhadmin("log")
    assert text.count("POST   /v1/products  200") == 2 and "[sync]" in text
    shown = uhadmin("log", "show", str(bike[0]["id"]))
    assert "name = Bike" in shown and '"object": "product"' in shown
    for kind in ("curl", "node", "python"):
        assert "STRIPE_SECRET_KEY" in uhadmin("log", "show", str(bike[0]["id"]), "--as", kind)

    assert all(CANARY_KEY not in output for output in uhadmin.outputs)
    assert CANARY_KEY.encode() not in uhadmin.database.read_bytes()


def test_bad_input_is_one_clear_line(uhadmin) -> None:
    uhadmin("db", "upgrade")
    uhadmin("log", "--since", "soon", code=1)
    assert "--since" in uhadmin.outputs[-1] and "Traceback" not in uhadmin.outputs[-1]
    uhadmin("log", "show", "12345", code=1)
    assert uhadmin.outputs[-1].strip() == "error: no Stripe log entry 12345"


def test_follow_prints_new_calls_as_they_happen(uhadmin, tmp_path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from stripe_log_fixtures import a_raw_exchange

    from uhadmin.services.database import Database
    from uhadmin.services.stripe_log import StripeLogService

    uhadmin("db", "upgrade")
    env = {**os.environ, "UHADMIN_DATABASE_URL": f"sqlite:///{uhadmin.database}"}
    follower = subprocess.Popen(
        [sys.executable, "-c", "from uhadmin.cli import main; main()", "log", "--follow",
         "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert json.loads(follower.stdout.readline()) == {"items": []}
        db = Database(f"sqlite:///{uhadmin.database}")
        log = StripeLogService(db)

        async def write() -> None:
            for number in (1, 2):
                log.record(a_raw_exchange(number, datetime.now(UTC)))
            await log.flush()

        asyncio.run(write())
        db.close()
        lines = [json.loads(follower.stdout.readline()) for _ in range(2)]
        assert [line["request_id"] for line in lines] == ["req_000001", "req_000002"]
    finally:
        follower.terminate()
        follower.wait(timeout=30)
