"""The composition root: build the database and every service once, from validated settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uhadmin.config import Settings
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.checkout import CheckoutService
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.services.receiver import CheckoutReceiver
from uhadmin.services.reconcile import ReconcileService
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.stripe_gateway.checkout import CheckoutGateway
from uhadmin.services.sync import AutoSync, SyncService

# The offline sandbox accepts any well-formed test key; this one says where it came from.
SANDBOX_KEY = "sk_test_uhadminOfflineSandbox00000000"
SANDBOX_DATA_FILE = "stripe_sandbox.sqlite3"
# The local sandbox answers in a millisecond or two and handles one request at a time:
# two in flight keep it busy; more only add connection overhead (bench/sync_bench.py).
SANDBOX_CONCURRENCY = 2


@dataclass
class Services:
    """Everything the GUI and the CLI use, wired together; close() releases it all."""

    settings: Settings
    db: Database
    bus: ChangeBus
    listings: ListingService
    # Stripe: the real API with a key, UHADMIN_STRIPE_API_BASE, or the in-process sandbox.
    gateway: StripeGateway
    sync: SyncService
    reconcile: ReconcileService
    auto_sync: AutoSync
    # The checkout test lab and its loopback success/cancel/webhook receiver (started on
    # first use; the GUI and CLI set the browser opener with checkout.set_opener).
    checkout: CheckoutService
    receiver: CheckoutReceiver
    stripe_mode: str = "sandbox"  # "sandbox" | "test" | "live" (the GUI's mode badge)
    sandbox: Any = None  # the SandboxServer started for sandbox mode, else None

    async def aclose(self) -> None:
        """Stop background sync and close Stripe connections (from the running loop),
        then everything else."""
        await self.auto_sync.stop()
        await self.checkout.stop_receiver()
        await self.gateway.aclose()
        self.close()

    def close(self) -> None:
        self.receiver.stop()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
        self.db.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def build_services(settings: Settings, *, upgrade: bool = True) -> Services:
    """Open the database (migrating it to the newest schema unless `upgrade` is False) and
    wire the services on it."""
    db = Database(settings.database_url)
    try:
        if upgrade:
            db.upgrade()
        bus = ChangeBus()
        listings = ListingService(db, bus, default_currency=settings.currency)
        gateway, sandbox = build_gateway(settings)
    except BaseException:
        db.close()
        raise
    catalog = CatalogGateway(gateway)
    sync = SyncService(db, bus, catalog, actor=settings.actor)
    reconcile = ReconcileService(db, bus, catalog, sync, actor=settings.actor)
    receiver = CheckoutReceiver(
        port=settings.receiver_port,
        webhook_secrets=[settings.webhook_secret.reveal()] if settings.webhook_secret else (),
        mode_label=f"{settings.mode} mode")
    checkout = CheckoutService(db, bus, listings, settings=settings,
                               gateway=CheckoutGateway(gateway), receiver=receiver, sync=sync)
    return Services(settings=settings, db=db, bus=bus, listings=listings, gateway=gateway,
                    sync=sync, reconcile=reconcile, auto_sync=AutoSync(sync),
                    checkout=checkout, receiver=receiver,
                    stripe_mode=settings.mode, sandbox=sandbox)


def build_gateway(settings: Settings) -> tuple[StripeGateway, Any]:
    """The Stripe gateway for these settings, plus the sandbox it started (or None).

    A key: real Stripe (or UHADMIN_STRIPE_API_BASE), limited for the key's mode. No key
    and no base: the offline sandbox in this process, kept in the data folder, no limit.
    No key but a base: that Stripe-compatible server with the sandbox's test key.
    """
    if settings.stripe_key is not None:
        return StripeGateway(GatewayConfig(api_key=settings.stripe_key,
                                           api_base=settings.stripe_api_base)), None
    if settings.stripe_api_base:
        return StripeGateway(GatewayConfig(api_key=SANDBOX_KEY,
                                           api_base=settings.stripe_api_base)), None
    from uhadmin.sandbox.server import SandboxServer

    sandbox = SandboxServer(data_path=settings.data_dir / SANDBOX_DATA_FILE).start()
    gateway = StripeGateway(GatewayConfig(api_key=sandbox.test_key, api_base=sandbox.url,
                                          rate_limit=None, max_concurrency=SANDBOX_CONCURRENCY))
    return gateway, sandbox
