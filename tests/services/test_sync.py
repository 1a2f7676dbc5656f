"""SyncService on SQLite and PostgreSQL against the offline sandbox through the real SDK."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from test_gateway import free_port, live_mode_server  # noqa: F401 - fixture reuse

from uhadmin.domain import (
    ConnectionState,
    ListingChanges,
    ListingQuery,
    ListingStatus,
    NewListing,
    SyncProgress,
    SyncState,
)
from uhadmin.domain.changes import Change, SyncChanged
from uhadmin.errors import ModeMismatchError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.sync import (
    SQLITE_LOCK_SETTING,
    AutoSync,
    CancelToken,
    SyncBusyError,
    SyncService,
)
from uhadmin.services.sync import outbox as sync_outbox
from uhadmin.services.sync import run as sync_run

pytestmark = pytest.mark.anyio


def make_sync(db: Database, sandbox, bus: ChangeBus | None = None, **config) -> SyncService:
    values = {"api_key": sandbox.test_key, "api_base": sandbox.url, "rate_limit": None,
              "backoff_initial_s": 0.005, "backoff_max_s": 0.05, "max_attempts": 8}
    values.update(config)
    gateway = StripeGateway(GatewayConfig(**values))
    return SyncService(db, bus or ChangeBus(), CatalogGateway(gateway), actor="tester")


@pytest.fixture
async def sync(database, stripe_sandbox, change_bus):
    service = make_sync(database, stripe_sandbox, change_bus)
    yield service
    await service.gateway.aclose()


async def approved(listings: ListingService, count: int, **fields) -> list:
    made = []
    for number in range(count):
        values = {"title": f"Textbook {number}", "price_minor": 1000 + number,
                  "currency": "usd", "status": ListingStatus.APPROVED}
        values.update(fields)
        made.append(await listings.create(NewListing(**values), actor="seller"))
    return made


def products(sandbox) -> dict[str, dict]:
    with sandbox.store.lock:
        return {key: dict(value) for key, value in sandbox.store.objects["product"].items()}


def prices(sandbox) -> dict[str, dict]:
    with sandbox.store.lock:
        return {key: dict(value) for key, value in sandbox.store.objects["price"].items()}


def creates(sandbox) -> int:
    return sandbox.stats.count("POST", "/v1/products")


def rows(database: Database, sql: str) -> list:
    with database.session() as session:
        return list(session.execute(text(sql)))


# --- what a sync does per listing ----------------------------------------------------------
@pytest.mark.slow
async def test_new_approved_listing_is_one_create_with_our_id_and_price(
        sync, listing_service, stripe_sandbox) -> None:
    [listing] = await approved(listing_service, 1, description="Good as new",
                               image_urls=("https://example.org/a.jpg",))
    report = await sync.run()
    assert (report.created, report.api_calls, report.failed) == (1, 1, 0)
    catalog_id = await sync.catalog_id()
    stored = await listing_service.get(listing.id)
    assert stored.stripe_product_id == f"uh_{catalog_id}_{listing.id}"
    assert stored.sync_state == SyncState.SYNCED
    product = products(stripe_sandbox)[stored.stripe_product_id]
    assert product["metadata"] == {"listing_id": str(listing.id), "catalog_id": catalog_id}
    assert product["images"] == ["https://example.org/a.jpg"]
    assert product["description"] == "Good as new"
    assert product["default_price"] == stored.stripe_price_id
    price = prices(stripe_sandbox)[stored.stripe_price_id]
    assert (price["unit_amount"], price["currency"]) == (1000, "usd")


async def test_unchanged_catalog_makes_zero_calls(sync, listing_service, stripe_sandbox) -> None:
    await approved(listing_service, 5)
    await sync.run()
    stripe_sandbox.reset_stats()
    report = await sync.run()
    assert report.api_calls == 0 and stripe_sandbox.stats.total == 0
    assert (report.created, report.unchanged) == (0, 5)


async def test_drafts_and_reviews_never_reach_stripe(sync, listing_service, stripe_sandbox) -> None:
    await listing_service.create(NewListing("Draft", 900, "usd"), actor="s")
    await listing_service.create(NewListing("Waiting", 900, "usd",
                                            status=ListingStatus.PENDING_REVIEW), actor="s")
    report = await sync.run()
    assert report.api_calls == 0 and products(stripe_sandbox) == {}


async def test_details_change_is_one_update(sync, listing_service, stripe_sandbox) -> None:
    [listing] = await approved(listing_service, 1)
    await sync.run()
    listing = await listing_service.get(listing.id)
    await listing_service.update(listing.id, ListingChanges(title="Renamed", description="New"),
                                 expected_version=listing.version, actor="s")
    stripe_sandbox.reset_stats()
    report = await sync.run()
    assert (report.updated, report.api_calls) == (1, 1)
    assert stripe_sandbox.stats.count("POST", "/v1/products/{id}") == 1
    product = products(stripe_sandbox)[listing.stripe_product_id]
    assert (product["name"], product["description"]) == ("Renamed", "New")


async def test_price_change_leaves_exactly_one_active_price(
        sync, listing_service, stripe_sandbox) -> None:
    [listing] = await approved(listing_service, 1)
    await sync.run()
    listing = await listing_service.get(listing.id)
    old_price = listing.stripe_price_id
    await listing_service.update(listing.id, ListingChanges(price_minor=2500),
                                 expected_version=listing.version, actor="s")
    report = await sync.run()
    assert (report.price_changed, report.api_calls) == (1, 3)
    stored = await listing_service.get(listing.id)
    assert stored.stripe_price_id != old_price and stored.sync_state == SyncState.SYNCED
    mine = {key: value for key, value in prices(stripe_sandbox).items()
            if value["product"] == listing.stripe_product_id}
    assert [key for key, value in mine.items() if value["active"]] == [stored.stripe_price_id]
    assert mine[old_price]["active"] is False
    assert mine[stored.stripe_price_id]["unit_amount"] == 2500
    assert products(stripe_sandbox)[listing.stripe_product_id]["default_price"] == \
        stored.stripe_price_id


async def test_archive_and_relist(sync, listing_service, stripe_sandbox) -> None:
    [listing] = await approved(listing_service, 1)
    await sync.run()
    await listing_service.change_status(listing.id, ListingStatus.ARCHIVED, actor="s")
    report = await sync.run()
    assert (report.archived, report.api_calls) == (1, 1)
    assert "default price" in report.notes[0]  # what was done about the price is said
    stored = await listing_service.get(listing.id)
    assert products(stripe_sandbox)[stored.stripe_product_id]["active"] is False
    await listing_service.change_status(listing.id, ListingStatus.APPROVED, actor="s")
    report = await sync.run()
    assert (report.updated, report.api_calls) == (1, 1)
    assert products(stripe_sandbox)[stored.stripe_product_id]["active"] is True


async def test_archived_before_first_push_costs_nothing(sync, listing_service,
                                                        stripe_sandbox) -> None:
    [listing] = await approved(listing_service, 1)
    await listing_service.change_status(listing.id, ListingStatus.ARCHIVED, actor="s")
    report = await sync.run()
    assert report.api_calls == 0 and products(stripe_sandbox) == {}
    assert (await listing_service.get(listing.id)).sync_state == SyncState.NOT_PUBLISHED


async def test_rows_the_website_wrote_get_pushed(sync, database, listing_service,
                                                 stripe_sandbox) -> None:
    with database.session(write=True) as session:
        session.execute(text("INSERT INTO listings (title, price_minor, status) "
                             "VALUES ('From the website', 4200, 'approved')"))
    report = await sync.run()
    assert report.created == 1
    [product] = products(stripe_sandbox).values()
    assert product["name"] == "From the website"
    # The website edits a row in place (bumping version, no outbox row): pushed too.
    with database.session(write=True) as session:
        session.execute(text("UPDATE listings SET title = 'Edited on the web', "
                             "version = version + 1"))
    report = await sync.run()
    assert (report.updated, report.api_calls) == (1, 1)
    [product] = products(stripe_sandbox).values()
    assert product["name"] == "Edited on the web"
    [(price_id,)] = rows(database, "SELECT stripe_price_id FROM listings")
    assert price_id == product["default_price"]


async def test_keys_are_saved_before_sending_and_reused(sync, database, listing_service,
                                                        stripe_sandbox) -> None:
    await approved(listing_service, 1)
    stripe_sandbox.set_faults(fail_rate=1.0)
    report = await sync.run()
    assert report.offline and report.created == 0
    [(key, completed)] = rows(database, "SELECT idempotency_key, completed_at "
                                        "FROM stripe_operations")
    assert completed is None
    stripe_sandbox.set_faults(fail_rate=0.0)
    report = await sync.run()
    assert report.created == 1
    with stripe_sandbox.store.lock:
        assert stripe_sandbox.store.get("idempotency", key) is not None  # the same key
    [(completed,)] = rows(database, "SELECT completed_at FROM stripe_operations "
                                    "WHERE operation LIKE 'create:%'")
    assert completed is not None


# --- never a duplicate ---------------------------------------------------------------------
class _Crash(Exception):
    """Stands for the process dying between Stripe's answer and the database commit."""


@pytest.mark.parametrize("hours_later", [0, 25])
async def test_crash_after_stripe_before_commit_makes_no_duplicate(
        database, listing_service, stripe_sandbox, monkeypatch, hours_later: int) -> None:
    [listing] = await approved(listing_service, 1)
    crashing = make_sync(database, stripe_sandbox)

    def crash(*_args, **_kwargs):
        raise _Crash

    monkeypatch.setattr(sync_run, "write_results_in", crash)
    with pytest.raises(_Crash):
        await crashing.run()
    assert len(products(stripe_sandbox)) == 1  # Stripe has it, the database does not know
    assert (await listing_service.get(listing.id)).stripe_product_id is None
    await crashing.gateway.aclose()
    monkeypatch.undo()  # the next process writes its results
    stripe_sandbox.clock.advance(hours_later * 3600)  # past the 24 h key lifetime if 25
    stripe_sandbox.reset_stats()
    restarted = make_sync(database, stripe_sandbox)
    report = await restarted.run()
    await restarted.gateway.aclose()
    assert report.failed == 0 and report.created == 1
    assert len(products(stripe_sandbox)) == 1
    # Recovery looked the product up by its custom id and did not create again.
    assert stripe_sandbox.stats.count("GET", "/v1/products/{id}") == 1
    assert creates(stripe_sandbox) == 0
    stored = await listing_service.get(listing.id)
    assert stored.stripe_product_id in products(stripe_sandbox)
    assert stored.sync_state == SyncState.SYNCED


@pytest.mark.slow
async def test_storm_of_429_500_and_drops_ends_with_each_listing_once(
        database, listing_service, stripe_sandbox) -> None:
    made = await approved(listing_service, 30)
    stripe_sandbox.set_faults(rate_limit=40, fail_rate=0.2, drop_rate=0.2)
    storm = make_sync(database, stripe_sandbox, max_attempts=25, backoff_max_s=0.1)
    report = await storm.run()
    stripe_sandbox.set_faults(rate_limit=None, fail_rate=0.0, drop_rate=0.0)
    if report.offline:  # a listing out of attempts stays queued; the next run finishes it
        report = await storm.run()
    await storm.gateway.aclose()
    assert report.failed == 0
    found = products(stripe_sandbox)
    assert len(found) == 30
    assert sorted(int(p["metadata"]["listing_id"]) for p in found.values()) == \
        sorted(listing.id for listing in made)
    assert storm.gateway.stats.by_status.get(500, 0) + storm.gateway.stats.by_status.get(0, 0) > 0
    states = {(await listing_service.get(listing.id)).sync_state for listing in made}
    assert states == {SyncState.SYNCED}


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_syncs_at_once_on_postgresql_double_claim_nothing(
        postgres_database_url, stripe_sandbox) -> None:
    from db_fixtures import _empty_postgres  # the shared cleaner

    first_db = _empty_postgres(postgres_database_url)
    second_db = Database(postgres_database_url)
    listings = ListingService(first_db, ChangeBus())
    made = await approved(listings, 80)
    stripe_sandbox.set_faults(latency_ms=5)
    first = make_sync(first_db, stripe_sandbox)
    second = make_sync(second_db, stripe_sandbox)
    first.batch_size = second.batch_size = 10
    claimed: dict[str, list[int]] = {"first": [], "second": []}
    for name, service in (("first", first), ("second", second)):
        original = service.store._claim_in

        def recording(session, *, _original=original, _name=name, **kwargs):
            batch = _original(session, **kwargs)
            claimed[_name].extend(work.listing_id for work in batch)
            return batch

        service.store._claim_in = recording
    reports = await asyncio.gather(first.run(), second.run())
    await first.gateway.aclose()
    await second.gateway.aclose()
    assert not set(claimed["first"]) & set(claimed["second"])
    assert claimed["first"] and claimed["second"]  # both really worked
    assert sum(report.created for report in reports) == 80
    assert creates(stripe_sandbox) == 80 and len(products(stripe_sandbox)) == 80
    assert {listing.id for listing in made} == set(claimed["first"]) | set(claimed["second"])
    first_db.close()
    second_db.close()


async def test_sqlite_allows_one_syncing_process_and_says_so(sqlite_database,
                                                             stripe_sandbox) -> None:
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    with sqlite_database.session(write=True) as session:
        session.execute(text("INSERT INTO app_settings (key, value) VALUES (:k, :v)"),
                        {"k": SQLITE_LOCK_SETTING,
                         "v": json.dumps({"holder": "other-host:42:abc", "until": until})})
    service = make_sync(sqlite_database, stripe_sandbox)
    with pytest.raises(SyncBusyError, match="one syncing process at a time"):
        await service.run()
    # An expired lease (its holder died) is taken over.
    with sqlite_database.session(write=True) as session:
        session.execute(text("UPDATE app_settings SET value = :v WHERE key = :k"),
                        {"k": SQLITE_LOCK_SETTING,
                         "v": json.dumps({"holder": "other-host:42:abc",
                                          "until": "2000-01-01T00:00:00+00:00"})})
    assert (await service.run()).failed == 0
    assert rows(sqlite_database, f"SELECT * FROM app_settings WHERE key = "
                                 f"'{SQLITE_LOCK_SETTING}'") == []
    await service.gateway.aclose()


# --- a newer revision wins -----------------------------------------------------------------
async def test_edit_made_during_a_sync_wins(database, listing_service, stripe_sandbox) -> None:
    [listing] = await approved(listing_service, 1)
    service = make_sync(database, stripe_sandbox)
    real_create = service.catalog.create_product
    edited = []

    async def create_while_someone_edits(*args, **kwargs):
        result = await real_create(*args, **kwargs)
        if not edited:  # the edit commits while the first push is between Stripe and the db
            current = await listing_service.get(listing.id)
            edited.append(await listing_service.update(
                listing.id, ListingChanges(price_minor=7777, title="Edited meanwhile"),
                expected_version=current.version, actor="s"))
        return result

    service.catalog.create_product = create_while_someone_edits
    report = await service.run()
    await service.gateway.aclose()
    stored = await listing_service.get(listing.id)
    assert stored.version == edited[0].version
    assert stored.sync_state == SyncState.SYNCED
    assert (report.created, report.price_changed) == (1, 1)
    product = products(stripe_sandbox)[stored.stripe_product_id]
    assert product["name"] == "Edited meanwhile"
    assert prices(stripe_sandbox)[stored.stripe_price_id]["unit_amount"] == 7777
    assert product["default_price"] == stored.stripe_price_id


async def test_older_result_never_overwrites_a_newer_one(sync, database, listing_service,
                                                         stripe_sandbox) -> None:
    [listing] = await approved(listing_service, 1)
    await sync.run()
    with database.session(write=True) as session:  # a newer revision's result already landed
        session.execute(text("UPDATE stripe_sync_claims SET pushed_revision = 99"))
    stored = await listing_service.get(listing.id)
    await listing_service.update(listing.id, ListingChanges(title="Newer"),
                                 expected_version=stored.version, actor="s")
    await sync.run()
    [(fingerprint_kept,)] = rows(database, "SELECT pushed_fingerprint FROM listings")
    assert (await listing_service.get(listing.id)).sync_state == SyncState.PENDING
    assert fingerprint_kept is not None


# --- offline, progress, cancel, limit, dry run, mode ---------------------------------------
@pytest.mark.slow
async def test_offline_keeps_changes_queued_and_auto_sync_drains_them(
        database, listing_service, stripe_sandbox) -> None:
    await approved(listing_service, 3)
    dead = make_sync(database, stripe_sandbox, api_base=f"http://127.0.0.1:{free_port()}",
                     max_attempts=2)
    states = []
    dead.subscribe_status(states.append)
    report = await dead.run()
    assert report.offline and report.queued == 3 and not report.ok
    assert dead.status.state == ConnectionState.OFFLINE and states[-1].queued == 3
    page = await listing_service.search(ListingQuery())
    assert {listing.sync_state for listing in page.items} == {SyncState.PENDING}
    await dead.gateway.aclose()
    # Stripe "comes back": an AutoSync probing with backoff drains the queue by itself.
    stripe_sandbox.set_faults(fail_rate=1.0)
    service = make_sync(database, stripe_sandbox, max_attempts=1)
    seen = []
    service.subscribe_status(seen.append)
    auto = AutoSync(service, interval_s=0.05, min_backoff_s=0.02, max_backoff_s=0.05)
    auto.start()
    for _ in range(200):
        if service.status.state == ConnectionState.OFFLINE:
            break
        await asyncio.sleep(0.01)
    assert service.status.state == ConnectionState.OFFLINE
    stripe_sandbox.set_faults(fail_rate=0.0)
    for _ in range(300):
        if service.status.state == ConnectionState.ONLINE and service.status.queued == 0:
            break
        await asyncio.sleep(0.02)
    await auto.stop()
    await service.gateway.aclose()
    assert service.status == service.status.__class__(ConnectionState.ONLINE, 0)
    assert len(products(stripe_sandbox)) == 3
    assert [status.state for status in seen][-1] == ConnectionState.ONLINE


async def test_progress_reports_every_listing_with_rate_and_eta(sync, listing_service) -> None:
    await approved(listing_service, 4)
    steps: list[SyncProgress] = []
    await sync.run(progress=steps.append)
    assert [step.done for step in steps] == [1, 2, 3, 4]
    assert all(step.total == 4 for step in steps)
    assert steps[-1].rate_per_s > 0 and steps[-1].eta_s == 0
    assert steps[0].current_title.startswith("Textbook")


async def test_cancel_stops_and_the_next_run_resumes(database, listing_service,
                                                     stripe_sandbox) -> None:
    await approved(listing_service, 12)
    service = make_sync(database, stripe_sandbox)
    service.batch_size = 3
    token = CancelToken()

    def cancel_after_first(step: SyncProgress) -> None:
        token.cancel()

    first = await service.run(progress=cancel_after_first, cancel=token)
    assert first.cancelled and 0 < first.created < 12 and first.queued > 0
    second = await service.run()
    assert first.created + second.created == 12
    assert creates(stripe_sandbox) == 12 and len(products(stripe_sandbox)) == 12
    await service.gateway.aclose()


async def test_cancel_during_the_full_scan_is_heard_between_chunks(
        database, stripe_sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rows the website wrote: only the scan finds them. At 100,000 listings the scan takes
    # seconds; Cancel pressed meanwhile stops it at the next chunk, not at its end.
    with database.session(write=True) as session:
        for n in range(10):
            session.execute(text("INSERT INTO listings (title, price_minor, status) "
                                 "VALUES (:title, 500, 'approved')"), {"title": f"Rug {n}"})
    service = make_sync(database, stripe_sandbox)
    token = CancelToken()
    fingerprinted: list[int] = []
    fingerprint = sync_outbox.desired_product

    def pressed_cancel_meanwhile(row, catalog_id):
        fingerprinted.append(row.id)
        token.cancel()
        return fingerprint(row, catalog_id)

    monkeypatch.setattr(sync_outbox, "SCAN_CHUNK", 3)
    monkeypatch.setattr(sync_outbox, "desired_product", pressed_cancel_meanwhile)
    first = await service.run(cancel=token)
    assert first.cancelled and first.created == 0
    assert len(fingerprinted) == 3  # one chunk, then the Cancel was heard
    monkeypatch.undo()
    second = await service.run()
    await service.gateway.aclose()
    assert second.created == 10 and creates(stripe_sandbox) == 10


@pytest.mark.slow  # 100 listings pushed against 0.2 s of latency, then pushed again
async def test_cancel_does_not_wait_for_the_rest_of_a_claimed_batch(
        database, listing_service, stripe_sandbox) -> None:
    # One batch five times LISTINGS_AT_STRIPE: the listings not started when Cancel comes
    # stay queued (claims released), and the next run pushes each of them once. Cancel
    # lands at the first results written (within 0.1 s of the first answers, each 0.2 s
    # late): the first listings and those that took their places at most are pushed.
    count = sync_run.LISTINGS_AT_STRIPE * 5
    await approved(listing_service, count)
    stripe_sandbox.set_faults(latency_ms=200)
    service = make_sync(database, stripe_sandbox)
    service.batch_size = count
    token = CancelToken()
    first = await service.run(progress=lambda step: token.cancel(), cancel=token)
    assert first.cancelled and 0 < first.created <= 2 * sync_run.LISTINGS_AT_STRIPE
    assert rows(database, "SELECT * FROM stripe_changes WHERE claimed_by IS NOT NULL "
                          "AND done_at IS NULL") == []
    stripe_sandbox.set_faults(latency_ms=0)
    second = await service.run()
    await service.gateway.aclose()
    assert first.created + second.created == count and second.failed == 0
    assert creates(stripe_sandbox) == count and len(products(stripe_sandbox)) == count


async def test_task_cancellation_releases_claims_and_resumes(database, listing_service,
                                                             stripe_sandbox) -> None:
    await approved(listing_service, 6)
    stripe_sandbox.set_faults(latency_ms=200)
    service = make_sync(database, stripe_sandbox, max_concurrency=1)  # 6 x 0.2 s in a row
    task = asyncio.ensure_future(service.run())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rows(database, "SELECT * FROM stripe_changes WHERE claimed_by IS NOT NULL "
                          "AND done_at IS NULL") == []
    stripe_sandbox.set_faults(latency_ms=0)
    report = await service.run()
    await service.gateway.aclose()
    assert report.failed == 0
    assert len(products(stripe_sandbox)) == 6  # whatever landed before the cancel, once


async def test_limit_and_dry_run(sync, listing_service, stripe_sandbox) -> None:
    await approved(listing_service, 5)
    dry = await sync.run(dry_run=True)
    assert (dry.created, dry.api_calls, dry.dry_run) == (5, 0, True)
    assert products(stripe_sandbox) == {} and stripe_sandbox.stats.total == 0
    limited = await sync.run(limit=2)
    assert limited.created == 2 and limited.queued == 3
    rest = await sync.run()
    assert rest.created == 3 and len(products(stripe_sandbox)) == 5


async def test_mode_mismatch_stops_the_sync(database, listing_service,
                                            live_mode_server) -> None:  # noqa: F811
    await approved(listing_service, 2)
    service = SyncService(database, ChangeBus(), CatalogGateway(StripeGateway(GatewayConfig(
        api_key="sk_test_abc123abc123abc", api_base=live_mode_server, rate_limit=None))))
    with pytest.raises(ModeMismatchError):
        await service.run()
    assert service.status.state == ConnectionState.STOPPED
    assert "livemode=true" in service.status.message
    auto = AutoSync(service, interval_s=0.01)
    await asyncio.wait_for(auto.start(), timeout=5)  # stops by itself, does not loop on
    await auto.stop()
    await service.gateway.aclose()
    assert rows(database, "SELECT * FROM stripe_changes WHERE claimed_by IS NOT NULL") == []
    assert {row[0] for row in rows(database, "SELECT sync_state FROM listings")} == {"pending"}


async def test_sync_publishes_what_changed(sync, listing_service, change_bus) -> None:
    [listing] = await approved(listing_service, 1)
    changes: list[Change] = []
    change_bus.subscribe(changes.append)
    await sync.run()
    assert SyncChanged(ids=frozenset({listing.id})) in changes


async def test_auto_sync_pushes_shortly_after_an_edit(database, listing_service, change_bus,
                                                      stripe_sandbox) -> None:
    service = make_sync(database, stripe_sandbox, change_bus)
    auto = AutoSync(service, interval_s=60, debounce_s=0.01)
    auto.start()
    [listing] = await approved(listing_service, 1)  # publishes a "listing" change
    for _ in range(200):
        if (await listing_service.get(listing.id)).sync_state == SyncState.SYNCED:
            break
        await asyncio.sleep(0.02)
    await auto.stop()
    await service.gateway.aclose()
    assert (await listing_service.get(listing.id)).sync_state == SyncState.SYNCED
    assert len(products(stripe_sandbox)) == 1


async def test_auto_sync_stops_even_when_a_poke_lands_with_the_cancel(
        database, change_bus, stripe_sandbox) -> None:
    # Python 3.11's wait_for returned the wake-up and dropped the cancel when both landed
    # in one loop step; stop() then waited for the next round, an interval away.
    service = make_sync(database, stripe_sandbox, change_bus)
    auto = AutoSync(service, interval_s=3600, debounce_s=0)
    auto.start()
    for _ in range(250):  # until the first round is done and the loop waits for a poke
        await asyncio.sleep(0.02)
        if service.status.state == ConnectionState.ONLINE:
            break
    await asyncio.sleep(0.1)
    auto.poke()
    async with asyncio.timeout(5):
        await auto.stop()
    assert not auto.running
    await service.gateway.aclose()


async def test_quick_scan_finds_rows_whose_version_moved(sync, database, listing_service,
                                                         stripe_sandbox) -> None:
    await approved(listing_service, 2)
    await sync.run()
    with database.session(write=True) as session:  # the website's new row and its edit
        session.execute(text("INSERT INTO listings (title, price_minor, status) "
                             "VALUES ('Web row', 900, 'approved')"))
        session.execute(text("UPDATE listings SET title = 'Web edit', version = version + 1 "
                             "WHERE id = 1"))
    stripe_sandbox.reset_stats()
    report = await sync.run(full_scan=False)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert stripe_sandbox.stats.total == 2
    # A writer that breaks the contract (no version bump) is caught by the full scan only.
    with database.session(write=True) as session:
        session.execute(text("UPDATE listings SET title = 'Sneaky' WHERE id = 2"))
    assert (await sync.run(full_scan=False)).api_calls == 0
    report = await sync.run()
    assert (report.updated, report.api_calls) == (1, 1)


async def test_sqlite_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(
        sqlite_database, listing_service, stripe_sandbox) -> None:
    import os
    import socket
    import sys

    finished = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await finished.wait()  # its PID is now free: the holder is dead
    dead = f"{socket.gethostname()}:{finished.pid}:abc"
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    await approved(ListingService(sqlite_database, ChangeBus()), 2)
    with sqlite_database.session(write=True) as session:
        session.execute(text("INSERT INTO app_settings (key, value) VALUES (:k, :v)"),
                        {"k": SQLITE_LOCK_SETTING, "v": json.dumps({"holder": dead,
                                                                    "until": until})})
        # It died holding claims too: they are freed now, not when the lease runs out.
        session.execute(text("UPDATE stripe_changes SET claimed_by = :h, lease_until = :u"),
                        {"h": dead, "u": until})
    service = make_sync(sqlite_database, stripe_sandbox)
    report = await service.run()
    await service.gateway.aclose()
    assert (report.created, report.queued, report.exit_code) == (2, 0, 0)
    # A live holder on this host (this very test process's parent) still blocks.
    with sqlite_database.session(write=True) as session:
        session.execute(text("INSERT INTO app_settings (key, value) VALUES (:k, :v)"),
                        {"k": SQLITE_LOCK_SETTING, "v": json.dumps({
                            "holder": f"{socket.gethostname()}:{os.getppid()}:x",
                            "until": until})})
    service = make_sync(sqlite_database, stripe_sandbox)
    with pytest.raises(SyncBusyError):
        await service.run()
    await service.gateway.aclose()


@pytest.mark.postgres
@pytest.mark.slow  # paced at a rate limit: seconds of waiting by design
async def test_running_syncs_share_one_rate_limit(postgres_database_url, stripe_sandbox) -> None:
    from db_fixtures import _empty_postgres

    from uhadmin.services.stripe_gateway.client import LIMIT_SHARE
    from uhadmin.services.sync.sharing import SharedPace

    db = _empty_postgres(postgres_database_url)
    services = [make_sync(db, stripe_sandbox, rate_limit=24.0) for _ in range(3)]
    paces = [SharedPace(db, service.gateway, service.gateway.rate_limit)
             for service in services]
    async with paces[0].share("a"), paces[1].share("b"):
        async with paces[2].share("c"):
            await asyncio.sleep(0.8)  # one beat for the first two to see the third
            assert [service.gateway.pace for service in services] == \
                pytest.approx([8.0 * LIMIT_SHARE] * 3)
        await asyncio.sleep(0.8)
        assert [service.gateway.pace for service in services[:2]] == \
            pytest.approx([12.0 * LIMIT_SHARE] * 2)
    assert [service.gateway.rate_limit for service in services] == [24.0, 24.0, 24.0]
    for service in services:
        await service.gateway.aclose()
    db.close()


async def test_the_schema_allows_one_pending_change_per_listing(database,
                                                                listing_service) -> None:
    from sqlalchemy.exc import IntegrityError

    [listing] = await approved(listing_service, 1)
    insert_pending = text("INSERT INTO stripe_changes (listing_id, revision, created_at) "
                          "VALUES (:id, 9, CURRENT_TIMESTAMP)")
    with pytest.raises(IntegrityError), database.session(write=True) as session:
        session.execute(insert_pending, {"id": listing.id})
    # A done change does not count: the next one may be queued beside it.
    with database.session(write=True) as session:
        session.execute(text("UPDATE stripe_changes SET done_at = CURRENT_TIMESTAMP"))
        session.execute(insert_pending, {"id": listing.id})
    assert len(rows(database, "SELECT * FROM stripe_changes")) == 2
