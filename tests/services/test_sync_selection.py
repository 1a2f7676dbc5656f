"""SyncService.run(listing_ids=...): the GUI's "sync the selection" and "retry failures"."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from uhadmin.domain import ListingStatus, NewListing, SyncState
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.sync import SyncService
from uhadmin.services.tables import ListingRow

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sync(sqlite_database, stripe_sandbox):
    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None))
    yield SyncService(sqlite_database, ChangeBus(), CatalogGateway(gateway), actor="tester")
    await gateway.aclose()


async def approved(listings, count: int) -> list:
    return [await listings.create(NewListing(title=f"Lamp {n}", price_minor=1000 + n,
                                             currency="usd", status=ListingStatus.APPROVED),
                                  actor="seller") for n in range(count)]


async def test_a_selection_pushes_only_those_listings(sync, sqlite_database) -> None:
    from uhadmin.services.listings import ListingService

    listings = ListingService(sqlite_database, ChangeBus())
    made = await approved(listings, 3)
    report = await sync.run(listing_ids=[made[1].id])
    assert report.created == 1 and report.queued == 2
    assert (await listings.get(made[1].id)).sync_state is SyncState.SYNCED
    assert (await listings.get(made[0].id)).sync_state is SyncState.PENDING
    assert (await sync.run()).created == 2


async def test_retrying_chosen_failures_skips_the_back_off(sync, sqlite_database) -> None:
    from uhadmin.services.listings import ListingService

    listings = ListingService(sqlite_database, ChangeBus())
    [listing] = await approved(listings, 1)

    def set_currency(code: str, bump: int):
        def write(session) -> None:
            session.execute(update(ListingRow).where(ListingRow.id == listing.id).values(
                currency=code, version=ListingRow.version + bump))
        return write

    # A bad currency written straight into the table (as a buggy website might): Stripe
    # refuses it, so the change fails with Stripe's reason.
    await sqlite_database.run(set_currency("u5d", 0), write=True)
    failed = await sync.run()
    assert failed.failed == 1 and "currency" in failed.failures[listing.id]
    # Fixed without a version bump (an edit that bumps it lifts the back-off at once):
    # a plain run waits out the back-off, a chosen retry does not.
    await sqlite_database.run(set_currency("usd", 0), write=True)
    assert (await sync.run()).created == 0
    retried = await sync.run(listing_ids=[listing.id])
    assert retried.created == 1 and retried.failed == 0
    assert (await listings.get(listing.id)).sync_state is SyncState.SYNCED
