"""The pure checkout outcome rules, without a database or Stripe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uhadmin.domain.checkout import CheckoutAttempt, CheckoutLine, Outcome
from uhadmin.domain.checkout_rules import (
    PaymentIntentInfo,
    SessionInfo,
    apply_cancel,
    apply_decline,
    apply_session,
    apply_unanswered_expiry,
    audit_details,
    return_token,
    token_matches,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
OPEN = CheckoutAttempt(
    id=1, attempt_key="k" * 32, session_id="cs_1", url="https://checkout.stripe.com/c/pay/1",
    lines=(CheckoutLine(listing_id=3, quantity=1, unit_amount=1250),), amount_total=1250,
    currency="usd", tester="tess", livemode=False, created_at=NOW,
    expires_at=NOW + timedelta(minutes=30), status="open", payment_status="unpaid",
    outcome=Outcome.OPEN)


def session(status: str, payment_status: str = "unpaid") -> SessionInfo:
    return SessionInfo(id="cs_1", url=None, status=status, payment_status=payment_status,
                       amount_total=1250, currency="usd", created=0, expires_at=None,
                       livemode=False, payment_intent_id="pi_1")


PAID_WITH_VISA = PaymentIntentInfo(id="pi_1", status="succeeded", card_brand="visa",
                                   card_last4="4242", three_d_secure=False)
DECLINED = PaymentIntentInfo(id="pi_1", status="requires_payment_method",
                             error_code="card_declined", decline_code="lost_card",
                             error_message="Your card was declined.", card_brand="visa",
                             card_last4="9987")


def test_the_same_news_twice_changes_nothing_the_second_time():
    paid = apply_session(OPEN, session("complete", "paid"), PAID_WITH_VISA)
    assert (paid.outcome, paid.card_last4, paid.three_d_secure) == (Outcome.PAID, "4242", False)
    assert apply_session(paid, session("complete", "paid"), PAID_WITH_VISA) == paid
    assert apply_session(paid, session("complete", "paid")) == paid  # no intent: card kept
    assert audit_details(OPEN, paid, "webhook")["to"] == "paid"
    assert audit_details(paid, paid, "success page") is None


def test_a_late_open_copy_never_undoes_a_payment_and_cancel_sticks():
    paid = apply_session(OPEN, session("complete", "paid"))
    assert apply_session(paid, session("open")).outcome is Outcome.PAID
    declined = apply_decline(OPEN, DECLINED)
    assert (declined.outcome, declined.decline_code, declined.card_last4) == (
        Outcome.DECLINED, "lost_card", "9987")
    canceled = apply_session(declined, session("open"), canceled=True)
    assert (canceled.outcome, canceled.decline_code) == (Outcome.CANCELED, "lost_card")
    assert apply_session(canceled, session("expired")).outcome is Outcome.CANCELED
    assert apply_cancel(paid) == paid and apply_cancel(OPEN).outcome is Outcome.CANCELED


def test_an_unanswered_create_expires_only_after_its_expiry():
    creating = CheckoutAttempt(**{**OPEN.__dict__, "session_id": None, "status": "creating"})
    assert apply_unanswered_expiry(creating, NOW) == creating
    assert apply_unanswered_expiry(creating, NOW + timedelta(hours=1)).outcome is \
        Outcome.EXPIRED


def test_return_tokens_are_per_attempt_and_compared_whole():
    token = return_token(OPEN.attempt_key)
    assert len(token) == 32 and token != return_token("other key")
    assert token_matches(OPEN, token)
    assert not token_matches(OPEN, token[:-1]) and not token_matches(OPEN, None)
    assert not token_matches(OPEN, "")
