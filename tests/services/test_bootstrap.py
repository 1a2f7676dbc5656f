"""The composition root builds the Stripe side (SDK imports, the sandbox) only on first use,
and skips Alembic when the catalog is already at the newest revision."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pytest

from uhadmin import bootstrap
from uhadmin.config import KeyStore, PreferencesStore, load_settings
from uhadmin.services.database import Database, shipped_head_revision
from uhadmin.services.migrations import head_revision

STRIPE_MODULES = ("stripe", "httpx", "tenacity", "uhadmin.sandbox.server",
                  "uhadmin.services.stripe_gateway.client", "uhadmin.services.sync",
                  "uhadmin.services.checkout")


def settings_for(tmp_path, environ=None):
    return load_settings({"data_dir": str(tmp_path)},
                         {"UHADMIN_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
                          **(environ or {})},
                         KeyStore(), preferences=PreferencesStore(tmp_path / "prefs.json"))


@pytest.mark.slow
def test_a_catalog_only_start_imports_no_stripe_and_no_alembic(tmp_path):
    Database(f"sqlite:///{tmp_path / 'catalog.db'}").upgrade()  # an existing, current catalog
    script = textwrap.dedent(f"""
        import asyncio, json, sys
        from pathlib import Path
        from uhadmin.bootstrap import build_services
        from uhadmin.config import KeyStore, PreferencesStore, load_settings
        from uhadmin.domain import ListingQuery
        settings = load_settings(
            {{"data_dir": {str(tmp_path)!r}}},
            {{"UHADMIN_DATABASE_URL": "sqlite:///{tmp_path / 'catalog.db'}"}},
            KeyStore(), preferences=PreferencesStore(Path({str(tmp_path / "prefs.json")!r})))
        services = build_services(settings)
        asyncio.run(services.listings.search(ListingQuery()))
        before = {{name: name in sys.modules for name in {STRIPE_MODULES!r} + ("alembic",)}}
        mode, started = services.stripe_mode, services.stripe_started
        sandbox = services.sandbox  # sandbox mode: starts the Stripe side
        after = {{name: name in sys.modules for name in {STRIPE_MODULES!r}}}
        services.checkout  # the checkout lab is built on first use
        later = "uhadmin.services.checkout" in sys.modules
        url = sandbox.url
        services.close()
        print(json.dumps({{"before": before, "after": after, "later": later, "mode": mode,
                          "started": started, "url": url,
                          "closed_sandbox": services.sandbox is None}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["before"] == dict.fromkeys([*STRIPE_MODULES, "alembic"], False)
    assert seen["mode"] == "sandbox" and seen["started"] is False
    assert seen["after"] == {**dict.fromkeys(STRIPE_MODULES, True),
                             "uhadmin.services.checkout": False}
    assert seen["later"]
    assert seen["url"].startswith("http://127.0.0.1:") and seen["closed_sandbox"]


@pytest.mark.slow
def test_no_sandbox_until_stripe_is_needed_then_one_shared_side(tmp_path):
    services = bootstrap.build_services(settings_for(tmp_path))
    try:
        assert not services.stripe_started
        assert not (tmp_path / bootstrap.SANDBOX_DATA_FILE).exists()
        seen = []
        threads = [threading.Thread(target=lambda: seen.append(services.gateway))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(gateway) for gateway in seen}) == 1  # built once, under a lock
        assert services.sync is services.sync and services.checkout is services.checkout
        assert services.auto_sync is services.auto_sync
        assert services.gateway.config.api_base == services.sandbox.url
        assert (tmp_path / bootstrap.SANDBOX_DATA_FILE).exists()
    finally:
        services.close()
    assert services.sandbox is None
    never_used = bootstrap.build_services(settings_for(tmp_path / "other"))
    never_used.close()
    with pytest.raises(RuntimeError):
        never_used.sync  # noqa: B018 - closed services build nothing new
    assert never_used.sandbox is None


@pytest.mark.anyio
async def test_aclose_stops_what_was_started_and_nothing_else(tmp_path):
    untouched = bootstrap.build_services(settings_for(tmp_path / "a"))
    await untouched.aclose()
    assert not untouched.stripe_started and untouched.sandbox is None
    used = bootstrap.build_services(settings_for(tmp_path / "b"))
    assert await used.gateway.probe()
    sandbox = used.sandbox
    await used.aclose()
    assert used.sandbox is None and sandbox._http is None  # stopped


def test_a_remote_stripe_never_starts_a_sandbox(tmp_path):
    services = bootstrap.build_services(settings_for(
        tmp_path, {"UHADMIN_STRIPE_API_BASE": "http://127.0.0.1:9"}))
    with services:
        assert services.sandbox is None and not services.stripe_started
        assert services.gateway.config.api_base == "http://127.0.0.1:9"
        assert services.sandbox is None


def test_shipped_head_is_read_from_the_migration_files_as_alembic_reads_it():
    assert shipped_head_revision() == head_revision()


def test_a_catalog_behind_the_head_is_still_migrated(tmp_path):
    from alembic import command

    from uhadmin.services.migrations import alembic_config, current_revision

    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        assert not db._at_head()  # empty: no alembic_version table yet
        with db._write_engine.connect() as connection, connection.begin():
            command.upgrade(alembic_config(connection), "0001")
        assert not db._at_head()
        db.upgrade()
        assert db._at_head()
        with db.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
    finally:
        db.close()


def test_pacing_follows_the_target_and_the_configured_limit(tmp_path):
    local = "http://127.0.0.1:12111"
    gateway, sandbox = bootstrap.build_gateway(settings_for(
        tmp_path, {"UHADMIN_STRIPE_API_BASE": local}))
    assert sandbox is None and gateway.pace is None  # a Stripe-compatible server: unpaced
    assert gateway.config.max_concurrency == bootstrap.SANDBOX_CONCURRENCY  # on this machine
    remote, _ = bootstrap.build_gateway(settings_for(
        tmp_path, {"UHADMIN_STRIPE_API_BASE": "https://stripe-mock.example"}))
    assert remote.pace is None and remote.config.max_concurrency == 10
    limited, _ = bootstrap.build_gateway(settings_for(
        tmp_path, {"UHADMIN_STRIPE_API_BASE": local, "UHADMIN_STRIPE_RATE_LIMIT": "25"}))
    assert limited.pace == 25.0
    stripe, _ = bootstrap.build_gateway(settings_for(
        tmp_path, {"UHADMIN_STRIPE_API_KEY": "sk_test_" + "a" * 24}))
    assert stripe.pace == pytest.approx(23.75)  # Stripe's test-mode limit, a little under


@pytest.mark.anyio
async def test_overrides_replace_what_the_settings_would_build_and_stay_the_callers(
        tmp_path, stripe_sandbox, sqlite_database):
    from datetime import UTC, datetime

    from uhadmin.domain import ListingStatus, NewListing
    from uhadmin.services.receiver import CheckoutReceiver
    from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway

    now = datetime.now(UTC).replace(microsecond=0)  # the lab's clock, standing still
    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None))
    receiver = CheckoutReceiver()
    services = bootstrap.build_services(
        settings_for(tmp_path), upgrade=False, db=sqlite_database,
        overrides=bootstrap.Overrides(gateway=gateway, sandbox=stripe_sandbox,
                                      receiver=receiver, clock=lambda: now))
    try:
        assert services.db is sqlite_database and services.gateway is gateway
        assert services.sandbox is stripe_sandbox and services.receiver is receiver
        assert services.checkout.receiver is receiver
        listing = await services.listings.create(NewListing(
            "Desk lamp", 800, "usd", status=ListingStatus.APPROVED), actor="tester")
        await services.sync.run()
        attempt = await services.checkout.create([(listing.id, 1)])
        assert attempt.created_at == now  # the checkout lab runs on the given clock
    finally:
        await services.aclose()
    # What the caller handed in is the caller's: the shared sandbox still answers, through
    # the gateway the services did not close.
    assert await gateway.probe()
    await gateway.aclose()
