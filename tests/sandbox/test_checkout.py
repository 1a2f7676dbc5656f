"""Checkout Sessions and Payment Intents through the SDK, and the hosted page over HTTP."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

SUCCESS_URL = "http://shop.test/paid?session={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://shop.test/cancelled"


def new_session(client, price, **extra):
    params = {"mode": "payment", "line_items": [{"price": price.id, "quantity": 2}],
              "success_url": SUCCESS_URL, "cancel_url": CANCEL_URL,
              "client_reference_id": "listing-9", "metadata": {"attempt": "1"}}
    params.update(extra)
    return client.v1.checkout.sessions.create(params)


def pay(session_url, card="4242 4242 4242 4242", expiry="12 / 34", cvc="123",
        email="buyer@example.test", name="Ada Buyer"):
    return httpx.post(session_url, data={"email": email, "cardNumber": card,
                                         "cardExpiry": expiry, "cardCvc": cvc,
                                         "billingName": name})


def test_session_shape_amounts_and_line_items(stripe_client, price):
    session = new_session(stripe_client, price)
    assert session.id.startswith("cs_test_")
    assert (session.object, session.status, session.payment_status) == (
        "checkout.session", "open", "unpaid")
    assert (session.amount_subtotal, session.amount_total, session.currency) == (2500, 2500,
                                                                                 "usd")
    assert session.livemode is False and session.ui_mode == "hosted_page"
    assert session.url.startswith(stripe_client._requestor.base_addresses["api"] + "/c/pay/")
    assert session.payment_intent is None
    assert session.client_reference_id == "listing-9"
    assert 86390 <= session.expires_at - session.created <= 86400
    expanded = stripe_client.v1.checkout.sessions.retrieve(session.id,
                                                           {"expand": ["line_items"]})
    item = expanded.line_items.data[0]
    assert (item.object, item.quantity, item.amount_total, item.price.id) == ("item", 2, 2500,
                                                                              price.id)
    assert item.description == "Used textbook"
    listed = stripe_client.v1.checkout.sessions.line_items.list(session.id)
    assert [i.id for i in listed.data] == [item.id]


def test_price_data_line_items_are_totalled(stripe_client):
    session = stripe_client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": SUCCESS_URL,
        "line_items": [{"price_data": {"currency": "eur", "unit_amount": 300,
                                       "product_data": {"name": "Poster"}}, "quantity": 3}]})
    assert session.amount_total == 900 and session.currency == "eur"


def test_create_refusals_name_the_param(stripe_client, price):
    cases = [
        ({"payment_method_types": ["card"]}, "payment_method_types"),
        ({"line_items": [{"quantity": 1}]}, "line_items[0][price]"),
        ({"line_items": [{"price": price.id}]}, "line_items[0][quantity]"),
        ({"line_items": [{"price": "price_missing", "quantity": 1}]}, "line_items[0][price]"),
        ({"line_items": [{"price": price.id, "quantity": 1, "colour": "x"}]},
         "line_items[0][colour]"),
        ({"mode": "paymnt"}, "mode"),
        ({"ui_mode": "embedded_page"}, "ui_mode"),
        ({"success_url": "not a url"}, "success_url"),
    ]
    for extra, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            new_session(stripe_client, price, **extra)
        assert caught.value.param == param, extra


def test_inactive_price_is_refused(stripe_client, price):
    other = stripe_client.v1.prices.create({"product": price.product, "currency": "usd",
                                            "unit_amount": 700, "active": False})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        new_session(stripe_client, price, line_items=[{"price": other.id, "quantity": 1}])
    assert "The price specified is inactive" in caught.value.user_message


def test_expires_at_must_be_30_minutes_to_24_hours_away(stripe_client, stripe_sandbox, price):
    now = stripe_sandbox.clock.timestamp()
    for bad in (now + 29 * 60, now + 24 * 3600 + 120):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            new_session(stripe_client, price, expires_at=bad)
        assert caught.value.param == "expires_at"
    assert new_session(stripe_client, price, expires_at=now + 31 * 60).expires_at == now + 1860


def test_expire_endpoint_and_clock_expiry_emit_events(stripe_client, stripe_sandbox, price):
    first = new_session(stripe_client, price)
    expired = stripe_client.v1.checkout.sessions.expire(first.id)
    assert (expired.status, expired.url) == ("expired", None)
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.checkout.sessions.expire(first.id)
    second = new_session(stripe_client, price,
                         expires_at=stripe_sandbox.clock.timestamp() + 3600)
    stripe_sandbox.clock.advance(3601)
    assert stripe_client.v1.checkout.sessions.retrieve(second.id).status == "expired"
    events = stripe_client.v1.events.list({"type": "checkout.session.expired"}).data
    assert [e.data.object.id for e in events] == [second.id, first.id]
    assert [s.id for s in stripe_client.v1.checkout.sessions.list(
        {"status": "expired"}).data] == [second.id, first.id]


def test_successful_payment_redirects_and_completes(stripe_client, price):
    session = new_session(stripe_client, price)
    page = httpx.get(session.url)
    assert page.status_code == 200
    assert "OFFLINE STRIPE SANDBOX" in page.text
    for label in ("Email", "Card number", "Expiration (MM / YY)", "CVC", "Cardholder name"):
        assert f">{label}</label>" in page.text
    assert "USD 25.00" in page.text and "Used textbook" in page.text
    assert f'href="{CANCEL_URL}"' in page.text and "Back" in page.text
    response = pay(session.url, expiry="1234")
    assert response.status_code == 303
    target = response.headers["location"]
    assert parse_qs(urlsplit(target).query)["session"] == [session.id]
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status, done.url) == ("complete", "paid", None)
    assert done.customer_details.email == "buyer@example.test"
    intent = stripe_client.v1.payment_intents.retrieve(done.payment_intent)
    assert intent.id.startswith("pi_")
    assert (intent.status, intent.amount, intent.amount_received) == ("succeeded", 2500, 2500)
    types = [e.type for e in stripe_client.v1.events.list().data]
    assert "checkout.session.completed" in types and "payment_intent.succeeded" in types
    again = httpx.get(session.url)
    assert "This Checkout Session is complete" in again.text


@pytest.mark.parametrize(("card", "code", "decline_code", "message"), [
    ("4000000000000002", "card_declined", "generic_decline", "Your card was declined."),
    ("4000000000009995", "card_declined", "insufficient_funds",
     "Your card has insufficient funds."),
    ("4000000000009987", "card_declined", "lost_card", "Your card was declined."),
    ("4000000000009979", "card_declined", "stolen_card", "Your card was declined."),
    ("4000000000000069", "expired_card", "expired_card", "Your card has expired."),
    ("4000000000000127", "incorrect_cvc", "incorrect_cvc",
     "Your card's security code is incorrect."),
    ("4000000000000119", "processing_error", "processing_error",
     "An error occurred while processing your card. Try again in a little bit."),
    ("4242424242424241", "incorrect_number", None, "Your card number is incorrect."),
])
def test_declines_show_inline_and_keep_the_session_open(stripe_client, price, card, code,
                                                        decline_code, message):
    session = new_session(stripe_client, price)
    response = pay(session.url, card=card)
    assert response.status_code == 402
    assert 'role="alert"' in response.text
    assert message.replace("'", "&#39;") in response.text
    still = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert (still.status, still.payment_status) == ("open", "unpaid")
    intent = stripe_client.v1.payment_intents.retrieve(still.payment_intent)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == code
    assert intent.last_payment_error.to_dict().get("decline_code") == decline_code
    assert intent.last_payment_error.message == message


def test_retry_after_decline_uses_the_same_payment_intent(stripe_client, price):
    session = new_session(stripe_client, price)
    pay(session.url, card="4000 0000 0000 9995")
    first_intent = stripe_client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert pay(session.url, card="5555 5555 5555 4444").status_code == 303
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert done.payment_intent == first_intent
    intent = stripe_client.v1.payment_intents.retrieve(first_intent)
    assert intent.status == "succeeded" and intent.last_payment_error is None


@pytest.mark.parametrize("card", ["4000 0025 0000 3155", "4000 0027 6000 3184"])
def test_three_d_secure_complete(stripe_client, price, card):
    session = new_session(stripe_client, price)
    challenge = pay(session.url, card=card)
    assert challenge.status_code == 303
    page = httpx.get(challenge.headers["location"])
    assert "Complete authentication" in page.text and "Fail authentication" in page.text
    intent_id = stripe_client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert stripe_client.v1.payment_intents.retrieve(intent_id).status == "requires_action"
    done = httpx.post(challenge.headers["location"], data={"action": "complete"})
    assert done.status_code == 303 and session.id in done.headers["location"]
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).status == "complete"


def test_three_d_secure_fail_shows_error_and_stays_open(stripe_client, price):
    session = new_session(stripe_client, price)
    challenge = pay(session.url, card="4000002500003155")
    failed = httpx.post(challenge.headers["location"], data={"action": "fail"})
    assert failed.status_code == 402
    assert "unable to authenticate" in failed.text
    still = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert still.status == "open"
    intent = stripe_client.v1.payment_intents.retrieve(still.payment_intent)
    assert intent.last_payment_error.code == "payment_intent_authentication_failure"


@pytest.mark.parametrize(("fields", "message"), [
    ({"email": ""}, "Your email is incomplete."),
    ({"card": "4242"}, "Your card number is incomplete."),
    ({"expiry": "13 / 30"}, "Your card&#39;s expiration date is invalid."),
    ({"expiry": "01 / 20"}, "Your card&#39;s expiration date is in the past."),
    ({"cvc": "1"}, "Your card&#39;s security code is incomplete."),
    ({"name": ""}, "Your name on the card is incomplete."),
])
def test_incomplete_form_is_refused_without_a_payment_attempt(stripe_client, price, fields,
                                                              message):
    session = new_session(stripe_client, price)
    response = pay(session.url, **fields)
    assert message in response.text
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).payment_intent is None


@pytest.mark.parametrize("expiry", ["12/34", "12 / 34", "12 /34", "1234", "12 / 2034"])
def test_expiry_accepts_with_or_without_spaces(stripe_client, price, expiry):
    session = new_session(stripe_client, price)
    assert pay(session.url, expiry=expiry).status_code == 303


def test_expired_session_page_and_payment_refused(stripe_client, price):
    session = new_session(stripe_client, price)
    stripe_client.v1.checkout.sessions.expire(session.id)
    page = httpx.get(session.url)
    assert "This Checkout Session has expired" in page.text
    assert f'href="{CANCEL_URL}"' in page.text
    assert pay(session.url).status_code == 410


def test_unknown_session_page_is_404(stripe_sandbox):
    assert httpx.get(f"{stripe_sandbox.url}/c/pay/cs_test_unknown").status_code == 404


def test_page_styles_are_served_and_linked(stripe_client, price):
    session = new_session(stripe_client, price)
    html = httpx.get(session.url).text
    css_path = re.search(r'href="(/static/[^"]+\.css)"', html).group(1)
    css = httpx.get(stripe_client._requestor.base_addresses["api"] + css_path)
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


def test_async_sessions_and_intents(stripe_client, price):
    async def scenario():
        session = await stripe_client.v1.checkout.sessions.create_async({
            "mode": "payment", "success_url": SUCCESS_URL,
            "line_items": [{"price": price.id, "quantity": 1}]})
        async with httpx.AsyncClient() as browser:
            await browser.post(session.url, data={
                "email": "a@b.test", "cardNumber": "4242424242424242", "cardExpiry": "12/34",
                "cardCvc": "123", "billingName": "A"})
        done = await stripe_client.v1.checkout.sessions.retrieve_async(session.id)
        intent = await stripe_client.v1.payment_intents.retrieve_async(done.payment_intent)
        return done, intent

    done, intent = asyncio.run(scenario())
    assert done.payment_status == "paid" and intent.status == "succeeded"
