"""Generated snippets and the doc's route.ts, run for real against the sandbox.

A call is made through the logged gateway, the sandbox is wiped, and the Node, Python and
curl snippets of the log entry are run as a person would paste them: each must make the
same object again. The route.ts in docs/how-it-works.md runs under tsx with the official
`stripe` package and must create the Checkout Session the doc describes. Node and its
packages (scripts/install_node_deps.sh) missing: skipped locally, a failure on CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from uhadmin.domain.stripe_log import StripeLogFilter
from uhadmin.domain.stripe_snippets import snippet
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway, ProductFields
from uhadmin.services.stripe_log import StripeLogService

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "tests" / "node"
CANARY_KEY = "sk_test_CANARYsnippetsE2eNeverPrinted"
FIELDS = ProductFields(name="Chem lab goggles", description="Fits over glasses", images=(),
                       metadata={"listing_id": "12"})


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI must have it: scripts/install_node_deps.sh)")
    pytest.skip(f"{what}; run scripts/install_node_deps.sh")


@pytest.fixture
def node_run(tmp_path):
    """Run a script under tests/node (where `stripe` and `tsx` resolve), then remove it."""
    node = shutil.which("node")
    if node is None:
        _missing("no node on PATH")
    if not (NODE_DIR / "node_modules" / "stripe").is_dir():
        _missing("the stripe npm package is not installed in tests/node")
    folder = NODE_DIR / f".run-{uuid.uuid4().hex[:8]}"
    folder.mkdir()

    def run(files: dict[str, str], entry: str, env: dict[str, str], *, tsx: bool = False):
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        runner = [str(NODE_DIR / "node_modules" / ".bin" / "tsx")] if tsx else [node]
        if tsx and not Path(runner[0]).exists():
            _missing("tsx is not installed in tests/node")
        return subprocess.run([*runner, entry], cwd=folder, env={**os.environ, **env},
                              capture_output=True, text=True, timeout=120, check=False)

    yield run
    shutil.rmtree(folder, ignore_errors=True)


def logged_product_create(stripe_sandbox, database):
    """Create one product through the logged gateway; return its full log entry."""
    log = StripeLogService(database)

    async def scenario():
        gateway = StripeGateway(GatewayConfig(api_key=CANARY_KEY, api_base=stripe_sandbox.url,
                                              rate_limit=None))
        gateway.recorder = log.record
        product = await CatalogGateway(gateway).create_product(
            "uh_snippet_12", FIELDS, 1899, "usd", key=f"uh_snip_{uuid.uuid4().hex}")
        await gateway.aclose()
        await log.flush()
        (entry,) = await log.page(StripeLogFilter(listing_id=None, method="POST"))
        return product, await log.entry(entry.id)

    return asyncio.run(scenario())


def product_in_sandbox(stripe_sandbox, product_id: str) -> dict | None:
    with stripe_sandbox.store.lock:
        return stripe_sandbox.store.objects["product"].get(product_id)


def assert_same_product(stripe_sandbox, printed: str, original) -> None:
    remade = product_in_sandbox(stripe_sandbox, original.id)
    assert remade is not None, "the snippet made nothing"
    assert remade["name"] == FIELDS.name and remade["metadata"] == {"listing_id": "12"}
    with stripe_sandbox.store.lock:
        price = stripe_sandbox.store.objects["price"][remade["default_price"]]
    assert (price["unit_amount"], price["currency"]) == (1899, "usd")
    assert original.id in printed and CANARY_KEY not in printed


@pytest.mark.slow
def test_node_and_python_and_curl_snippets_do_what_the_logged_call_did(
        stripe_sandbox, sqlite_database, node_run, tmp_path) -> None:
    product, entry = logged_product_create(stripe_sandbox, sqlite_database)
    env = {"STRIPE_SECRET_KEY": CANARY_KEY}
    scripts = {kind: snippet(entry, kind) for kind in ("node", "python", "curl")}
    assert all(CANARY_KEY not in text for text in scripts.values())

    stripe_sandbox.reset()  # a new account: only the snippet can make the product again
    assert product_in_sandbox(stripe_sandbox, product.id) is None
    ran = node_run({"snippet.js": scripts["node"]}, "snippet.js", env)
    assert ran.returncode == 0, ran.stderr
    assert_same_product(stripe_sandbox, ran.stdout, product)
    assert json.loads(ran.stdout)["id"] == product.id

    stripe_sandbox.reset()
    (tmp_path / "snippet.py").write_text(scripts["python"], encoding="utf-8")
    ran = subprocess.run([sys.executable, str(tmp_path / "snippet.py")], capture_output=True,
                         text=True, timeout=120, env={**os.environ, **env}, check=False)
    assert ran.returncode == 0, ran.stderr
    assert_same_product(stripe_sandbox, ran.stdout, product)

    if shutil.which("curl") is None:
        _missing("no curl on PATH")
    stripe_sandbox.reset()
    ran = subprocess.run(["bash", "-c", scripts["curl"]], capture_output=True, text=True,
                         timeout=120, env={**os.environ, **env}, check=False)
    assert ran.returncode == 0, ran.stderr
    assert_same_product(stripe_sandbox, ran.stdout, product)


HARNESS = """
import { POST } from "./route";

(async () => {
  const request = new Request("http://localhost:3000/api/checkout", {
    method: "POST", body: JSON.stringify({ listingId: LISTING_ID }) });
  const response = await POST(request);
  console.log(JSON.stringify({ status: response.status, body: await response.json() }));
})();
"""


@pytest.mark.slow
def test_the_docs_route_ts_creates_the_checkout_session_it_describes(
        stripe_sandbox, sqlite_database, node_run) -> None:
    doc = (ROOT / "docs" / "how-it-works.md").read_text(encoding="utf-8")
    route = re.search(r"```ts\n(.*?)\n```", doc, re.DOTALL)
    assert route is not None, "docs/how-it-works.md shows a route.ts"
    product, _entry = logged_product_create(stripe_sandbox, sqlite_database)
    listing = {"id": 12, "title": FIELDS.name, "stripe_price_id": product.default_price.id}
    listings_ts = ("export async function getApprovedListing(id: number) {\n"
                   f"  const listing = {json.dumps(listing)};\n"
                   "  return id === listing.id ? listing : null;\n}\n")
    env = {"STRIPE_SECRET_KEY": CANARY_KEY, "STRIPE_API_BASE": stripe_sandbox.url,
           "SITE_URL": "http://localhost:3000"}
    ran = node_run({"route.ts": route.group(1) + "\n", "listings.ts": listings_ts,
                    "run.ts": HARNESS.replace("LISTING_ID", "12")}, "run.ts", env, tsx=True)
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200 and answer["body"]["url"].startswith(stripe_sandbox.url)
    with stripe_sandbox.store.lock:
        (session,) = stripe_sandbox.store.objects["checkout_session"].values()
    assert session["mode"] == "payment" and session["url"] == answer["body"]["url"]
    assert session["success_url"] == ("http://localhost:3000/checkout/success"
                                      "?session_id={CHECKOUT_SESSION_ID}")
    assert session["cancel_url"] == "http://localhost:3000/listings/12"
    assert session["metadata"] == {"listing_id": "12"}
    assert session["amount_total"] == 1899  # one of the listing's price

    ran = node_run({"run.ts": HARNESS.replace("LISTING_ID", "99")}, "run.ts", env, tsx=True)
    assert json.loads(ran.stdout.strip().splitlines()[-1])["status"] == 404
