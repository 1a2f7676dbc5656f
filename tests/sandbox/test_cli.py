"""`uhadmin sandbox serve` prints its URL and test key, serves the SDK, stops on Ctrl+C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import stripe

SERVE = [sys.executable, "-c", "from uhadmin.cli import main; main()", "sandbox", "serve"]


def test_serve_prints_url_and_key_and_stops_on_ctrl_c(tmp_path):
    data = tmp_path / "cli.sqlite3"
    process = subprocess.Popen([*SERVE, "--port", "0", "--json", "--data", str(data),
                                "--latency-ms", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        announced = json.loads(process.stdout.readline())
        assert announced["url"].startswith("http://127.0.0.1:")
        assert announced["test_key"].startswith("sk_test_")
        client = stripe.StripeClient(announced["test_key"],
                                     base_addresses={"api": announced["url"]},
                                     http_client=stripe.HTTPXClient(allow_sync_methods=True))
        assert client.v1.products.create({"name": "From the CLI"}).name == "From the CLI"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0
    assert data.exists()


def test_serve_text_output_and_webhook_secret():
    process = subprocess.Popen([*SERVE, "--port", "0", "--webhook", "http://127.0.0.1:9/hook",
                                "--rate-limit", "25"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(4)]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    text = "".join(lines)
    assert "Offline Stripe sandbox listening on http://127.0.0.1:" in text
    assert "Test key: sk_test_" in text
    assert "Webhook signing secret: whsec_" in text


def test_refuses_a_non_loopback_host():
    result = subprocess.run([*SERVE, "--host", "0.0.0.0"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode != 0
    assert "0.0.0.0" in result.stderr
