"""Charges and card details as the real API shows them after paying on the hosted page."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.sandbox.test_checkout import new_session, pay


def paid_intent(client, session_id, **options):
    session = client.v1.checkout.sessions.retrieve(session_id)
    return client.v1.payment_intents.retrieve(session.payment_intent, options or None)


def test_successful_payment_leaves_a_succeeded_charge(stripe_client, price):
    session = new_session(stripe_client, price)
    assert pay(session.url, card="5555 5555 5555 4444", expiry="11 / 33").status_code == 303
    intent = paid_intent(stripe_client, session.id)
    assert intent.latest_charge.startswith("ch_")
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.object, charge.status, charge.paid, charge.captured) == (
        "charge", "succeeded", True, True)
    assert (charge.amount, charge.amount_captured, charge.currency) == (2500, 2500, "usd")
    assert charge.payment_intent == intent.id and charge.payment_method == intent.payment_method
    card = charge.payment_method_details.card
    assert (charge.payment_method_details.type, card.brand, card.last4) == (
        "card", "mastercard", "4444")
    assert (card.exp_month, card.exp_year, card.three_d_secure) == (11, 2033, None)
    assert card.checks.cvc_check == "pass"
    assert (charge.outcome.network_status, charge.outcome.type,
            charge.outcome.seller_message) == ("approved_by_network", "authorized",
                                               "Payment complete.")
    assert charge.billing_details.email == "buyer@example.test"
    assert charge.billing_details.name == "Ada Buyer"
    types = [e.type for e in stripe_client.v1.events.list().data]
    assert "charge.succeeded" in types


def test_latest_charge_expands_on_the_intent_and_through_the_session(stripe_client, price):
    session = new_session(stripe_client, price)
    pay(session.url)
    intent = paid_intent(stripe_client, session.id, expand=["latest_charge"])
    assert intent.latest_charge.object == "charge"
    assert intent.latest_charge.payment_method_details.card.brand == "visa"
    nested = stripe_client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge"]})
    assert nested.payment_intent.latest_charge.id == intent.latest_charge.id
    back = stripe_client.v1.charges.retrieve(intent.latest_charge.id,
                                             {"expand": ["payment_intent"]})
    assert back.payment_intent.id == intent.id


@pytest.mark.parametrize("card", ["4000 0025 0000 3155", "4000 0027 6000 3184"])
def test_three_d_secure_result_is_on_the_charge(stripe_client, price, card):
    session = new_session(stripe_client, price)
    challenge = pay(session.url, card=card)
    intent = paid_intent(stripe_client, session.id)
    assert (intent.status, intent.latest_charge) == ("requires_action", None)
    pay_url = challenge.headers["location"]
    assert httpx.post(pay_url, data={"action": "complete"}).status_code == 303
    intent = paid_intent(stripe_client, session.id, expand=["latest_charge"])
    secure = intent.latest_charge.payment_method_details.card.three_d_secure
    assert (secure.result, secure.authentication_flow, secure.version) == (
        "authenticated", "challenge", "2.2.0")
    assert secure.electronic_commerce_indicator == "05"


def test_failed_three_d_secure_makes_no_charge(stripe_client, price):
    session = new_session(stripe_client, price)
    challenge = pay(session.url, card="4000002500003155")
    httpx.post(challenge.headers["location"], data={"action": "fail"})
    intent = paid_intent(stripe_client, session.id)
    assert intent.latest_charge is None
    assert intent.last_payment_error.code == "payment_intent_authentication_failure"
    assert intent.last_payment_error.payment_method.card.last4 == "3155"
    assert stripe_client.v1.charges.list().data == []


@pytest.mark.parametrize(("card", "code", "decline_code", "reason"), [
    ("4000000000000002", "card_declined", "generic_decline", "generic_decline"),
    ("4000000000009995", "card_declined", "insufficient_funds", "insufficient_funds"),
    ("4000000000000069", "expired_card", "expired_card", "expired_card"),
    ("4000000000000127", "incorrect_cvc", "incorrect_cvc", "incorrect_cvc"),
])
def test_decline_leaves_a_failed_charge_and_the_error(stripe_client, price, card, code,
                                                      decline_code, reason):
    session = new_session(stripe_client, price)
    assert pay(session.url, card=card).status_code == 402
    intent = paid_intent(stripe_client, session.id, expand=["latest_charge"])
    error = intent.last_payment_error
    assert (error.type, error.code, error.decline_code) == ("card_error", code, decline_code)
    assert error.message
    assert error.charge == intent.latest_charge.id
    assert (error.payment_method.object, error.payment_method.card.last4) == (
        "payment_method", card[-4:])
    charge = intent.latest_charge
    assert (charge.status, charge.paid, charge.captured, charge.amount_captured) == (
        "failed", False, False, 0)
    assert (charge.failure_code, charge.failure_message) == (code, error.message)
    assert (charge.outcome.network_status, charge.outcome.type, charge.outcome.reason) == (
        "declined_by_network", "issuer_declined", reason)
    assert charge.payment_method_details.card.last4 == card[-4:]
    assert charge.payment_method_details.card.checks.cvc_check == (
        "fail" if code == "incorrect_cvc" else "pass")
    assert "charge.failed" in [e.type for e in stripe_client.v1.events.list().data]


def test_incorrect_number_fails_before_any_charge(stripe_client, price):
    session = new_session(stripe_client, price)
    pay(session.url, card="4242424242424241")
    intent = paid_intent(stripe_client, session.id)
    assert intent.last_payment_error.code == "incorrect_number"
    assert intent.latest_charge is None


def test_retry_after_decline_lists_both_charges(stripe_client, price):
    session = new_session(stripe_client, price)
    pay(session.url, card="4000000000009995")
    pay(session.url)
    intent = paid_intent(stripe_client, session.id)
    charges = stripe_client.v1.charges.list({"payment_intent": intent.id})
    assert [c.status for c in charges.data] == ["succeeded", "failed"]
    assert charges.data[0].id == intent.latest_charge
    expanded = stripe_client.v1.charges.list({"expand": ["data.payment_intent"]})
    assert {c.payment_intent.id for c in expanded.data} == {intent.id}


def test_unknown_charge_is_404(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.charges.retrieve("ch_missing")
    assert caught.value.http_status == 404 and caught.value.code == "resource_missing"
