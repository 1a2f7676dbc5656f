"""`uhadmin sandbox serve` prints its URL and test key, serves the SDK, stops on Ctrl+C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import stripe
from click.testing import CliRunner

from uhadmin.cli import main
from uhadmin.sandbox import server as sandbox_server

SERVE = [sys.executable, "-c", "from uhadmin.cli import main; main()", "sandbox", "serve"]


@pytest.mark.slow
def test_serve_prints_url_key_and_secret_serves_the_sdk_and_stops_on_ctrl_c(tmp_path):
    data = tmp_path / "cli.sqlite3"
    process = subprocess.Popen([*SERVE, "--port", "0", "--data", str(data), "--latency-ms",
                                "1", "--webhook", "http://127.0.0.1:9/hook"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("Offline Stripe sandbox listening on http://127.0.0.1:")
        url = lines[0].rsplit(" ", 1)[1].strip()
        assert lines[1].startswith("Test key: sk_test_")
        key = lines[1].split(": ", 1)[1].strip()
        assert str(data) in lines[2]
        assert lines[3].startswith("Webhook signing secret: whsec_")
        client = stripe.StripeClient(key, base_addresses={"api": url},
                                     http_client=stripe.HTTPXClient(allow_sync_methods=True))
        assert client.v1.products.create({"name": "From the CLI"}).name == "From the CLI"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0
    assert data.exists()


def test_json_announcement(monkeypatch):
    announced = []

    def start_and_return(server, on_ready):
        server.start()
        try:
            on_ready(server)
            announced.append(server.faults)
        finally:
            server.stop()

    # The command imports the server module when it runs (not with every CLI command).
    monkeypatch.setattr(sandbox_server, "serve_forever", start_and_return)
    result = CliRunner().invoke(main, ["--json", "sandbox", "serve", "--port", "0",
                                       "--rate-limit", "25", "--fail-rate", "0.1",
                                       "--drop-rate", "0.05"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["url"].startswith("http://127.0.0.1:")
    assert payload["test_key"].startswith("sk_test_")
    assert (announced[0].rate_limit, announced[0].fail_rate, announced[0].drop_rate) == (
        25, 0.1, 0.05)


def test_refuses_a_non_loopback_host():
    result = CliRunner().invoke(main, ["sandbox", "serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "0.0.0.0" in result.output


def test_serve_refuses_a_remote_webhook_unless_allowed(monkeypatch):
    result = CliRunner().invoke(main, ["sandbox", "serve", "--port", "0", "--webhook",
                                       "http://hooks.invalid/hook"])
    assert result.exit_code == 2
    assert "--allow-remote-webhooks" in result.output and "Traceback" not in result.output
    started = []
    monkeypatch.setattr(sandbox_server, "serve_forever",
                        lambda server, on_ready: started.append(server))
    result = CliRunner().invoke(main, ["sandbox", "serve", "--port", "0",
                                       "--allow-remote-webhooks"])
    assert result.exit_code == 0, result.output
    assert started[0].allow_remote_webhooks and started[0].api.allow_remote_webhooks
