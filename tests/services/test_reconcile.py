"""ReconcileService and adopt against the offline sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from uhadmin.bootstrap import Overrides, build_services
from uhadmin.config import load_settings
from uhadmin.domain import FindingKind, Fix, ListingStatus, NewListing, SyncState
from uhadmin.errors import NotFoundError
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway

pytestmark = pytest.mark.anyio


@pytest.fixture
async def services(database, stripe_sandbox, tmp_path):
    """The sync and reconcile services as the app's composition root wires them, on the
    shared sandbox."""
    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None))
    settings = load_settings({"data_dir": str(tmp_path / "data"), "actor": "tester"},
                             environ={})
    built = build_services(settings, upgrade=False, db=database,
                           overrides=Overrides(gateway=gateway, sandbox=stripe_sandbox))
    yield built.sync, built.reconcile
    await built.aclose()
    await gateway.aclose()


async def synced_catalog(listing_service, sync, count: int = 3) -> list:
    made = [await listing_service.create(NewListing(
        f"Lamp {number}", 1500 + number, "usd", description="Brass",
        status=ListingStatus.APPROVED), actor="s") for number in range(count)]
    await sync.run()
    return [await listing_service.get(listing.id) for listing in made]


def kinds(report) -> list[tuple[str, int | None]]:
    return sorted(((str(finding.kind), finding.listing_id) for finding in report.findings),
                  key=lambda item: (item[0], item[1] or 0))


async def test_matching_catalog_has_no_findings_and_reads_only_lists(
        services, listing_service, stripe_sandbox) -> None:
    sync, reconcile = services
    await synced_catalog(listing_service, sync)
    stripe_sandbox.reset_stats()
    report = await reconcile.check()
    assert report.findings == ()
    assert (report.products_seen, report.prices_seen, report.listings_seen) == (3, 3, 3)
    assert report.api_calls == 2
    assert stripe_sandbox.stats.by_endpoint == {("GET", "/v1/products"): 1,
                                                ("GET", "/v1/prices"): 1}


@pytest.mark.slow
async def test_lists_page_by_100(services, stripe_client, stripe_sandbox) -> None:
    _, reconcile = services
    for number in range(130):
        stripe_client.v1.products.create({"name": f"Made elsewhere {number}"})
    stripe_sandbox.reset_stats()
    report = await reconcile.check()
    assert report.products_seen == 130
    assert stripe_sandbox.stats.count("GET", "/v1/products") == 2  # 100 + 30
    assert report.count(FindingKind.FOREIGN) == 130


async def test_every_kind_of_drift_is_found_and_nothing_changes(
        services, listing_service, stripe_client, stripe_sandbox) -> None:
    sync, reconcile = services
    lamps = await synced_catalog(listing_service, sync, 5)
    catalog_id = await sync.catalog_id()
    renamed, repriced, archived, duplicated = lamps[:4]
    unpushed = await listing_service.create(NewListing(
        "Never synced", 700, "usd", status=ListingStatus.APPROVED), actor="s")
    stripe_client.v1.products.update(renamed.stripe_product_id, {"name": "Renamed in Dashboard"})
    price = stripe_client.v1.prices.create({"product": repriced.stripe_product_id,
                                            "unit_amount": 9900, "currency": "usd"})
    stripe_client.v1.products.update(repriced.stripe_product_id, {"default_price": price.id})
    stripe_client.v1.products.update(archived.stripe_product_id, {"active": False})
    stripe_client.v1.products.create({
        "name": "Copy", "metadata": {"listing_id": str(duplicated.id), "catalog_id": catalog_id},
        "default_price_data": {"currency": "usd", "unit_amount": 1503}})
    stripe_client.v1.products.create({
        "name": "Gone", "metadata": {"listing_id": "999999", "catalog_id": catalog_id}})
    foreign = stripe_client.v1.products.create({"name": "Dashboard product"})
    before = dict(stripe_sandbox.store.objects["product"])
    report = await reconcile.check()
    assert kinds(report) == sorted([
        ("field_drift", renamed.id), ("price_drift", repriced.id),
        ("active_mismatch", archived.id), ("duplicate", duplicated.id),
        ("orphan", None), ("never_pushed", unpushed.id), ("foreign", None),
        # The Dashboard made a new default and left the old price active.
        ("stale_price", repriced.id),
    ], key=lambda item: (item[0], item[1] or 0))
    assert [f.product_id for f in report.findings if f.kind == FindingKind.FOREIGN] == \
        [foreign.id]
    assert dict(stripe_sandbox.store.objects["product"]) == before  # read only
    drift = next(f for f in report.findings if f.kind == FindingKind.FIELD_DRIFT)
    assert drift.fixes == (Fix.PUSH_OURS, Fix.TAKE_STRIPES) and "name" in drift.detail


async def test_dry_run_says_what_would_happen_and_changes_nothing(
        services, listing_service, stripe_client, stripe_sandbox) -> None:
    sync, reconcile = services
    [lamp] = await synced_catalog(listing_service, sync, 1)
    stripe_client.v1.products.update(lamp.stripe_product_id, {"name": "Drifted"})
    report = await reconcile.fix(dry_run=True)
    assert [item.fix for item in report.applied] == [Fix.PUSH_OURS]
    assert "push listing" in report.applied[0].detail
    assert stripe_sandbox.store.objects["product"][lamp.stripe_product_id]["name"] == "Drifted"


async def test_push_ours_and_take_stripes(services, listing_service, stripe_client,
                                          stripe_sandbox) -> None:
    sync, reconcile = services
    first, second = await synced_catalog(listing_service, sync, 2)
    stripe_client.v1.products.update(first.stripe_product_id, {"name": "Dashboard name"})
    report = await reconcile.fix(kinds=[FindingKind.FIELD_DRIFT])
    assert not report.errors
    assert stripe_sandbox.store.objects["product"][first.stripe_product_id]["name"] == "Lamp 0"
    stripe_client.v1.products.update(second.stripe_product_id, {"name": "Better name"})
    report = await reconcile.fix(fixes=[(FindingKind.FIELD_DRIFT, Fix.TAKE_STRIPES)])
    assert not report.errors
    taken = await listing_service.get(second.id)
    assert taken.title == "Better name" and taken.version == second.version + 1
    assert taken.sync_state == SyncState.SYNCED
    assert (await reconcile.check()).findings == ()
    stripe_sandbox.reset_stats()
    assert (await sync.run()).api_calls == 0  # taking Stripe's values leaves nothing to push


async def test_price_and_active_drift_fixed_by_pushing_ours(
        services, listing_service, stripe_client, stripe_sandbox) -> None:
    sync, reconcile = services
    repriced, archived = await synced_catalog(listing_service, sync, 2)
    price = stripe_client.v1.prices.create({"product": repriced.stripe_product_id,
                                            "unit_amount": 9900, "currency": "usd"})
    stripe_client.v1.products.update(repriced.stripe_product_id, {"default_price": price.id})
    stripe_client.v1.products.update(archived.stripe_product_id, {"active": False})
    report = await reconcile.fix(kinds=[FindingKind.PRICE_DRIFT, FindingKind.ACTIVE_MISMATCH])
    assert not report.errors and len(report.applied) == 2
    assert (await reconcile.check()).findings == ()
    fixed = await listing_service.get(repriced.id)
    assert stripe_sandbox.store.objects["price"][fixed.stripe_price_id]["unit_amount"] == 1500
    assert stripe_sandbox.store.objects["price"][price.id]["active"] is False
    assert stripe_sandbox.store.objects["product"][archived.stripe_product_id]["active"] is True


async def test_orphans_duplicates_archived_and_lost_links_relinked(
        services, listing_service, stripe_client, stripe_sandbox) -> None:
    sync, reconcile = services
    [lamp] = await synced_catalog(listing_service, sync, 1)
    catalog_id = await sync.catalog_id()
    orphan = stripe_client.v1.products.create({
        "name": "Gone", "metadata": {"listing_id": "424242", "catalog_id": catalog_id}})
    duplicate = stripe_client.v1.products.create({
        "name": "Copy", "metadata": {"listing_id": str(lamp.id), "catalog_id": catalog_id}})
    report = await reconcile.fix(kinds=[FindingKind.ORPHAN, FindingKind.DUPLICATE])
    assert not report.errors
    products = stripe_sandbox.store.objects["product"]
    assert products[orphan.id]["active"] is False
    assert products[duplicate.id]["active"] is False
    assert products[lamp.stripe_product_id]["active"] is True
    # The database lost its link: the product with the listing's custom id is linked back.
    with listing_service._db.session(write=True) as session:
        from sqlalchemy import text

        session.execute(text("UPDATE listings SET stripe_product_id = NULL, "
                             "stripe_price_id = NULL, pushed_fingerprint = NULL"))
    report = await reconcile.check()
    link = next(f for f in report.findings if f.kind == FindingKind.ORPHAN)
    assert link.listing_id == lamp.id and link.fixes[0] == Fix.LINK
    stripe_sandbox.reset_stats()
    report = await reconcile.apply([(link, Fix.LINK)])
    assert not report.errors
    relinked = await listing_service.get(lamp.id)
    assert relinked.stripe_product_id == lamp.stripe_product_id
    assert stripe_sandbox.stats.count("POST", "/v1/products") == 0  # no new product


async def test_adopt_products_made_elsewhere(services, listing_service, stripe_client,
                                             stripe_sandbox) -> None:
    sync, reconcile = services
    made = stripe_client.v1.products.create({
        "name": "Dashboard chair", "description": "Oak",
        "default_price_data": {"currency": "eur", "unit_amount": 4500}})
    [listing] = await reconcile.adopt([made.id])
    assert (listing.title, listing.price_minor, listing.currency) == ("Dashboard chair", 4500,
                                                                      "eur")
    assert listing.status == ListingStatus.APPROVED
    assert listing.stripe_product_id == made.id and listing.sync_state == SyncState.SYNCED
    catalog_id = await sync.catalog_id()
    assert stripe_sandbox.store.objects["product"][made.id]["metadata"] == {
        "listing_id": str(listing.id), "catalog_id": catalog_id}
    assert len(stripe_sandbox.store.objects["product"]) == 1  # adopted, not copied
    assert (await reconcile.check()).findings == ()
    with pytest.raises(NotFoundError):
        await reconcile.adopt(["prod_doesNotExist"])


async def test_fix_all_adopts_foreign_products(services, stripe_client) -> None:
    sync, reconcile = services
    stripe_client.v1.products.create({
        "name": "Made in Dashboard", "default_price_data": {"currency": "usd",
                                                           "unit_amount": 1000}})
    report = await reconcile.fix()
    assert [item.fix for item in report.applied] == [Fix.ADOPT]
    assert (await reconcile.check()).findings == ()
    assert (await sync.run()).api_calls == 0


async def test_a_second_active_price_is_a_stale_price_finding_archived_on_request(
        services, listing_service, stripe_client, stripe_sandbox) -> None:
    sync, reconcile = services
    listing, other = await synced_catalog(listing_service, sync, 2)
    stale = [stripe_client.v1.prices.create({"product": listing.stripe_product_id,
                                             "unit_amount": amount, "currency": "usd"})
             for amount in (1400, 1300)]
    report = await reconcile.check()
    assert kinds(report) == [("stale_price", listing.id)]
    [finding] = report.findings
    assert finding.fixes == (Fix.ARCHIVE_PRICES,) and all(p.id in finding.detail for p in stale)
    report = await reconcile.fix(kinds=[FindingKind.STALE_PRICE])
    assert not report.errors and len(report.applied) == 1
    prices = stripe_sandbox.store.objects["price"]
    assert [prices[p.id]["active"] for p in stale] == [False, False]
    assert prices[listing.stripe_price_id]["active"] is True  # never the default price
    assert prices[other.stripe_price_id]["active"] is True
    assert (await reconcile.check()).findings == ()
    history = await listing_service.history(listing.id)
    assert history[0].action == "reconcile"
    assert sorted(history[0].details["archived_prices"]) == sorted(p.id for p in stale)
