"""The hosted page's payment attempts: test-card outcomes, 3-D Secure, the PaymentIntent and
Charge each attempt leaves, and the events Stripe sends for them."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Any

from uhadmin.sandbox import cards
from uhadmin.sandbox.charges import (
    CardUsed,
    build_charge,
    payment_method,
    three_d_secure_result,
)
from uhadmin.sandbox.store import new_id


@dataclass(frozen=True)
class PaymentResult:
    """What the hosted page shows after an attempt: a redirect, an authentication challenge
    or an inline error (Stripe's message and the field it concerns)."""

    kind: str  # "redirect" | "authenticate" | "error"
    redirect_url: str | None = None
    message: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class CardForm:
    email: str
    card_number: str
    expiry: str
    cvc: str
    name: str


class PaymentAttempts:
    """Mixed into StripeApi; relies on its store, clock, events and checkout helpers."""

    store: Any
    clock: Any
    emit: Any
    hosted_url: Any
    expire_due_sessions: Any
    _intent: Any
    _now: Any

    def _intent_for(self, session: dict[str, Any]) -> dict[str, Any]:
        if session["payment_intent"]:
            return self._intent(session["payment_intent"])
        intent_id = new_id("pi_")
        extra = session["_payment_intent_data"]
        intent = {
            "id": intent_id, "object": "payment_intent", "amount": session["amount_total"],
            "amount_capturable": 0, "amount_received": 0, "automatic_payment_methods": None,
            "canceled_at": None, "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "confirmation_method": "automatic", "created": self._now(),
            "currency": session["currency"], "customer": None,
            "description": extra.get("description"), "last_payment_error": None,
            "latest_charge": None, "livemode": False, "metadata": extra.get("metadata") or {},
            "next_action": None, "payment_method": None, "payment_method_types": ["card"],
            "receipt_email": extra.get("receipt_email"), "status": "requires_payment_method",
        }
        self.store.put("payment_intent", intent)
        self.store.put("checkout_session", dict(session, payment_intent=intent_id))
        self.emit("payment_intent.created", intent)
        return intent

    def open_session_for_payment(self, session_id: str) -> dict[str, Any] | None:
        self.expire_due_sessions()
        return self.store.get("checkout_session", session_id)

    def pay(self, session_id: str, form: CardForm) -> PaymentResult:
        session = self.open_session_for_payment(session_id)
        if session is None or session["status"] != "open":
            return PaymentResult("error", message="This Checkout Session is no longer active.")
        problem = self._form_problem(form)
        if problem is not None:
            return problem
        number = cards.digits_only(form.card_number)
        outcome = cards.outcome_for(number)
        intent = self._intent_for(session)
        month, year = cards.parse_expiry(form.expiry) or (0, 0)  # checked by _form_problem
        card = CardUsed(brand=cards.brand_of(number), last4=number[-4:], exp_month=month,
                        exp_year=year, email=form.email.strip(), name=form.name.strip())
        if outcome.kind == "success":
            return self._succeed(session_id, intent["id"], card)
        if outcome.kind == "three_d_secure":
            waiting = dict(intent, status="requires_action", _pending_card=card.as_stored(),
                           next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {
                               "type": "three_d_secure_redirect"}})
            self.store.put("payment_intent", waiting)
            self.emit("payment_intent.requires_action", waiting)
            return PaymentResult("authenticate",
                                 redirect_url=f"{self.hosted_url(session_id)}/authenticate")
        method = payment_method(card, self._now())
        error = {"type": "card_error", "code": outcome.code, "message": outcome.message,
                 "doc_url": f"https://stripe.com/docs/error-codes/"
                            f"{(outcome.code or '').replace('_', '-')}",
                 "payment_method": method}
        if outcome.decline_code:
            error["decline_code"] = outcome.decline_code
        charge = None
        if outcome.code != "incorrect_number":
            # Stripe refuses a number that fails its checks before any charge exists;
            # every other decline is a failed charge.
            charge = build_charge(intent, card, outcome, method["id"], self._now())
            error["charge"] = charge["id"]
        self._fail(intent, error, charge)
        return PaymentResult("error", message=outcome.message, field="cardNumber")

    def authenticate(self, session_id: str, approved: bool) -> PaymentResult:
        session = self.open_session_for_payment(session_id)
        if session is None or session["status"] != "open" or not session["payment_intent"]:
            return PaymentResult("error", message="This Checkout Session is no longer active.")
        intent = self._intent(session["payment_intent"])
        stored_card = intent.get("_pending_card")
        if intent["status"] != "requires_action" or stored_card is None:
            return PaymentResult("error", message="There is no payment waiting for "
                                 "authentication.")
        card = CardUsed.from_stored(stored_card)
        if approved:
            return self._succeed(session_id, intent["id"], card,
                                 three_d_secure=three_d_secure_result(card))
        # A failed challenge never reaches the card network: no charge, as on Stripe.
        self._fail(intent, {"type": "invalid_request_error",
                            "code": "payment_intent_authentication_failure",
                            "message": cards.AUTHENTICATION_FAILED_MESSAGE,
                            "doc_url": "https://stripe.com/docs/error-codes/"
                                       "payment-intent-authentication-failure",
                            "payment_method": payment_method(card, self._now())})
        return PaymentResult("error", message=cards.AUTHENTICATION_FAILED_MESSAGE,
                             field="cardNumber")

    def _fail(self, intent: dict[str, Any], error: dict[str, Any],
              charge: dict[str, Any] | None = None) -> None:
        failed = {k: v for k, v in intent.items() if k != "_pending_card"}
        failed.update(status="requires_payment_method", last_payment_error=error,
                      next_action=None, payment_method=None)
        if charge is not None:
            self.store.put("charge", charge)
            failed["latest_charge"] = charge["id"]
            self.emit("charge.failed", charge)
        self.store.put("payment_intent", failed)
        self.emit("payment_intent.payment_failed", failed)

    def _succeed(self, session_id: str, intent_id: str, card: CardUsed,
                 three_d_secure: dict[str, Any] | None = None) -> PaymentResult:
        intent = self._intent(intent_id)
        paid = {k: v for k, v in intent.items() if k != "_pending_card"}
        method_id = new_id("pm_")
        charge = build_charge(intent, card, cards.SUCCESS, method_id, self._now(),
                              three_d_secure)
        paid.update(status="succeeded", amount_received=intent["amount"],
                    last_payment_error=None, next_action=None,
                    latest_charge=charge["id"], payment_method=method_id)
        self.store.put("charge", charge)
        self.store.put("payment_intent", paid)
        session = self.store.get("checkout_session", session_id)
        complete = dict(session, status="complete", payment_status="paid", url=None,
                        customer_details={"address": None, "email": card.email,
                                          "name": card.name, "phone": None,
                                          "tax_exempt": "none", "tax_ids": []})
        self.store.put("checkout_session", complete)
        self.emit("charge.succeeded", charge)
        self.emit("payment_intent.succeeded", paid)
        self.emit("checkout.session.completed", complete)
        target = session["success_url"]
        if target:
            target = target.replace("{CHECKOUT_SESSION_ID}", session_id)
        else:
            target = f"{self.hosted_url(session_id)}"
        return PaymentResult("redirect", redirect_url=target)

    def _form_problem(self, form: CardForm) -> PaymentResult | None:
        email = form.email.strip()
        if not email:
            return PaymentResult("error", message="Your email is incomplete.", field="email")
        if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
            return PaymentResult("error", message="Your email address is invalid.",
                                 field="email")
        number = cards.digits_only(form.card_number)
        if not number:
            return PaymentResult("error", message="Your card number is incomplete.",
                                 field="cardNumber")
        if not number.isdigit():
            return PaymentResult("error", message="Your card number is invalid.",
                                 field="cardNumber")
        if len(number) < 13:
            return PaymentResult("error", message="Your card number is incomplete.",
                                 field="cardNumber")
        if not form.expiry.strip():
            return PaymentResult("error", message="Your card's expiration date is "
                                 "incomplete.", field="cardExpiry")
        expiry = cards.parse_expiry(form.expiry)
        if expiry is None:
            return PaymentResult("error", message="Your card's expiration date is invalid.",
                                 field="cardExpiry")
        month, year = expiry
        current = datetime.datetime.fromtimestamp(self.clock.now(), datetime.UTC)
        if (year, month) < (current.year, current.month):
            return PaymentResult("error", message="Your card's expiration date is in the "
                                 "past.", field="cardExpiry")
        if year > current.year + 50:
            return PaymentResult("error", message="Your card's expiration year is invalid.",
                                 field="cardExpiry")
        cvc = form.cvc.strip()
        if not cvc.isdigit() or not 3 <= len(cvc) <= 4:
            return PaymentResult("error", message="Your card's security code is incomplete.",
                                 field="cardCvc")
        if not form.name.strip():
            return PaymentResult("error", message="Your name on the card is incomplete.",
                                 field="billingName")
        return None
