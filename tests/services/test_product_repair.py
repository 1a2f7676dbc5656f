"""A product deleted in the Dashboard: diagnosed, fixed three ways, and the failure clears."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from uhadmin.domain import FindingKind, Fix, ListingChanges, ListingStatus, NewListing, SyncState
from uhadmin.domain.sync_failures import (
    LONGEST_RETRY,
    deleted_product_of,
    hold_after_failure,
    retry_after,
)
from uhadmin.errors import NotFoundError, ValidationError
from uhadmin.sandbox.dashboard import delete_product_in_dashboard
from uhadmin.services.listing_writes import utcnow
from uhadmin.services.reconcile import ReconcileService
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.sync import OUTBOX, SyncService
from uhadmin.services.tables import ListingRow

pytestmark = pytest.mark.anyio


@pytest.fixture
async def services(database, stripe_sandbox, change_bus):
    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None))
    catalog = CatalogGateway(gateway)
    sync = SyncService(database, change_bus, catalog, actor="tester")
    reconcile = ReconcileService(database, change_bus, catalog, sync, actor="tester")
    yield sync, reconcile
    await gateway.aclose()


async def deleted_in_dashboard(listing_service, sync, stripe_sandbox):
    """Two synced lamps; the first one's product deleted in the Dashboard, then edited."""
    lamps = [await listing_service.create(NewListing(
        f"Lamp {number}", 1500 + number, "usd", status=ListingStatus.APPROVED), actor="s")
        for number in range(2)]
    await sync.run()
    lamp = await listing_service.get(lamps[0].id)
    delete_product_in_dashboard(stripe_sandbox, lamp.stripe_product_id)
    await listing_service.update(lamp.id, ListingChanges(title="Lamp 0, brass"),
                                 expected_version=lamp.version, actor="s")
    report = await sync.run()
    return await listing_service.get(lamp.id), lamp.stripe_product_id, report


def failures_in(history) -> list:
    return [entry for entry in history if entry.action == "sync_failed"]


def test_retries_back_off_exponentially_to_a_cap() -> None:
    assert [retry_after(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert retry_after(12) == retry_after(1000) == LONGEST_RETRY
    assert hold_after_failure("needs fixing, not sent to Stripe: title: empty", 1) > \
        timedelta(days=3650)


async def test_deleted_product_is_diagnosed_and_retries_write_one_history_entry(
        services, listing_service, stripe_sandbox, database) -> None:
    sync, _ = services
    lamp, product_id, report = await deleted_in_dashboard(listing_service, sync,
                                                          stripe_sandbox)
    assert lamp.sync_state == SyncState.FAILED
    assert deleted_product_of(lamp.sync_error) == product_id
    assert "re-create it, link the listing to another product, or unlink it" in lamp.sync_error
    assert report.failures[lamp.id] == lamp.sync_error
    for _ in range(3):  # a person pressing Retry: same failure, no new history entry
        await sync.run(listing_ids=[lamp.id])
    assert len(failures_in(await listing_service.history(lamp.id))) == 1
    attempts, until = (await database.run(lambda session: session.execute(
        select(OUTBOX.c.attempts, OUTBOX.c.lease_until).where(
            OUTBOX.c.listing_id == lamp.id, OUTBOX.c.done_at.is_(None))).one()))
    assert attempts == 4
    if until.tzinfo is None:
        until = until.replace(tzinfo=utcnow().tzinfo)
    assert until - utcnow() > timedelta(minutes=7)  # the fourth refusal waits 8 minutes


async def test_reconcile_offers_recreate_first_and_the_fix_clears_everything(
        services, listing_service, stripe_sandbox, stripe_client) -> None:
    sync, reconcile = services
    lamp, product_id, _ = await deleted_in_dashboard(listing_service, sync, stripe_sandbox)
    before = await reconcile.check()
    [finding] = before.findings
    assert (finding.kind, finding.listing_id, finding.product_id) == (
        FindingKind.PRODUCT_DELETED, lamp.id, product_id)
    assert finding.fixes == (Fix.RECREATE, Fix.UNLINK)
    fixed = await reconcile.fix()  # every finding's default fix
    assert [item.fix for item in fixed.applied] == [Fix.RECREATE]
    assert fixed.errors == {}
    after = await listing_service.get(lamp.id)
    assert (after.sync_state, after.sync_error) == (SyncState.SYNCED, "")
    assert stripe_client.v1.products.retrieve(after.stripe_product_id).name == "Lamp 0, brass"
    assert (await reconcile.check()).findings == ()


async def test_unlink_takes_the_listing_off_sale_and_link_points_at_another_product(
        services, listing_service, stripe_sandbox, stripe_client) -> None:
    sync, reconcile = services
    lamp, _, _ = await deleted_in_dashboard(listing_service, sync, stripe_sandbox)
    unlinked = await reconcile.repair.unlink(lamp.id)
    assert (unlinked.status, unlinked.stripe_product_id) == (ListingStatus.ARCHIVED, None)
    assert (unlinked.sync_state, unlinked.sync_error) == (SyncState.NOT_PUBLISHED, "")
    assert (await reconcile.check()).findings == ()

    other, _, _ = await deleted_in_dashboard(listing_service, sync, stripe_sandbox)
    made = stripe_client.v1.products.create({
        "name": "Made in the Dashboard",
        "default_price_data": {"unit_amount": 999, "currency": "usd"}})
    with pytest.raises(NotFoundError):
        await reconcile.repair.link(other.id, "prod_doesNotExist")
    taken = (await listing_service.get(lamp.id + 1)).stripe_product_id
    with pytest.raises(ValidationError, match="already belongs to listing"):
        await reconcile.repair.link(other.id, taken)
    linked = await reconcile.repair.link(other.id, made.id)
    assert (linked.stripe_product_id, linked.sync_state, linked.sync_error) == (
        made.id, SyncState.SYNCED, "")
    remote = stripe_client.v1.products.retrieve(made.id, {"expand": ["default_price"]})
    assert (remote.name, remote.default_price.unit_amount) == (other.title, other.price_minor)


async def test_a_listing_whose_product_was_replaced_links_instead_of_archiving(
        services, listing_service, stripe_sandbox, stripe_client) -> None:
    """The case that used to archive the listing's real product by default."""
    sync, reconcile = services
    lamp, product_id, _ = await deleted_in_dashboard(listing_service, sync, stripe_sandbox)
    catalog_id = await sync.catalog_id()
    live = stripe_client.v1.products.create({
        "name": "Lamp 0, brass", "metadata": {"listing_id": str(lamp.id),
                                              "catalog_id": catalog_id},
        "default_price_data": {"unit_amount": lamp.price_minor, "currency": "usd"}})
    report = await reconcile.check()
    orphan = next(f for f in report.findings if f.kind == FindingKind.ORPHAN)
    assert orphan.product_id == live.id and orphan.fixes[0] == Fix.LINK
    await reconcile.fix(kinds={FindingKind.ORPHAN})
    assert stripe_client.v1.products.retrieve(live.id).active is True
    assert (await listing_service.get(lamp.id)).stripe_product_id == live.id


async def test_an_invalid_row_waits_for_an_edit_even_the_websites(
        services, listing_service, database) -> None:
    """AutoSync's rounds neither retry nor re-record a row that breaks a rule; the
    website's fix (a plain UPDATE bumping version) lifts the hold at once."""
    sync, _ = services
    lamp = await listing_service.create(NewListing("Lamp", 1500, "usd",
                                                   status=ListingStatus.APPROVED), actor="s")

    def website_sets(currency: str):
        def write(session) -> None:
            session.execute(update(ListingRow).where(ListingRow.id == lamp.id).values(
                currency=currency, version=ListingRow.version + 1))
        return write

    await database.run(website_sets("u5d"), write=True)
    first = await sync.run(full_scan=False, wait_for_others=False)
    assert first.failures[lamp.id].startswith("needs fixing, not sent to Stripe: ")
    for _ in range(3):  # background rounds
        again = await sync.run(full_scan=False, wait_for_others=False)
        assert again.api_calls == 0 and again.failed == 1  # reported, not retried
    assert len(failures_in(await listing_service.history(lamp.id))) == 1
    until = await database.run(lambda session: session.execute(
        select(OUTBOX.c.lease_until).where(OUTBOX.c.listing_id == lamp.id,
                                           OUTBOX.c.done_at.is_(None))).scalar_one())
    if until.tzinfo is None:
        until = until.replace(tzinfo=utcnow().tzinfo)
    assert until - utcnow() > timedelta(days=3650)

    await database.run(website_sets("usd"), write=True)
    fixed = await sync.run(full_scan=False, wait_for_others=False)
    assert (fixed.created, fixed.failed) == (1, 0)
    after = await listing_service.get(lamp.id)
    assert (after.sync_state, after.sync_error) == (SyncState.SYNCED, "")
