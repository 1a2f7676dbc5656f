"""The catalog's Stripe account: recorded at the first sync, a key of another account stops
the sync (service, AutoSync and the command line as a subprocess), re-pointing is deliberate."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from uhadmin.domain import ConnectionState, ListingStatus, NewListing
from uhadmin.errors import AccountMismatchError
from uhadmin.sandbox.account import account_id_for
from uhadmin.services.stripe_account import AccountGuard
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.sync import AutoSync, SyncService

pytestmark = pytest.mark.anyio
OTHER_KEY = "sk_test_anotherAccountsKey0000"


def sync_with(database, change_bus, stripe_sandbox, key: str) -> tuple[SyncService,
                                                                       StripeGateway]:
    gateway = StripeGateway(GatewayConfig(api_key=key, api_base=stripe_sandbox.url,
                                          rate_limit=None))
    guard = AccountGuard(database, gateway, environment="sandbox")
    return SyncService(database, change_bus, CatalogGateway(gateway), actor="tester",
                       account_guard=guard), gateway


async def test_a_key_of_another_account_stops_the_sync_until_chosen(
        database, change_bus, stripe_sandbox, listing_service) -> None:
    ours, ours_gateway = sync_with(database, change_bus, stripe_sandbox,
                                   stripe_sandbox.test_key)
    await listing_service.create(NewListing("Lamp", 1500, "usd",
                                            status=ListingStatus.APPROVED), actor="s")
    assert (await ours.run()).created == 1
    recorded, current = await ours.accounts()
    assert recorded is not None and current is not None
    assert recorded.id == account_id_for(stripe_sandbox.test_key)
    assert recorded.same_account(current)

    theirs, their_gateway = sync_with(database, change_bus, stripe_sandbox, OTHER_KEY)
    await listing_service.create(NewListing("Desk", 2500, "usd",
                                            status=ListingStatus.APPROVED), actor="s")
    stripe_sandbox.reset_stats()
    with pytest.raises(AccountMismatchError, match="Stripe account changed") as raised:
        await theirs.run()
    assert recorded.id in str(raised.value) and account_id_for(OTHER_KEY) in str(raised.value)
    assert "sk_test_" not in str(raised.value)  # the key is never shown
    assert theirs.status.state == ConnectionState.WRONG_ACCOUNT
    assert theirs.status.queued == 1
    assert stripe_sandbox.stats.by_endpoint == {("GET", "/v1/account"): 1}  # nothing pushed

    auto = AutoSync(theirs, interval_s=0.05, debounce_s=0)
    auto.start()
    await asyncio.sleep(0.3)
    assert theirs.status.state == ConnectionState.WRONG_ACCOUNT  # no "online" in between
    assert stripe_sandbox.stats.count("POST", "/v1/products") == 0
    chosen = await theirs.use_current_account("alice")
    assert chosen is not None and chosen.id == account_id_for(OTHER_KEY)
    for _ in range(100):  # the run's results land before it reports its state: wait for both
        if await theirs.queued() == 0 and theirs.status.state == ConnectionState.ONLINE:
            break
        await asyncio.sleep(0.05)
    await auto.stop()
    assert theirs.status.state == ConnectionState.ONLINE
    assert stripe_sandbox.stats.count("POST", "/v1/products") == 1
    recorded_now, _ = await theirs.accounts()
    assert recorded_now is not None and recorded_now.recorded_by == "alice"
    await ours_gateway.aclose()
    await their_gateway.aclose()


def uhadmin(tmp_path, stripe_sandbox, key: str, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("UHADMIN_")}
    env.update(UHADMIN_DATABASE_URL=f"sqlite:///{tmp_path / 'catalog.db'}",
               UHADMIN_STRIPE_API_BASE=stripe_sandbox.url, UHADMIN_STRIPE_API_KEY=key,
               UHADMIN_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-m", "uhadmin.cli", *args], capture_output=True,
                          text=True, timeout=120, env=env, check=False)


@pytest.mark.slow
def test_command_line_stops_with_exit_4_and_use_repoints(tmp_path, stripe_sandbox) -> None:
    key = stripe_sandbox.test_key
    assert uhadmin(tmp_path, stripe_sandbox, key, "--create", "db", "upgrade").returncode == 0
    added = uhadmin(tmp_path, stripe_sandbox, key, "listings", "add", "--title", "Lamp",
                    "--price", "15", "--status", "approved")
    assert added.returncode == 0, added.stderr
    assert uhadmin(tmp_path, stripe_sandbox, key, "sync").returncode == 0

    other = uhadmin(tmp_path, stripe_sandbox, OTHER_KEY, "sync")
    assert other.returncode == 4
    assert other.stderr.startswith("error: Stripe account changed") and \
        other.stderr.count("\n") == 1
    assert OTHER_KEY not in other.stderr + other.stdout
    shown = uhadmin(tmp_path, stripe_sandbox, OTHER_KEY, "--json", "stripe-account")
    assert shown.returncode == 4
    status = json.loads(shown.stdout)
    assert (status["matches"], status["recorded"]["id"], status["current"]["id"]) == (
        False, account_id_for(key), account_id_for(OTHER_KEY))

    used = uhadmin(tmp_path, stripe_sandbox, OTHER_KEY, "stripe-account", "use", "--yes")
    assert used.returncode == 0, used.stderr
    assert account_id_for(OTHER_KEY) in used.stdout
    assert uhadmin(tmp_path, stripe_sandbox, OTHER_KEY, "sync").returncode == 0
    assert uhadmin(tmp_path, stripe_sandbox, key, "sync").returncode == 4


@pytest.mark.slow
def test_command_line_diagnoses_a_deleted_product_and_recreates_it(tmp_path,
                                                                  stripe_sandbox) -> None:
    from uhadmin.sandbox.dashboard import delete_product_in_dashboard

    key = stripe_sandbox.test_key

    def cli(*args: str) -> subprocess.CompletedProcess:
        return uhadmin(tmp_path, stripe_sandbox, key, *args)

    assert cli("--create", "db", "upgrade").returncode == 0
    added = cli("--json", "listings", "add", "--title", "Lamp", "--price", "15",
                "--status", "approved")
    listing_id = str(json.loads(added.stdout)["id"])
    assert cli("sync").returncode == 0
    product_id = json.loads(cli("--json", "listings", "show", listing_id).stdout)[
        "stripe_product_id"]
    delete_product_in_dashboard(stripe_sandbox, product_id)
    assert cli("listings", "update", listing_id, "--title", "Lamp, brass").returncode == 0

    failed = cli("sync")
    assert failed.returncode == 1
    assert f"product {product_id} was deleted in Stripe" in failed.stdout
    found = cli("--json", "reconcile")
    [finding] = json.loads(found.stdout)["findings"]
    assert (finding["kind"], finding["fixes"]) == ("product_deleted", ["recreate", "unlink"])

    fixed = cli("product", "recreate", listing_id)
    assert fixed.returncode == 0, fixed.stderr
    assert "product re-created" in fixed.stdout and "sync synced" in fixed.stdout
    assert cli("sync").returncode == 0
    assert json.loads(cli("--json", "reconcile").stdout)["findings"] == []
    assert cli("product", "link", listing_id, "prod_nothing").returncode == 1
