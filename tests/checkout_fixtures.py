"""Checkout lab fixtures: a CheckoutService wired to the offline sandbox over real HTTP.

`checkout_lab` gives a real database, ListingService, gateway core + CheckoutGateway on the
`stripe_sandbox`, a CheckoutReceiver on a free loopback port and a recorder as the browser
opener. `publish(listing)` puts an approved listing into the sandbox the way the sync does
(product with a default price) and records the ids, for tests that do not exercise the sync.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from uhadmin.bootstrap import Overrides, Services, build_services
from uhadmin.config import Settings, load_settings
from uhadmin.domain import CheckoutAttempt, Listing, ListingStatus, NewListing
from uhadmin.domain.changes import Change
from uhadmin.domain.checkout_rules import return_token
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.checkout import CheckoutService
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.services.receiver import CheckoutReceiver
from uhadmin.services.stripe_gateway.checkout import CheckoutGateway
from uhadmin.services.stripe_gateway.client import GatewayConfig, StripeGateway
from uhadmin.services.tables import ListingRow


@dataclass
class CheckoutLab:
    db: Database
    bus: ChangeBus
    listings: ListingService
    core: StripeGateway
    gateway: CheckoutGateway
    receiver: CheckoutReceiver
    service: CheckoutService
    settings: Settings
    sandbox: Any
    services: Services
    opened: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def success_link(self, attempt: CheckoutAttempt) -> str:
        """The success page as Stripe redirects to it (session id and token filled in)."""
        return self.receiver.success_url(attempt.id).replace(
            "{CHECKOUT_SESSION_ID}", attempt.session_id or "").replace(
            "{token}", return_token(attempt.attempt_key))

    def cancel_link(self, attempt: CheckoutAttempt) -> str:
        """The cancel page as Stripe's Back link has it (token filled in)."""
        return self.receiver.cancel_url(attempt.id).replace(
            "{token}", return_token(attempt.attempt_key))

    async def approved_listing(self, title: str = "Desk lamp", price_minor: int = 1250,
                               *, published: bool = True, currency: str = "usd") -> Listing:
        listing = await self.listings.create(
            NewListing(title=title, price_minor=price_minor, currency=currency,
                       status=ListingStatus.APPROVED), actor="tester")
        return await self.publish(listing) if published else listing

    async def publish(self, listing: Listing) -> Listing:
        """Put the listing into the sandbox as the sync would, and mark it synced."""
        product = await self.core.call(
            "products.create",
            lambda client, options: client.v1.products.create_async({
                "name": listing.title, "metadata": {"listing_id": str(listing.id)},
                "default_price_data": {"currency": listing.currency,
                                       "unit_amount": listing.price_minor}}, options))

        def mark(session) -> None:
            session.execute(update(ListingRow).where(ListingRow.id == listing.id).values(
                stripe_product_id=product.id, stripe_price_id=product.default_price,
                sync_state="synced"))

        await self.db.run(mark, write=True)
        return await self.listings.get(listing.id)


def lab_settings(tmp_path: Path, **changes: Any) -> Settings:
    settings = load_settings({"data_dir": str(tmp_path / "data"), "actor": "tess"},
                             environ={})
    return dataclasses.replace(settings, **changes)


async def _lab(sandbox, db: Database, tmp_path: Path) -> AsyncIterator[CheckoutLab]:
    """Wired by the app's own composition root, on the shared sandbox and a fresh receiver;
    the only sync is the one a test hands the service (set_sync)."""
    core = StripeGateway(GatewayConfig(api_key=sandbox.test_key, api_base=sandbox.url,
                                       rate_limit=None, backoff_initial_s=0.01,
                                       backoff_max_s=0.05))
    settings = lab_settings(tmp_path)
    services = build_services(settings, upgrade=False, db=db, overrides=Overrides(
        gateway=core, sandbox=sandbox, receiver=CheckoutReceiver()))
    changes: list[Change] = []
    services.bus.subscribe(changes.append)
    opened: list[str] = []
    service = services.checkout
    service.set_opener(opened.append)
    service.set_sync(None)
    lab = CheckoutLab(db=db, bus=services.bus, listings=services.listings, core=core,
                      gateway=CheckoutGateway(core), receiver=services.receiver,
                      service=service, settings=settings, sandbox=sandbox, services=services,
                      opened=opened, changes=changes)
    try:
        yield lab
    finally:
        # Let queued webhook deliveries reach the receiver while the loop still serves it;
        # a delivery to a stopped receiver would sit in the shared sandbox's retry queue.
        await asyncio.to_thread(sandbox.wait_for_webhooks, 5)
        await services.aclose()
        await core.aclose()


@pytest.fixture
async def checkout_lab(stripe_sandbox, sqlite_database, tmp_path) -> AsyncIterator[CheckoutLab]:
    """The lab on SQLite (most checkout rules do not depend on the database)."""
    async for lab in _lab(stripe_sandbox, sqlite_database, tmp_path):
        yield lab


@pytest.fixture
async def checkout_lab_any_db(stripe_sandbox, database, tmp_path) -> AsyncIterator[CheckoutLab]:
    """The lab on SQLite and on PostgreSQL (storage and webhook de-duplication)."""
    async for lab in _lab(stripe_sandbox, database, tmp_path):
        yield lab
