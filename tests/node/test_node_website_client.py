"""The website's Stripe calls through the official Node `stripe` package against the sandbox.

The marketplace website is Next.js, so its client is Node's `stripe` (v23, pinned to the
same API version as stripe-python 16). tests/node/website_calls.mjs makes each call the
website makes and asserts on the answers; this test starts it against the sandbox. The
package comes from scripts/install_node_deps.sh (run by .ci/run), never from a test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        reason = "needs Node.js (scripts/install_node_deps.sh installs Debian's nodejs)"
    elif not (NODE_DIR / "node_modules" / "stripe" / "package.json").is_file():
        reason = "needs the npm packages of tests/node (run scripts/install_node_deps.sh)"
    else:
        return node
    if os.environ.get("CI") == "true":
        pytest.fail(f"on CI this must run: {reason}")
    pytest.skip(reason)


@pytest.mark.slow  # a Node.js process driving the official npm client
def test_website_calls_through_the_node_client(stripe_sandbox):
    node = node_or_skip()
    run = subprocess.run([node, "website_calls.mjs", stripe_sandbox.url,
                          stripe_sandbox.test_key], cwd=NODE_DIR, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr or run.stdout
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["apiVersion"] == "2026-10-28.endive"
    assert summary["done"] == [
        "product with default_price_data", "checkout session from a price id",
        "retrieve with expand", "list line items", "expire", "auto-pagination",
        "idempotent retry", "error classes", "webhook verified with constructEvent"]
    # Every call reached the sandbox as the website's client sends it.
    assert stripe_sandbox.stats.count("POST", "/v1/checkout/sessions/{id}/expire") == 2
    assert stripe_sandbox.stats.count("GET", "/v1/checkout/sessions/{id}/line_items") == 1
