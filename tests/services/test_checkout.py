"""CheckoutService against the offline sandbox over the real SDK: sessions, outcomes, guards."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from uhadmin.config import SecretKey
from uhadmin.domain import ListingStatus, Outcome, SyncState, parse_duration
from uhadmin.domain.changes import CheckoutAttemptChanged
from uhadmin.domain.checkout_rules import return_token
from uhadmin.errors import (
    IllegalTransitionError,
    ModeMismatchError,
    StripeRefusedError,
    StripeUnavailableError,
    UhadminError,
    ValidationError,
)
from uhadmin.sandbox import cards as sandbox_cards
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.checkout import CheckoutService, load_test_cards
from uhadmin.services.listings import ListingService
from uhadmin.services.stripe_gateway.checkout import CheckoutGateway
from uhadmin.services.stripe_gateway.client import GatewayConfig, StripeGateway

pytestmark = pytest.mark.anyio

SESSIONS_CREATE = ("POST", "/v1/checkout/sessions")


async def pay(url: str, card: str = "4242 4242 4242 4242") -> httpx.Response:
    """Submit the sandbox's hosted form as a browser would (no redirects followed)."""
    async with httpx.AsyncClient() as client:
        return await client.post(url, data={
            "email": "buyer@example.test", "cardNumber": card, "cardExpiry": "12 / 34",
            "cardCvc": "123", "billingName": "Ada Buyer"})


async def visit(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url)


def stripe_session(lab, session_id: str) -> dict:
    """The session as the sandbox stores it (what Stripe really received)."""
    with lab.sandbox.store.lock:
        return dict(lab.sandbox.store.get("checkout_session", session_id))


class RecordingGateway(CheckoutGateway):
    """The real gateway, remembering the parameters of every create."""

    def __init__(self, core):
        super().__init__(core)
        self.created: list[dict] = []

    async def create_session(self, params, *, idempotency_key):
        self.created.append({"params": dict(params), "key": idempotency_key})
        return await super().create_session(params, idempotency_key=idempotency_key)


# --------------------------------------------------------------------------- create
async def test_create_makes_a_payment_session_with_receiver_pages_and_references(checkout_lab):
    lab = checkout_lab
    recording = RecordingGateway(lab.core)
    lab.service._gateway = recording
    lamp = await lab.approved_listing("Desk lamp", 1250)
    chair = await lab.approved_listing("Chair", 3000)

    attempt = await lab.service.create([(lamp.id, 2), (chair.id, 1)])

    assert attempt.session_id.startswith("cs_test_")
    assert (attempt.status, attempt.outcome, attempt.payment_status) == ("open", Outcome.OPEN,
                                                                         "unpaid")
    assert attempt.amount_total == 2 * 1250 + 3000 and attempt.currency == "usd"
    assert attempt.tester == "tess" and attempt.livemode is False
    assert [(line.listing_id, line.quantity, line.price_id, line.title) for line in
            attempt.lines] == [(lamp.id, 2, lamp.stripe_price_id, "Desk lamp"),
                               (chair.id, 1, chair.stripe_price_id, "Chair")]
    assert attempt.url.startswith(lab.sandbox.url + "/c/pay/")
    sent = recording.created[0]
    params = sent["params"]
    assert "payment_method_types" not in params  # removed in the endive API version
    assert params["mode"] == "payment"
    assert params["line_items"] == [{"price": lamp.stripe_price_id, "quantity": 2},
                                    {"price": chair.stripe_price_id, "quantity": 1}]
    assert sent["key"] == f"uh_checkout_{attempt.attempt_key}"
    stored = stripe_session(lab, attempt.session_id)
    token = return_token(attempt.attempt_key)
    assert stored["success_url"] == (f"{lab.receiver.url}/success?session_id="
                                     f"{{CHECKOUT_SESSION_ID}}&attempt={attempt.id}"
                                     f"&token={token}")
    assert stored["cancel_url"] == f"{lab.receiver.url}/cancel?attempt={attempt.id}" \
                                   f"&token={token}"
    assert stored["client_reference_id"] == f"uhadmin-attempt-{attempt.id}"
    assert stored["metadata"] == {"uhadmin_attempt_id": str(attempt.id),
                                  "uhadmin_attempt_key": attempt.attempt_key,
                                  "tester": "tess", "listing_ids": f"{lamp.id},{chair.id}"}
    lifetime = stored["expires_at"] - stored["created"]
    assert 30 * 60 <= lifetime <= 32 * 60  # default 30 min (+ the transit margin)
    last = lab.changes[-1]
    assert isinstance(last, CheckoutAttemptChanged) and last.attempt_id == attempt.id


async def test_expiry_is_configurable_and_validated_by_field(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    two_hours = await lab.service.create([(lamp.id, 1)], expires_in=timedelta(hours=2))
    stored = stripe_session(lab, two_hours.session_id)
    assert 2 * 3600 - 5 <= stored["expires_at"] - stored["created"] <= 2 * 3600 + 5
    a_day = await lab.service.create([(lamp.id, 1)], expires_in=timedelta(hours=24))
    stored = stripe_session(lab, a_day.session_id)
    assert 23 * 3600 <= stored["expires_at"] - stored["created"] <= 24 * 3600
    for wrong in (timedelta(minutes=10), timedelta(hours=25)):
        with pytest.raises(ValidationError) as refused:
            await lab.service.create([(lamp.id, 1)], expires_in=wrong)
        assert [p.field for p in refused.value.problems] == ["expires_in"]
        assert "between 30 minutes and 24 hours" in str(refused.value)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("24h") == timedelta(hours=24)
    with pytest.raises(ValidationError, match="expires_in: expected a duration"):
        parse_duration("soon")


async def test_settings_can_send_buyers_to_the_websites_own_pages(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    website = CheckoutService(
        lab.db, lab.bus, lab.listings, gateway=lab.gateway, settings=dataclasses.replace(
            lab.settings, success_url="https://shop.example/thanks?s={CHECKOUT_SESSION_ID}",
            cancel_url="https://shop.example/cart"))
    attempt = await website.create([(lamp.id, 1)])
    stored = stripe_session(lab, attempt.session_id)
    assert stored["success_url"] == "https://shop.example/thanks?s={CHECKOUT_SESSION_ID}"
    assert stored["cancel_url"] == "https://shop.example/cart"


async def test_every_attempt_is_a_new_session(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    first = await lab.service.create([(lamp.id, 1)])
    second = await lab.service.create([(lamp.id, 1)])
    assert first.session_id != second.session_id and first.id != second.id
    assert lab.sandbox.stats.count(*SESSIONS_CREATE) == 2


@pytest.mark.slow
async def test_a_double_click_makes_one_session(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    lab.sandbox.set_faults(latency_ms=150)  # both clicks land while the first is in flight
    one, two = await asyncio.gather(lab.service.create([(lamp.id, 1)]),
                                    lab.service.create([(lamp.id, 1)]))
    assert one == two
    assert lab.sandbox.stats.count(*SESSIONS_CREATE) == 1
    assert len(await lab.service.list_attempts()) == 1


async def test_an_attempt_key_never_gets_a_second_session(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    first = await lab.service.create([(lamp.id, 1)], attempt_key="k" * 32)
    again = await lab.service.create([(lamp.id, 1)], attempt_key="k" * 32)
    assert again == first
    assert lab.sandbox.stats.count(*SESSIONS_CREATE) == 1


async def test_unknown_outcome_keeps_the_attempt_and_resuming_reuses_its_key(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    await lab.service.start_receiver()  # its sandbox webhook endpoint, before the faults
    lab.sandbox.set_faults(drop_rate=1.0)  # Stripe creates the session, we never hear back
    with pytest.raises(StripeUnavailableError):
        await lab.service.create([(lamp.id, 1)])
    lab.sandbox.set_faults(drop_rate=0.0)
    [pending] = await lab.service.list_attempts()
    assert (pending.status, pending.session_id, pending.outcome) == ("creating", None,
                                                                     Outcome.OPEN)
    # Resumed 90 s later: the resend must still carry exactly the first parameters.
    lab.service._clock = lambda: datetime.now(UTC) + timedelta(seconds=90)
    resumed = await lab.service.create([(lamp.id, 1)], attempt_key=pending.attempt_key)
    assert resumed.id == pending.id and resumed.status == "open"
    with lab.sandbox.store.lock:
        sessions = list(lab.sandbox.store.objects["checkout_session"].values())
    assert [s["id"] for s in sessions] == [resumed.session_id]  # still exactly one


async def test_refused_requests_name_the_listing_and_leave_no_attempt(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing("Desk lamp")
    draft = await lab.listings.create(
        dataclasses.replace(await _new("Sofa"), status=ListingStatus.DRAFT), actor="t")
    with pytest.raises(ValidationError) as refused:
        await lab.service.create([(draft.id, 1), (999_999, 1)])
    message = str(refused.value)
    assert f"listing {draft.id} “Sofa” is draft" in message
    assert "listing 999999 does not exist" in message
    with pytest.raises(ValidationError) as refused:
        await lab.service.create([(lamp.id, 0)])
    assert [p.field for p in refused.value.problems] == ["quantity"]
    assert f"listing {lamp.id}: quantity must be a whole number of at least 1" in str(
        refused.value)
    with pytest.raises(ValidationError, match="choose at least one listing"):
        await lab.service.create([])
    # Stripe's own refusal (a product archived behind our back) names the listing too.
    await lab.core.call("products.update", lambda client, options:
                        client.v1.products.update_async(lamp.stripe_product_id,
                                                        {"active": False}, options))
    with pytest.raises(StripeRefusedError, match=f"listing {lamp.id} “Desk lamp”: .*inactive"):
        await lab.service.create([(lamp.id, 1)])
    assert await lab.service.list_attempts() == []


async def test_listing_not_in_stripe_is_refused_by_name_without_a_sync(checkout_lab):
    lab = checkout_lab
    unsynced = await lab.approved_listing("Bike", published=False)
    with pytest.raises(UhadminError) as refused:
        await lab.service.create([(unsynced.id, 1)])
    assert f"listing {unsynced.id} “Bike” (pending)" in str(refused.value)
    assert "uhadmin sync" in str(refused.value)
    assert lab.sandbox.stats.count(*SESSIONS_CREATE) == 0


async def test_listing_not_in_stripe_is_published_first_through_the_sync(checkout_lab):
    lab = checkout_lab
    unsynced = await lab.approved_listing("Bike", 9900, published=False)
    lab.service.set_sync(lab.services.sync)  # the root's, as the app wires it
    attempt = await lab.service.create([(unsynced.id, 2)])
    synced = await lab.listings.get(unsynced.id)
    assert synced.sync_state is SyncState.SYNCED and synced.stripe_price_id
    assert attempt.lines[0].price_id == synced.stripe_price_id
    assert attempt.amount_total == 19800
    assert stripe_session(lab, attempt.session_id)["amount_total"] == 19800


async def test_a_listing_the_sync_cannot_publish_is_refused_by_name(checkout_lab):
    lab = checkout_lab
    unsynced = await lab.approved_listing("Bike", 9900, published=False)
    lab.service.set_sync(lab.services.sync)  # the root's, as the app wires it
    lab.sandbox.set_faults(fail_rate=1.0)  # Stripe answers 500 to everything
    with pytest.raises((UhadminError, StripeUnavailableError)) as refused:
        await lab.service.create([(unsynced.id, 1)])
    assert "“Bike”" in str(refused.value)
    assert lab.sandbox.stats.count(*SESSIONS_CREATE) == 0


# --------------------------------------------------------------------------- outcomes
async def test_paid_through_the_success_page(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 3)])
    paid = await pay(attempt.url)
    assert paid.status_code == 303
    landing = paid.headers["location"]
    assert landing == lab.success_link(attempt)
    page = await visit(landing)
    assert page.status_code == 200
    assert "Payment received" in page.text and attempt.session_id in page.text
    assert "Desk lamp" in page.text and "$37.50" in page.text
    recorded = await lab.service.get(attempt.id)
    assert (recorded.outcome, recorded.status, recorded.payment_status) == (
        Outcome.PAID, "complete", "paid")
    assert recorded.url is None and recorded.payment_intent_id.startswith("pi_")


async def test_declined_then_back_to_the_cancel_page_keeps_the_reason(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    declined = await pay(attempt.url, "4000 0000 0000 9995")
    assert declined.status_code == 402 and "insufficient funds" in declined.text
    refreshed = await lab.service.refresh(attempt.session_id)
    assert refreshed.outcome is Outcome.DECLINED
    assert (refreshed.decline_code, refreshed.decline_message) == (
        "insufficient_funds", "Your card has insufficient funds.")
    page = await visit(lab.cancel_link(attempt))
    assert page.status_code == 200 and "Checkout canceled" in page.text
    assert "insufficient_funds" in page.text
    canceled = await lab.service.get(attempt.id)
    assert canceled.outcome is Outcome.CANCELED
    assert canceled.decline_code == "insufficient_funds"
    # Refreshing later (the session is still open at Stripe) does not forget the cancel.
    assert (await lab.service.refresh(attempt.id)).outcome is Outcome.CANCELED


async def test_three_d_secure_failure_is_a_decline_with_stripes_code(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    challenge = await pay(attempt.url, "4000 0027 6000 3184")
    assert challenge.status_code == 303
    async with httpx.AsyncClient() as client:
        failed = await client.post(lab.sandbox.url + challenge.headers["location"]
                                   if challenge.headers["location"].startswith("/")
                                   else challenge.headers["location"], data={"action": "fail"})
    assert failed.status_code == 402
    refreshed = await lab.service.refresh(attempt.id)
    assert refreshed.outcome is Outcome.DECLINED
    assert refreshed.decline_code == "payment_intent_authentication_failure"


async def test_expire_one_and_expire_all_of_mine(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    one = await lab.service.create([(lamp.id, 1)])
    two = await lab.service.create([(lamp.id, 2)])
    other = await lab.service.create([(lamp.id, 1)], tester="someone else")
    expired = await lab.service.expire(one.session_id)
    assert (expired.outcome, expired.status, expired.url) == (Outcome.EXPIRED, "expired", None)
    with pytest.raises(IllegalTransitionError, match="only open sessions can be expired"):
        await lab.service.expire(one.id)
    mine = await lab.service.expire_mine()
    assert [attempt.id for attempt in mine] == [two.id]
    assert (await lab.service.get(other.id)).outcome is Outcome.OPEN
    assert stripe_session(lab, two.session_id)["status"] == "expired"
    assert stripe_session(lab, other.session_id)["status"] == "open"


async def test_sandbox_expiry_arrives_by_webhook_and_ends_the_wait(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    assert lab.receiver.has_webhook_secret  # registered with the sandbox on start
    waiting = asyncio.ensure_future(lab.service.wait_for_outcome(attempt.id, page_grace=0.1))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    lab.sandbox.clock.advance(31 * 60)
    async with asyncio.timeout(10):
        ended = (await waiting).attempt
    assert (ended.outcome, ended.status) == (Outcome.EXPIRED, "expired")


async def test_wait_ends_on_the_cancel_page_but_not_on_a_decline(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    waiting = asyncio.ensure_future(lab.service.wait_for_outcome(attempt.session_id))
    await pay(attempt.url, "4000 0000 0000 0002")
    await lab.service.refresh(attempt.id)
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the buyer may still try another card
    await visit(lab.cancel_link(attempt))
    async with asyncio.timeout(10):
        result = await waiting
    assert (result.attempt.outcome, result.attempt.decline_code) == (Outcome.CANCELED,
                                                                     "generic_decline")
    assert result.page_delivered  # the wait ended only once the browser had its page


async def test_refresh_open_catches_up_on_everything_unfinished(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    paid = await lab.service.create([(lamp.id, 1)])
    declined = await lab.service.create([(lamp.id, 1)])
    untouched = await lab.service.create([(lamp.id, 1)], tester="someone else")
    await lab.service.stop_receiver()  # no webhooks, no pages: only a refresh can tell
    await pay(paid.url)
    await pay(declined.url, "4000 0000 0000 0127")
    assert (await lab.service.get(paid.id)).outcome is Outcome.OPEN
    mine = await lab.service.refresh_open(tester="tess")
    assert {a.id: (a.outcome, a.decline_code) for a in mine} == {
        paid.id: (Outcome.PAID, ""), declined.id: (Outcome.DECLINED, "incorrect_cvc")}
    everyone = await lab.service.refresh_open()
    assert [a.id for a in everyone] == [declined.id, untouched.id]  # paid is finished


async def test_success_page_when_stripe_cannot_confirm_says_so(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    lab.sandbox.set_faults(fail_rate=1.0)
    page = await visit(lab.success_link(attempt))
    assert page.status_code == 200 and "Payment being confirmed" in page.text
    assert "Stripe could not confirm the result just now" in page.text
    assert (await lab.service.get(attempt.id)).outcome is Outcome.OPEN


async def test_history_survives_a_restart(checkout_lab_any_db):
    lab = checkout_lab_any_db
    lamp = await lab.approved_listing()
    made = await lab.service.create([(lamp.id, 2)])
    await pay(made.url)
    await lab.service.refresh(made.id)
    fresh = CheckoutService(lab.db, ChangeBus(), ListingService(lab.db, ChangeBus()),
                            settings=lab.settings, gateway=lab.gateway)
    [again] = await fresh.list_attempts()
    assert again == await lab.service.get(made.id)
    assert (again.outcome, again.amount_total, again.lines[0].quantity) == (Outcome.PAID, 2500,
                                                                            2)
    assert again.created_at.tzinfo is not None and again.expires_at > again.created_at
    assert await fresh.list_attempts(outcome=Outcome.OPEN) == []
    assert await fresh.list_attempts(tester="nobody") == []


async def test_an_event_that_changes_nothing_writes_and_broadcasts_nothing(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    made = await lab.service.create([(lamp.id, 1)])
    await pay(made.url)
    paid = await lab.service.refresh(made.id)
    session = await lab.core.call("checkout.sessions.retrieve",
                                  lambda client, options: client.v1.checkout.sessions
                                  .retrieve_async(made.session_id, options=options))
    lab.changes.clear()
    late = {"id": "evt_late_copy", "type": "checkout.session.completed",
            "data": {"object": session.to_dict()}}
    assert await lab.service.record_webhook_event(late) == "processed"
    assert await lab.service.get(made.id) == paid  # updated_at included
    assert lab.changes == []


# --------------------------------------------------------------------------- opening pages
async def test_opener_gets_only_stripe_or_sandbox_checkout_pages(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    assert await lab.service.open_in_browser(attempt) == attempt.url
    assert await lab.service.open_in_browser("https://checkout.stripe.com/c/pay/cs_test_a1")
    assert lab.opened == [attempt.url, "https://checkout.stripe.com/c/pay/cs_test_a1"]
    for bad in ("http://checkout.stripe.com/c/pay/cs_test_a1",
                "https://checkout.stripe.com.evil.example/c/pay/x",
                "https://evil.example/c/pay/cs_test_a1",
                "https://user@checkout.stripe.com/c/pay/x",
                lab.receiver.url + "/c/pay/x",
                lab.sandbox.url.replace("127.0.0.1", "127.0.0.2") + "/c/pay/x"):
        with pytest.raises(ValidationError, match="refusing to open"):
            await lab.service.open_in_browser(bad)
    assert len(lab.opened) == 2
    await lab.service.expire(attempt.id)
    with pytest.raises(IllegalTransitionError, match="only an open session"):
        await lab.service.open_in_browser(attempt.id)


async def test_sandbox_pages_are_refused_against_real_stripe(checkout_lab):
    lab = checkout_lab
    real = CheckoutGateway(StripeGateway(GatewayConfig(api_key="sk_test_" + "x" * 24)))
    service = CheckoutService(lab.db, lab.bus, lab.listings, settings=lab.settings,
                              gateway=real, opener=lab.opened.append)
    with pytest.raises(ValidationError, match="refusing to open"):
        await service.open_in_browser(lab.sandbox.url + "/c/pay/cs_test_x")
    assert lab.opened == []


# --------------------------------------------------------------------------- live keys
async def test_live_keys_are_refused_before_any_request(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    lab.sandbox.reset_stats()
    live_core = StripeGateway(GatewayConfig(api_key="sk_live_" + "x" * 24,
                                            api_base=lab.sandbox.url, rate_limit=None))
    settings = dataclasses.replace(lab.settings, stripe_key=SecretKey("sk_live_" + "x" * 24))
    live = CheckoutService(lab.db, lab.bus, lab.listings, settings=settings,
                           gateway=CheckoutGateway(live_core), opener=lab.opened.append)
    calls = [lambda: live.create([(lamp.id, 1)]), lambda: live.refresh(attempt.id),
             lambda: live.expire(attempt.id), lambda: live.expire_mine(),
             lambda: live.open_in_browser(attempt)]
    for call in calls:
        with pytest.raises(ModeMismatchError, match="refuses a LIVE Stripe key"):
            await call()
    assert live_core.api_calls == 0 and lab.sandbox.stats.total == 0  # nothing was sent
    assert len(await lab.service.list_attempts()) == 1 and lab.opened == []
    # Allowed explicitly, the request does go out (and the test-only sandbox refuses it).
    allowed = CheckoutService(lab.db, lab.bus, lab.listings,
                              settings=dataclasses.replace(settings, allow_live_mode=True),
                              gateway=CheckoutGateway(live_core))
    with pytest.raises(StripeRefusedError, match="live keys are refused"):
        await allowed.refresh(attempt.id)
    assert live_core.api_calls == 1
    await live_core.aclose()


# --------------------------------------------------------------------------- reference data
def test_test_cards_match_stripes_table():
    shipped = load_test_cards()
    assert len(shipped) == 12
    assert len({card.digits for card in shipped}) == 12
    expected_kind = {"success": "success", "declined": "decline",
                     "3ds_success": "three_d_secure", "3ds_always": "three_d_secure"}
    for card in shipped:
        if card.outcome == "incorrect_number":
            assert not sandbox_cards.passes_luhn(card.digits)
            continue
        behaviour = sandbox_cards.TEST_CARDS[card.digits]
        assert behaviour.kind == expected_kind[card.outcome], card
        assert (behaviour.decline_code or "") == card.decline_code, card
        assert card.brand == sandbox_cards.brand_of(card.digits)


async def _new(title: str):
    from uhadmin.domain import NewListing

    return NewListing(title=title, price_minor=1000, currency="usd")


def test_success_url_query_shape():
    """The receiver's success link keeps Stripe's placeholder literal (no URL-encoding)."""
    from uhadmin.services.receiver import CheckoutReceiver

    receiver = CheckoutReceiver()
    receiver._httpd = object()  # only `url` is read; nothing listens in this check
    try:
        link = receiver.success_url(7)
    finally:
        receiver._httpd = None
    assert "{CHECKOUT_SESSION_ID}" in link and "{token}" in link
    assert parse_qs(urlsplit(link).query)["attempt"] == ["7"]


async def test_gateway_lists_sessions_and_events_as_plain_values(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    first = await lab.service.create([(lamp.id, 1)])
    second = await lab.service.create([(lamp.id, 3)])
    await lab.service.expire(first.id)
    open_now = await lab.gateway.list_sessions(status="open")
    assert [s.id for s in open_now] == [second.session_id]
    assert open_now[0].metadata["uhadmin_attempt_id"] == str(second.id)
    expanded = await lab.gateway.retrieve_session(second.session_id, line_items=True)
    assert [(line.price_id, line.quantity, line.amount_total) for line in expanded.lines] == [
        (lamp.stripe_price_id, 3, 3750)]
    events = await lab.gateway.list_events(types=["checkout.session.expired"])
    assert [e["data"]["object"]["id"] for e in events] == [first.session_id]
    assert events[0]["type"] == "checkout.session.expired"
