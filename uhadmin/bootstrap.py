"""The composition root: build the database and every service once, from validated settings."""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from uhadmin.config import STRIPE_KEY_NAME, KeyStore, Settings
from uhadmin.domain.stripe_log import Retention
from uhadmin.errors import UhadminError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.services.stripe_log import StripeLogService
from uhadmin.services.stripe_log_context import serves

if TYPE_CHECKING:  # the Stripe side is imported on first use (see Services)
    from uhadmin.services.checkout import CheckoutService
    from uhadmin.services.receiver import CheckoutReceiver
    from uhadmin.services.reconcile import ReconcileService
    from uhadmin.services.stripe_gateway import StripeGateway
    from uhadmin.services.stripe_gateway.catalog import CatalogGateway
    from uhadmin.services.sync import AutoSync, SyncService

# The offline sandbox accepts any well-formed test key; this one says where it came from.
SANDBOX_KEY = "sk_test_uhadminOfflineSandbox00000000"
SANDBOX_DATA_FILE = "stripe_sandbox.sqlite3"
# The local sandbox answers in a millisecond or two and handles one request at a time:
# two in flight keep it busy; more only add connection overhead (bench/sync_bench.py).
SANDBOX_CONCURRENCY = 2


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Overrides:
    """What a caller hands the root instead of what the settings would build: tests give
    their shared sandbox and a gateway on it, a receiver, a clock. The caller keeps what it
    hands in: close() neither stops that sandbox nor closes that gateway."""

    gateway: StripeGateway | None = None
    sandbox: Any = None  # the SandboxServer `gateway` talks to (Services.sandbox)
    receiver: CheckoutReceiver | None = None
    clock: Callable[[], datetime] | None = None  # the checkout lab's and Stripe log's "now"


class _StripeSide:
    """What exists only once something needs Stripe: the gateway, its sandbox and the sync
    at once; reconcile, auto-sync and the checkout lab on first use (`uhadmin sync` needs
    none of them, and their imports, the receiver's among them, were ~0.1 s of its start)."""

    def __init__(self, services: Services, gateway: StripeGateway, sandbox: Any) -> None:
        from uhadmin.services.stripe_account import AccountGuard
        from uhadmin.services.stripe_gateway.catalog import CatalogGateway
        from uhadmin.services.sync import SyncService

        self._services = services
        self.gateway = gateway
        self.sandbox = sandbox  # the SandboxServer started for sandbox mode, else None
        self.catalog = CatalogGateway(gateway)
        settings = services.settings
        self.sync = SyncService(services.db, services.bus, self.catalog, actor=settings.actor,
                                account_guard=AccountGuard(services.db, gateway,
                                                           environment=settings.mode))
        self._building = threading.Lock()
        self._reconcile: ReconcileService | None = None
        self._auto_sync: AutoSync | None = None
        self._checkout: CheckoutService | None = None

    def build_all(self) -> None:
        """Build what is still built on first use (for a caller off the GUI thread)."""
        _ = self.reconcile, self.auto_sync, self.checkout

    @property
    def reconcile(self) -> ReconcileService:
        with self._building:
            if self._reconcile is None:
                from uhadmin.services.reconcile import ReconcileService

                services = self._services
                self._reconcile = ReconcileService(
                    services.db, services.bus, self.catalog, self.sync,
                    actor=services.settings.actor, listings=services.listings)
            return self._reconcile

    @property
    def auto_sync(self) -> AutoSync:
        with self._building:
            if self._auto_sync is None:
                from uhadmin.services.sync import AutoSync

                self._auto_sync = AutoSync(self.sync)
            return self._auto_sync

    @property
    def checkout(self) -> CheckoutService:
        with self._building:
            if self._checkout is None:
                from uhadmin.services.checkout import CheckoutService
                from uhadmin.services.stripe_gateway.checkout import CheckoutGateway

                services = self._services
                self._checkout = CheckoutService(
                    services.db, services.bus, services.listings, settings=services.settings,
                    gateway=CheckoutGateway(self.gateway), receiver=services.receiver,
                    sync=self.sync, clock=services.overrides.clock or _utcnow)
            return self._checkout

    async def aclose(self, *, close_gateway: bool) -> None:
        """Stop what was built: background sync, the checkout lab's receiver, and (when
        this side opened it) the gateway's connections."""
        if self._auto_sync is not None:
            await self._auto_sync.stop()
        if self._checkout is not None:
            await self._checkout.stop_receiver()
        if close_gateway:
            await self.gateway.aclose()


class Services:
    """Everything the GUI and the CLI use, wired together; close() releases it all.

    The catalog (db, bus, listings) is built at once. The Stripe side (gateway, sync,
    reconcile, auto_sync, checkout, and in sandbox mode the in-process sandbox) is built on
    first use of any of those attributes: importing the Stripe SDK and starting the sandbox
    cost about a second that `uhadmin listings list` or the GUI's first page never need.
    A GUI that wants it ready without blocking its thread calls
    `await asyncio.to_thread(services.start_stripe)` first.
    """

    def __init__(self, settings: Settings, db: Database, bus: ChangeBus,
                 listings: ListingService, overrides: Overrides = Overrides()) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.listings = listings
        self.overrides = overrides
        # Every Stripe request and webhook event, recorded by the gateway and the receiver.
        self.stripe_log = StripeLogService(
            db, retention=Retention.from_environ(os.environ), clock=overrides.clock)
        self._stripe: _StripeSide | None = None
        self._receiver: CheckoutReceiver | None = overrides.receiver
        if self._receiver is not None:
            self._receiver.on_webhook = self.stripe_log.record_payload
        self._sandbox: Any = None
        self._building = threading.Lock()
        self._closed = False

    @property
    def stripe_mode(self) -> str:
        """"sandbox" | "test" | "live" (the GUI's mode badge), known without building
        anything (it reads the Stripe key, so the OS keyring is opened here, not before)."""
        return self.settings.mode

    # --- the Stripe side, built on first use ---------------------------------------------
    @property
    def stripe_started(self) -> bool:
        """Whether the Stripe side exists yet (nothing imported or started otherwise)."""
        return self._stripe is not None

    def start_stripe(self) -> None:
        """Build the whole Stripe side now (idempotent, thread-safe; blocking: ~1 s the
        first time with the imports and the sandbox start)."""
        self._stripe_side().build_all()

    def _stripe_side(self) -> _StripeSide:
        side = self._stripe
        if side is not None:
            return side
        with self._building:
            if self._stripe is None:
                if self._closed:
                    raise RuntimeError("these services are closed")
                self._stripe = self._build_stripe_side()
            return self._stripe

    def _build_stripe_side(self) -> _StripeSide:
        settings, given = self.settings, self.overrides
        if given.gateway is not None:
            gateway, sandbox = given.gateway, given.sandbox
        else:
            gateway, sandbox = build_gateway(settings)
            self._sandbox = sandbox  # started here: stopped by close()
        gateway.recorder = self.stripe_log.record
        return _StripeSide(self, gateway, sandbox)

    @property
    def gateway(self) -> StripeGateway:
        """Stripe: the real API with a key, UHADMIN_STRIPE_API_BASE, or the in-process
        sandbox."""
        return self._stripe_side().gateway

    @property
    def catalog(self) -> CatalogGateway:
        """Stripe's products and prices, over the gateway."""
        return self._stripe_side().catalog

    @property
    def sync(self) -> SyncService:
        return self._stripe_side().sync

    @property
    def reconcile(self) -> ReconcileService:
        return self._stripe_side().reconcile

    @property
    def auto_sync(self) -> AutoSync:
        return self._stripe_side().auto_sync

    @property
    def checkout(self) -> CheckoutService:
        """The checkout test lab (the GUI and CLI set the browser opener with
        checkout.set_opener)."""
        return self._stripe_side().checkout

    @property
    def receiver(self) -> CheckoutReceiver:
        """The loopback success/cancel/webhook receiver (its server starts on first use)."""
        if self._receiver is None:
            from uhadmin.services.receiver import CheckoutReceiver

            settings = self.settings
            secrets = [settings.webhook_secret.reveal()] if settings.webhook_secret else ()
            self._receiver = CheckoutReceiver(port=settings.receiver_port,
                                              webhook_secrets=secrets,
                                              mode_label=f"{settings.mode} mode")
            self._receiver.on_webhook = self.stripe_log.record_payload
        return self._receiver

    @property
    def sandbox(self) -> Any:
        """The SandboxServer of sandbox mode (started on first use), else None; None again
        once closed."""
        if self.overrides.sandbox is not None:
            return self.overrides.sandbox if not self._closed else None
        if self._closed or self.stripe_mode != "sandbox" or needs_no_sandbox(self.settings):
            return self._sandbox
        return self._stripe_side().sandbox

    # --- closing ---------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Stop background sync and close Stripe connections (from the running loop),
        then everything else."""
        side = self._stripe
        if side is not None:
            await side.aclose(close_gateway=self.overrides.gateway is None)
        await self.stripe_log.aclose()
        self.close()

    def close(self) -> None:
        with self._building:  # a build in progress finishes first, then is stopped
            self._closed = True
        if self._receiver is not None and self.overrides.receiver is None:
            self._receiver.stop()
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None
        self.db.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def build_services(settings: Settings, *, upgrade: bool = True, db: Database | None = None,
                   overrides: Overrides = Overrides()) -> Services:
    """Open the database (migrating it to the newest schema unless `upgrade` is False) and
    wire the services on it; the Stripe side follows on first use. `db` (an open catalog,
    closed with the services) and `overrides` replace what the settings would build."""
    db = db if db is not None else Database(settings.database_url)
    try:
        if upgrade:
            db.upgrade()
        bus = ChangeBus()
        listings = ListingService(db, bus, default_currency=settings.currency)
    except BaseException:
        db.close()
        raise
    return Services(settings=settings, db=db, bus=bus, listings=listings, overrides=overrides)


def needs_no_sandbox(settings: Settings) -> bool:
    """A key or an API base means a remote Stripe (or Stripe-compatible server)."""
    return settings.stripe_key is not None or bool(settings.stripe_api_base)


def _is_loopback(api_base: str) -> bool:
    """A server on this machine (`uhadmin sandbox serve`): it shares our CPUs and answers
    in a millisecond, so the sync keeps the embedded sandbox's two requests in flight; more
    only make the processes fight (1,000 creates: 20 s at 10 against 10 s at 2, measured
    on 2 busy cores). A remote one hides its latency behind the gateway's default."""
    host = urlsplit(api_base).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_gateway(settings: Settings) -> tuple[StripeGateway, Any]:
    """The Stripe gateway for these settings, plus the sandbox it started (or None).

    A key: real Stripe (or UHADMIN_STRIPE_API_BASE), limited for the key's mode. No key
    and no base: the offline sandbox in this process, kept in the data folder, no limit.
    No key but a base: that Stripe-compatible server with the sandbox's test key.
    """
    from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway

    # "auto": Stripe's limits when the calls go to Stripe, none elsewhere.
    rate_limit: float | Literal["auto"] = settings.stripe_rate_limit or "auto"
    if settings.stripe_key is not None:
        return StripeGateway(GatewayConfig(api_key=settings.stripe_key, rate_limit=rate_limit,
                                           api_base=settings.stripe_api_base)), None
    if settings.stripe_api_base:
        local = ({"max_concurrency": SANDBOX_CONCURRENCY}
                 if _is_loopback(settings.stripe_api_base) else {})
        return StripeGateway(GatewayConfig(api_key=SANDBOX_KEY, rate_limit=rate_limit,
                                           api_base=settings.stripe_api_base, **local)), None
    from uhadmin.sandbox.server import SandboxServer

    sandbox = SandboxServer(data_path=settings.data_dir / SANDBOX_DATA_FILE).start()
    gateway = StripeGateway(GatewayConfig(api_key=sandbox.test_key, api_base=sandbox.url,
                                          rate_limit=settings.stripe_rate_limit,
                                          max_concurrency=SANDBOX_CONCURRENCY))
    return gateway, sandbox


@serves("settings")
async def check_stripe_connection(key: str | None, api_base: str | None, *, keys: KeyStore,
                                 services: Services | None = None) -> str:
    """Which account and mode `key` (None: the stored key; "": none) reaches at `api_base`
    (None: Stripe itself); with no key and no base, the offline sandbox. Raises
    UhadminError (refused key, unreachable server) for the settings dialog to show."""
    from uhadmin.services.stripe_gateway.account import checking_gateway, describe_account

    if key is None:
        stored = keys.get(STRIPE_KEY_NAME)
        key = stored.reveal() if stored is not None else ""
    if not key and not api_base:
        if services is not None and services.sandbox is not None:
            if not await services.gateway.probe():
                raise UhadminError("the offline sandbox is not answering")
            return ("Connected: offline sandbox (TEST mode) at "
                    f"{services.sandbox.url}. Nothing reaches Stripe.")
        return ("No key: uhadmin uses the offline sandbox (TEST mode) after a restart. "
                "Nothing reaches Stripe.")
    gateway = checking_gateway(key or SANDBOX_KEY, api_base)
    if services is not None:  # the check's requests belong in the Stripe log too
        gateway.recorder = services.stripe_log.record
    try:
        account = await describe_account(gateway)
        return f"Connected to {api_base or 'Stripe'}: {account}, {gateway.mode.upper()} mode."
    finally:
        await gateway.aclose()
