"""One record per outcome, card details, and waiting that sees everything (sandbox, real SDK)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from uhadmin.domain import Outcome
from uhadmin.domain.checkout_rules import return_token
from uhadmin.services.tables import AuditRow

pytestmark = pytest.mark.anyio


async def pay(url: str, card: str = "4242 4242 4242 4242") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, data={
            "email": "buyer@example.test", "cardNumber": card, "cardExpiry": "12 / 34",
            "cardCvc": "123", "billingName": "Ada Buyer"})


async def audit_rows(lab, attempt_id: int) -> list[tuple[str, dict]]:
    def read(session):
        return [(row.action, row.details) for row in session.execute(select(AuditRow).where(
            AuditRow.entity == "checkout_attempt",
            AuditRow.entity_id == str(attempt_id))).scalars()]

    return await lab.db.run(read)


async def without_webhooks(lab) -> None:
    """Remove the sandbox's delivery to our receiver: the test delivers events itself."""
    for endpoint in await lab.gateway.list_webhook_endpoints():
        await lab.gateway.delete_webhook_endpoint(endpoint.id)


async def completed_event(lab, session_id: str, event_id: str) -> dict:
    session = await lab.core.call("checkout.sessions.retrieve",
                                  lambda client, options: client.v1.checkout.sessions
                                  .retrieve_async(session_id, options=options))
    return {"id": event_id, "type": "checkout.session.completed",
            "data": {"object": session.to_dict()}}


def success_return(lab, attempt):
    return lab.service.record_return("success", session_id=attempt.session_id,
                                     attempt_id=attempt.id,
                                     token=return_token(attempt.attempt_key))


@pytest.mark.parametrize("order", ["page_first", "webhook_first", "together"])
async def test_page_and_webhook_in_any_order_make_one_change_and_one_audit_entry(
        checkout_lab_any_db, order):
    lab = checkout_lab_any_db
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    await without_webhooks(lab)
    assert (await pay(attempt.url)).status_code == 303
    event = await completed_event(lab, attempt.session_id, f"evt_{order}")
    lab.changes.clear()
    if order == "page_first":
        await success_return(lab, attempt)
        await lab.service.record_webhook_event(event)
    elif order == "webhook_first":
        await lab.service.record_webhook_event(event)
        await success_return(lab, attempt)
    else:
        await asyncio.gather(success_return(lab, attempt),
                             lab.service.record_webhook_event(event))
    recorded = await lab.service.get(attempt.id)
    assert recorded.outcome is Outcome.PAID
    assert [change.attempt_id for change in lab.changes] == [attempt.id]
    [(action, details)] = await audit_rows(lab, attempt.id)
    assert (action, details["from"], details["to"]) == ("outcome_paid", "open", "paid")


async def test_history_keeps_the_card_the_decline_and_three_d_secure(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    await pay(attempt.url, "4000 0000 0000 9995")
    declined = await lab.service.refresh(attempt.id)
    assert (declined.outcome, declined.decline_code, declined.decline_message) == (
        Outcome.DECLINED, "insufficient_funds", "Your card has insufficient funds.")
    assert (declined.card_brand, declined.card_last4) == ("visa", "9995")
    await pay(attempt.url, "5555 5555 5555 4444")
    paid = await lab.service.refresh(attempt.id)
    assert (paid.outcome, paid.card_brand, paid.card_last4, paid.three_d_secure) == (
        Outcome.PAID, "mastercard", "4444", False)
    assert paid.decline_code == "insufficient_funds"  # the earlier decline stays in history

    secure = await lab.service.create([(lamp.id, 1)])
    challenge = await pay(secure.url, "4000 0025 0000 3155")
    location = challenge.headers["location"]
    async with httpx.AsyncClient() as client:
        done = await client.post(lab.sandbox.url + location if location.startswith("/")
                                 else location, data={"action": "complete"})
    assert done.status_code == 303
    authenticated = await lab.service.refresh(secure.id)
    assert (authenticated.outcome, authenticated.card_last4,
            authenticated.three_d_secure) == (Outcome.PAID, "3155", True)
    again = await lab.service.list_attempts()
    assert {a.id: a.card_last4 for a in again} == {attempt.id: "4444", secure.id: "3155"}


async def test_wait_polls_stripe_and_sees_an_expiry_made_elsewhere(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    await without_webhooks(lab)  # as with a second terminal: no event reaches this receiver
    waiting = asyncio.ensure_future(lab.service.wait_for_outcome(
        attempt.id, poll_every=0.2, page_grace=0.1))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await lab.gateway.expire_session(attempt.session_id)  # straight at Stripe, not recorded
    async with asyncio.timeout(10):
        result = await waiting
    assert (result.attempt.outcome, result.page_delivered, result.interrupted) == (
        Outcome.EXPIRED, False, False)


async def test_a_stopped_wait_leaves_the_attempt_as_it_is(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    stop = asyncio.Event()
    waiting = asyncio.ensure_future(lab.service.wait_for_outcome(attempt.id, stop=stop,
                                                                 poll_every=0.2))
    await asyncio.sleep(0.3)
    stop.set()
    async with asyncio.timeout(5):
        result = await waiting
    assert result.interrupted and result.attempt.outcome is Outcome.OPEN
    assert (await lab.gateway.retrieve_session(attempt.session_id)).status == "open"


async def test_wait_ends_only_after_the_browser_got_its_page(checkout_lab):
    lab = checkout_lab
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    waiting = asyncio.ensure_future(lab.service.wait_for_outcome(attempt.id, page_grace=30))
    paid = await pay(attempt.url)
    await asyncio.to_thread(lab.sandbox.wait_for_webhooks, 5)
    assert (await lab.service.get(attempt.id)).outcome is Outcome.PAID
    await asyncio.sleep(0.3)
    assert not waiting.done()  # paid, but the browser has not loaded its page yet
    async with httpx.AsyncClient() as client:
        page = await client.get(paid.headers["location"])
    assert page.status_code == 200 and "Payment received" in page.text
    async with asyncio.timeout(5):
        result = await waiting
    assert result.page_delivered and result.attempt.outcome is Outcome.PAID
