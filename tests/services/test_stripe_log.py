"""The Stripe log: one entry per HTTP attempt through the gateway, linked retries, no secrets,
what each call served, webhook events, and retention pruning, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from uhadmin.domain.stripe_log import Retention, StripeLogFilter
from uhadmin.errors import NotFoundError, StripeRefusedError
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway, ProductFields
from uhadmin.services.stripe_log import StripeLogService
from uhadmin.services.stripe_log_context import serving

pytestmark = pytest.mark.anyio

CANARY_KEY = "sk_test_CANARYh14xq7LogMustNeverShowThis"
FIELDS = ProductFields(name="Desk lamp", description="A lamp", images=(),
                       metadata={"listing_id": "7"})


@pytest.fixture
def stripe_log(database) -> StripeLogService:
    return StripeLogService(database)


def logged_gateway(sandbox, stripe_log: StripeLogService, **overrides) -> StripeGateway:
    values = {"api_key": CANARY_KEY, "api_base": sandbox.url, "rate_limit": None,
              "backoff_initial_s": 0.01, "backoff_max_s": 0.05}
    values.update(overrides)
    gateway = StripeGateway(GatewayConfig(**values))
    gateway.recorder = stripe_log.record
    return gateway


async def test_every_gateway_call_is_one_entry_with_what_it_served(
        stripe_sandbox, stripe_log) -> None:
    gateway = logged_gateway(stripe_sandbox, stripe_log)
    catalog = CatalogGateway(gateway)
    with serving("sync", sync_run="run-1"), serving(listing_id=7, listing_revision=3):
        await catalog.create_product("uh_log_7", FIELDS, 1500, "usd", key="uh_key_7")
    assert await catalog.retrieve_product("uh_log_7") is not None
    await gateway.aclose()
    await stripe_log.flush()

    entries = await stripe_log.page()
    assert gateway.api_calls == 2 == len(entries)
    retrieve, create = entries  # newest first
    assert (create.method, create.path, create.status) == ("POST", "/v1/products", 200)
    assert create.idempotency_key == "uh_key_7" and create.request_id.startswith("req_")
    assert create.api_version and create.latency_ms is not None and create.latency_ms >= 0
    assert (create.served, create.sync_run, create.listing_id, create.listing_revision) == (
        "sync", "run-1", 7, 3)
    assert (create.object_type, create.object_id) == ("product", "uh_log_7")
    params = dict(create.params)
    assert params["id"] == "uh_log_7" and params["default_price_data[unit_amount]"] == "1500"
    assert params["metadata[listing_id]"] == "7"
    assert (retrieve.method, retrieve.path, retrieve.served) == ("GET", "/v1/products/uh_log_7",
                                                                 "")
    assert retrieve.listing_id is None and retrieve.call_id != create.call_id
    assert (await stripe_log.page(StripeLogFilter(listing_id=7))) == [create]
    full = await stripe_log.entry(create.id)
    assert '"uh_log_7"' in full.response_excerpt


async def test_retries_are_separate_entries_linked_to_one_call(stripe_sandbox,
                                                               stripe_log) -> None:
    stripe_sandbox.set_faults(fail_rate=1.0)

    async def heal(_seconds: float) -> None:
        stripe_sandbox.set_faults(fail_rate=0.0)

    gateway = logged_gateway(stripe_sandbox, stripe_log)
    gateway._sleep = heal
    await CatalogGateway(gateway).create_product("uh_retry", FIELDS, 900, "usd", key="uh_k")
    await gateway.aclose()
    await stripe_log.flush()
    second, first = await stripe_log.page()
    assert (first.status, first.retry, second.status, second.retry) == (500, 0, 200, 1)
    assert first.call_id == second.call_id and first.endpoint == "products.create"
    assert first.idempotency_key == second.idempotency_key == "uh_k"
    assert first.is_error and first.error_type == "api_error"
    assert await stripe_log.page(StripeLogFilter(errors_only=True)) == [first]
    assert await stripe_log.page(StripeLogFilter(call_id=first.call_id)) == [second, first]


async def test_a_refusal_keeps_stripes_error_fields(stripe_sandbox, stripe_log) -> None:
    gateway = logged_gateway(stripe_sandbox, stripe_log)
    with pytest.raises(StripeRefusedError):
        await CatalogGateway(gateway).create_price("uh_missing_product", 500, "usd", key="k1",
                                                 lookup_key="lk_1", metadata={})
    await gateway.aclose()
    await stripe_log.flush()
    (entry,) = await stripe_log.page(StripeLogFilter(status_class="4xx"))
    assert entry.status in (400, 404) and entry.error_type == "invalid_request_error"
    assert entry.error_message and entry.error_code


async def test_the_key_and_secrets_appear_nowhere(stripe_sandbox, stripe_log,
                                                  database) -> None:
    gateway = logged_gateway(stripe_sandbox, stripe_log)
    catalog = CatalogGateway(gateway)
    secret_fields = ProductFields(name="Lamp", description=f"key {CANARY_KEY} pasted",
                                  images=(), metadata={"note": "whsec_abcdef123456"})
    await catalog.create_product("uh_secret", secret_fields, 700, "usd", key="uh_k2")
    await gateway.aclose()
    await stripe_log.flush()
    with database.session() as session:
        dumped = json.dumps([list(row) for row in session.execute(
            text("SELECT * FROM stripe_log")).all()], default=str)
    assert CANARY_KEY not in dumped and "CANARYh14" not in dumped
    assert "whsec_abcdef123456" not in dumped and "[redacted]" in dumped


async def test_webhook_events_are_recorded_in_the_same_log(stripe_log) -> None:
    await stripe_log.page()  # the table exists
    stripe_log.record_webhook(event_id="evt_1", event_type="checkout.session.completed",
                              verified=True, effect="attempt 3 paid", attempt_id=3)
    stripe_log.record_webhook(event_id=None, event_type=None, verified=False,
                              effect="bad signature")
    refused, received = await stripe_log.page()
    assert (received.kind, received.event_id, received.signature_verified,
            received.attempt_id, received.effect) == ("webhook", "evt_1", True, 3,
                                                      "attempt 3 paid")
    assert refused.signature_verified is False and refused.is_error
    assert await stripe_log.page(StripeLogFilter(text="SESSION.completed")) == [received]


async def test_retention_prunes_old_and_surplus_entries_in_batches(stripe_log,
                                                                   monkeypatch) -> None:
    from uhadmin.services import stripe_log as module

    monkeypatch.setattr(module, "PRUNE_BATCH", 7)
    now = datetime.now(UTC)
    stripe_log.retention = Retention(days=30, entries=4)
    for age_days in (40, 35, 31, 2, 1, 0, 0, 0):
        stripe_log.record(_raw(now - timedelta(days=age_days)))
    await stripe_log.flush()  # a process's first flush prunes: three too old, one surplus
    kept = await stripe_log.page()
    assert len(kept) == 4 and min(e.time for e in kept) >= now - timedelta(days=2, seconds=1)
    for _ in range(10):
        stripe_log.record(_raw(now))
    await stripe_log.flush()  # too soon and too few to prune again
    assert await stripe_log.count() == 14
    assert await stripe_log.prune() == 10  # in batches of 7 and 3
    assert [e.id for e in await stripe_log.page()] == [18, 17, 16, 15]
    stripe_log.retention = Retention(days=30, entries=100)
    assert await stripe_log.prune() == 0


async def test_missing_entry_is_a_clear_error(stripe_log) -> None:
    with pytest.raises(NotFoundError, match="no Stripe log entry 99"):
        await stripe_log.entry(99)


def _raw(at: datetime) -> dict:
    return {"at": at, "method": "GET", "url": "http://127.0.0.1:1/v1/products?limit=1",
            "body": None, "idempotency_key": None, "api_version": "2025-01-01",
            "status": 200, "request_id": "req_x", "content": b'{"object": "list"}',
            "failure": None, "call_id": "c", "retry": 0, "endpoint": "products.list",
            "latency_ms": 1.0}


async def test_a_sync_tags_its_calls_and_its_audit_rows_carry_the_request_ids(
        stripe_sandbox, stripe_log, database, listing_service) -> None:
    from uhadmin.domain import ListingStatus, NewListing
    from uhadmin.services.change_bus import ChangeBus
    from uhadmin.services.sync import SyncService

    listing = await listing_service.create(NewListing(
        title="Bike", price_minor=8000, currency="usd", status=ListingStatus.APPROVED),
        actor="tess")
    gateway = logged_gateway(stripe_sandbox, stripe_log)
    sync = SyncService(database, ChangeBus(), CatalogGateway(gateway), actor="tess")
    await sync.run()
    await gateway.aclose()
    await stripe_log.flush()
    (entry,) = await stripe_log.page()
    synced = await listing_service.get(listing.id)
    assert (entry.served, entry.listing_id, entry.listing_revision) == (
        "sync", listing.id, synced.version)
    assert entry.sync_run and entry.object_id == synced.stripe_product_id
    (row,) = [e for e in await listing_service.history(listing.id) if e.action == "sync"]
    assert row.details["request_ids"] == [entry.request_id]


async def test_text_finds_an_id_typed_whole_by_index_and_other_words_inside(stripe_log) -> None:
    from stripe_log_fixtures import a_raw_exchange

    now = datetime.now(UTC)
    for number in range(12):
        stripe_log.record(a_raw_exchange(number, now))
    await stripe_log.flush()
    (by_request,) = await stripe_log.page(StripeLogFilter(text="req_000004"))
    assert by_request.request_id == "req_000004"
    (by_key,) = await stripe_log.page(StripeLogFilter(text=" uh_key_5 "))
    assert by_key.idempotency_key == "uh_key_5"
    assert {e.request_id for e in await stripe_log.page(StripeLogFilter(
        text="card_declined"))} == {"req_000007"}
    assert len(await stripe_log.page(StripeLogFilter(text="Item 1"))) == 3  # 1, 10, 11
    assert await stripe_log.page(StripeLogFilter(text="100%_")) == []


async def test_reconcile_and_checkout_calls_say_what_they_served(
        stripe_sandbox, stripe_log, database) -> None:
    from uhadmin.services.change_bus import ChangeBus
    from uhadmin.services.reconcile import ReconcileService
    from uhadmin.services.sync import SyncService

    gateway = logged_gateway(stripe_sandbox, stripe_log)
    catalog = CatalogGateway(gateway)
    bus = ChangeBus()
    sync = SyncService(database, bus, catalog, actor="tess")
    await ReconcileService(database, bus, catalog, sync, actor="tess").check()
    with serving("checkout", attempt_id=5):
        await gateway.probe()
    await gateway.aclose()
    await stripe_log.flush()
    entries = await stripe_log.page()
    assert {e.served for e in entries if e.attempt_id is None} == {"reconcile"}
    assert [(e.served, e.attempt_id) for e in await stripe_log.page(
        StripeLogFilter(attempt_id=5))] == [("checkout", 5)]
