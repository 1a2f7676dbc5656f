"""`uhadmin checkout ...` as a tester runs it: the real CLI on the in-process sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from click.testing import CliRunner

from uhadmin.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def pay(url: str, card: str) -> int:
    return httpx.post(url, data={"email": "b@example.test", "cardNumber": card,
                                 "cardExpiry": "12/34", "cardCvc": "123",
                                 "billingName": "B"}).status_code


@pytest.fixture
def approved_listing() -> int:
    code, out, err = run("listings", "add", "--title", "Desk lamp", "--price", "12.50",
                         "--status", "approved", "--json")
    assert code == 0, err
    return json.loads(out)["id"]


def read_line(stream, timeout: float = 30.0) -> str:
    """One line from a pipe, or fail after `timeout` (never hang the suite)."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert box, f"no line within {timeout} s"
    return box[0]


@pytest.mark.slow
def test_create_wait_prints_the_session_then_the_outcome(approved_listing):
    command = [sys.executable, "-c", "from uhadmin.cli import main; main()", "checkout",
               "create", "--listing", f"{approved_listing}:2", "--no-open", "--wait"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=dict(os.environ, UHADMIN_ACTOR="tess"))
    try:
        session = json.loads(read_line(process.stdout))
        assert set(session) == {"id", "url", "expires_at", "attempt_id"}
        assert session["id"].startswith("cs_test_")
        assert pay(session["url"], "4000 0000 0000 0002") == 402
        assert process.poll() is None  # a decline does not end the wait: the buyer may retry
        assert pay(session["url"], "4242 4242 4242 4242") == 303
        outcome = json.loads(read_line(process.stdout))
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert outcome == {"id": session["id"], "attempt_id": session["attempt_id"],
                       "outcome": "paid", "status": "complete", "payment_status": "paid",
                       "decline_code": "generic_decline",
                       "decline_message": "Your card was declined.",
                       "card": {"brand": "visa", "last4": "4242", "three_d_secure": False},
                       "interrupted": False}
    # The history survives the process: list reads the database, status asks Stripe again.
    code, out, _ = run("checkout", "list", "--json")
    [listed] = json.loads(out)
    assert (listed["id"], listed["outcome"], listed["tester"]) == (session["id"], "paid",
                                                                   "tess")
    assert listed["amount_total"] == 2500 and listed["lines"][0]["quantity"] == 2
    code, out, _ = run("checkout", "status", session["id"], "--json")
    assert code == 0 and json.loads(out)["outcome"] == "paid"


def test_without_wait_or_serve_create_refuses_pages_that_would_die(approved_listing):
    code, out, err = run("checkout", "create", "--listing", str(approved_listing),
                         "--no-open")
    assert code == 1 and out == ""
    assert "run `uhadmin checkout serve` in another terminal, use --wait" in err
    code, out, _ = run("checkout", "list", "--json")
    assert json.loads(out) == []  # nothing half-made


def test_create_status_expire_and_expire_mine(approved_listing, monkeypatch):
    # The website's own pages: nothing of this command needs to outlive it.
    monkeypatch.setenv("UHADMIN_SUCCESS_URL", "https://shop.example/thanks?s={CHECKOUT_SESSION_ID}")
    monkeypatch.setenv("UHADMIN_CANCEL_URL", "https://shop.example/cart")
    code, out, err = run("checkout", "create", "--listing", str(approved_listing),
                         "--no-open", "--expires-in", "45m", "--json")
    assert code == 0, err
    made = json.loads(out)
    assert set(made) == {"id", "url", "expires_at", "attempt_id"}
    code, out, _ = run("checkout", "status", made["id"])
    assert code == 0 and made["id"] in out and "open" in out
    code, out, _ = run("checkout", "expire", made["id"], "--json")
    assert code == 0 and json.loads(out)["outcome"] == "expired"
    code, _, err = run("checkout", "expire", made["id"])
    assert code == 1 and "only open sessions can be expired" in err
    code, out, err = run("checkout", "create", "--listing", f"{approved_listing}:1",
                         "--no-open")
    assert code == 0 and out.startswith("session  cs_test_")
    code, out, _ = run("checkout", "expire-mine", "--json")
    assert code == 0 and [a["outcome"] for a in json.loads(out)] == ["expired"]
    code, out, _ = run("checkout", "expire-mine")
    assert code == 0 and "no open sessions" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--listing", "abc"], "--listing: expected ID or ID:QTY"),
    (["--listing", "1:0"], "--listing: expected ID or ID:QTY"),
    (["--listing", "1", "--expires-in", "10m"], "expires_in: must be between 30 minutes"),
    (["--listing", "1", "--expires-in", "soon"], "--expires-in: expected a duration"),
    (["--listing", "999"], "listing 999 does not exist"),
])
def test_create_refuses_bad_input_with_one_clear_line(args, message):
    code, out, err = run("checkout", "create", "--no-open", *args)
    assert code == 1 and out == ""
    assert message in err and err.count("\n") == 1


def test_cards_lists_stripes_test_cards():
    code, out, _ = run("checkout", "cards", "--json")
    cards = json.loads(out)
    assert code == 0 and len(cards) == 12
    assert {"number": "4000 0000 0000 0002", "brand": "visa", "outcome": "declined",
            "decline_code": "generic_decline",
            "description": "Declined (generic decline)"} in cards


def start_cli(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-c", "from uhadmin.cli import main; main()", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, UHADMIN_ACTOR="tess"))


def finish(process: subprocess.Popen, timeout: float = 30) -> int:
    try:
        return process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_wait_sees_an_expiry_from_a_second_terminal(approved_listing):
    process = start_cli("checkout", "create", "--listing", str(approved_listing),
                        "--no-open", "--wait")
    try:
        session = json.loads(read_line(process.stdout))
        code, out, err = run("checkout", "expire", session["id"], "--json")
        assert code == 0, err
        outcome = json.loads(read_line(process.stdout))
    finally:
        code = finish(process)
    assert code == 0
    assert (outcome["outcome"], outcome["interrupted"]) == ("expired", False)


@pytest.mark.slow
def test_ctrl_c_ends_the_wait_cleanly_and_leaves_the_attempt_open(approved_listing):
    process = start_cli("checkout", "create", "--listing", str(approved_listing),
                        "--no-open", "--wait")
    try:
        session = json.loads(read_line(process.stdout))
        process.send_signal(signal.SIGINT)
        outcome = json.loads(read_line(process.stdout))
        code = finish(process, timeout=15)
        stderr = process.stderr.read()
    finally:
        finish(process)
    assert code == 130 and "Traceback" not in stderr
    assert (outcome["outcome"], outcome["interrupted"]) == ("open", True)
    code, out, _ = run("checkout", "status", session["id"], "--json")
    assert json.loads(out)["status"] == "open"  # the session is left as it was


@pytest.mark.slow
def test_serve_hosts_pages_for_sessions_made_by_separate_commands(approved_listing):
    serve = start_cli("checkout", "serve", "--port", "0", "--json")
    try:
        served = json.loads(read_line(serve.stdout))
        assert served["receiver"].startswith("http://127.0.0.1:")
        assert served["stripe_api_base"].startswith("http://127.0.0.1:")
        code, out, err = run("checkout", "create", "--listing", str(approved_listing),
                             "--no-open", "--json")
        assert code == 0, err
        made = json.loads(out)  # this command has exited: its pages must not matter
        assert made["url"].startswith(served["stripe_api_base"] + "/c/pay/")
        paid = httpx.post(made["url"], data={
            "email": "b@example.test", "cardNumber": "4242424242424242",
            "cardExpiry": "12/34", "cardCvc": "123", "billingName": "B"})
        assert paid.status_code == 303
        assert paid.headers["location"].startswith(served["receiver"] + "/success?")
        page = httpx.get(paid.headers["location"])
        assert page.status_code == 200 and "Payment received" in page.text
        code, out, _ = run("checkout", "list", "--json")
        [listed] = json.loads(out)
        assert listed["outcome"] == "paid" and listed["card"]["last4"] == "4242"
        serve.send_signal(signal.SIGINT)
        assert finish(serve, timeout=15) == 0
    finally:
        finish(serve)
    code, _, err = run("checkout", "create", "--listing", str(approved_listing), "--no-open")
    assert code == 1 and "checkout serve" in err  # gone with it: refused, not a dead link
