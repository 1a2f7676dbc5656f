"""Checkout Sessions and Payment Intents: the API side and the payment attempts the hosted
page makes, with Stripe's statuses, events and test-card outcomes."""

from __future__ import annotations

import copy
import datetime
import heapq
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import stripe.params as sp

from uhadmin.sandbox import cards
from uhadmin.sandbox.charges import (
    CardUsed,
    build_charge,
    payment_method,
    three_d_secure_result,
)
from uhadmin.sandbox.common import ApiRequest, public
from uhadmin.sandbox.errors import StripeApiError, invalid_param, missing_param, no_such
from uhadmin.sandbox.store import new_id
from uhadmin.sandbox.validation import validate

CHECKOUT_MIN_LIFETIME_S = 30 * 60
CHECKOUT_MAX_LIFETIME_S = 24 * 3600
MAX_LINE_ITEMS = 100
# Stripe's minimum charge per currency, in minor units (USD/EUR 0.50, GBP 0.30, JPY 50).
MINIMUM_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "jpy": 50, "cad": 50, "aud": 50,
                  "chf": 50, "sek": 300, "nok": 300, "dkk": 250}
MAXIMUM_CHARGE = 99_999_999


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


class CheckoutEndpoints:
    """Mixed into StripeApi; relies on its store, clock, events and paging helpers."""

    store: Any
    clock: Any
    base_url: Any
    emit: Any
    _page: Any
    _expand: Any
    _renderer: Any
    _price: Any
    _created_filter: Any
    _check_metadata: Any
    _build_price: Any
    _now: Any
    _expiry_heap: list[tuple[int, str]]

    # ----------------------------------------------------------------- sessions
    def _session(self, session_id: str, param: str = "session") -> dict[str, Any]:
        session = self.store.get("checkout_session", session_id)
        if session is None:
            raise no_such("checkout.session", session_id, param)
        return session

    def hosted_url(self, session_id: str) -> str:
        return f"{self.base_url()}/c/pay/{session_id}"

    @staticmethod
    def _check_redirect_url(params: dict[str, Any], name: str) -> None:
        url = params.get(name)
        if url is None:
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid_param(name, "Not a valid URL", code="url_invalid")

    def create_session(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.checkout.SessionCreateParams)
        if "mode" not in p:
            raise missing_param("mode")
        if p["mode"] != "payment":
            raise invalid_param("mode", "The offline sandbox supports Checkout in `payment` "
                                "mode only.")
        if p.get("ui_mode", "hosted_page") != "hosted_page":
            raise invalid_param("ui_mode", "The offline sandbox hosts checkout pages only "
                                "(`ui_mode=hosted_page`).")
        for name in ("success_url", "cancel_url"):
            self._check_redirect_url(p, name)
        if len(p.get("client_reference_id") or "") > 200:
            raise invalid_param("client_reference_id", "client_reference_id can have up to "
                                "200 characters.", code="string_too_long")
        self._check_metadata(p.get("metadata"))
        raw_items = p.get("line_items")
        if not raw_items:
            raise missing_param("line_items")
        if len(raw_items) > MAX_LINE_ITEMS:
            raise invalid_param("line_items", f"You may only specify up to {MAX_LINE_ITEMS} "
                                "line items.")
        now = self._now()
        expires_at = p.get("expires_at", now + CHECKOUT_MAX_LIFETIME_S)
        if expires_at < now + CHECKOUT_MIN_LIFETIME_S:
            raise invalid_param("expires_at", "The `expires_at` timestamp must be at least 30 "
                                "minutes from Checkout Session creation.")
        if expires_at > now + CHECKOUT_MAX_LIFETIME_S:
            raise invalid_param("expires_at", "The `expires_at` timestamp must be less than 24 "
                                "hours from Checkout Session creation.")
        line_items, inline_prices = self._line_items(raw_items)
        currency = line_items[0]["currency"]
        total = sum(item["amount_total"] for item in line_items)
        minimum = MINIMUM_CHARGE.get(currency, 50)
        if total < minimum:
            raise invalid_param("line_items", "The Checkout Session's total amount due must "
                                f"add up to at least {minimum} {currency} in minor units.",
                                code="amount_too_small")
        if total > MAXIMUM_CHARGE:
            raise invalid_param("line_items", "The Checkout Session's total amount due must "
                                f"be no more than {MAXIMUM_CHARGE} {currency} in minor units.",
                                code="amount_too_large")
        session_id = new_id("cs_test_a1", 56)
        session = {
            "id": session_id, "object": "checkout.session", "adaptive_pricing": None,
            "after_expiration": None, "allow_promotion_codes": None,
            "amount_subtotal": total, "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None, "cancel_url": p.get("cancel_url"),
            "client_reference_id": p.get("client_reference_id"), "client_secret": None,
            "created": now, "currency": currency, "customer": None,
            "customer_creation": "if_required", "customer_details": None,
            "customer_email": p.get("customer_email"), "expires_at": expires_at,
            "invoice": None, "livemode": False, "locale": p.get("locale"),
            "metadata": p.get("metadata") or {}, "mode": "payment", "payment_intent": None,
            "payment_link": None, "payment_method_collection": "if_required",
            "payment_method_types": ["card"], "payment_status": "unpaid", "status": "open",
            "success_url": p.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted_page", "url": self.hosted_url(session_id),
            "_line_items": line_items,
            "_payment_intent_data": p.get("payment_intent_data") or {},
        }
        for price in inline_prices:
            self.store.put("inline_price", price)
        self.store.put("checkout_session", session)
        heapq.heappush(self._expiry_heap, (expires_at, session_id))
        return self._expand(session, "checkout_session", p.get("expand", []))

    def _line_items(self, raw_items: list[dict[str, Any]],
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        items: list[dict[str, Any]] = []
        inline: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_items):
            prefix = f"line_items[{index}]"
            if "price" in raw and "price_data" in raw:
                raise invalid_param(f"{prefix}[price]", "You may only specify one of these "
                                    "parameters: price, price_data.")
            if "price" in raw:
                price = self._price(raw["price"], f"{prefix}[price]")
                if not price["active"]:
                    raise invalid_param(f"{prefix}[price]", "The price specified is inactive. "
                                        "This field only accepts active prices.",
                                        stored=True)
                product = self.store.get("product", price["product"])
                description = product["name"] if product else ""
                if product is not None and not product["active"]:
                    raise invalid_param(f"{prefix}[price]", "The price specified belongs to an "
                                        "inactive product.", stored=True)
            elif "price_data" in raw:
                data = raw["price_data"]
                if "product" in data:
                    product = self.store.get("product", data["product"])
                    if product is None:
                        raise no_such("product", data["product"], f"{prefix}[price_data]"
                                      "[product]")
                    product_id, description = product["id"], product["name"]
                elif "product_data" in data:
                    product_id = new_id("prod_", 14)
                    description = data["product_data"]["name"]
                else:
                    raise missing_param(f"{prefix}[price_data][product]")
                price = self._build_price(data, product_id, f"{prefix}[price_data]")
                price["active"] = False  # ad-hoc prices are not reusable, as on Stripe
                inline.append(price)
            else:
                raise missing_param(f"{prefix}[price]")
            if "quantity" not in raw:
                raise missing_param(f"{prefix}[quantity]")
            quantity = raw["quantity"]
            if quantity < 1:
                raise invalid_param(f"{prefix}[quantity]", "This value must be greater than "
                                    "or equal to 1.", code="parameter_invalid_integer")
            if price["unit_amount"] is None:
                raise invalid_param(f"{prefix}[price]", "The offline sandbox needs prices with "
                                    "a fixed unit_amount in Checkout.")
            if price["type"] != "one_time":
                raise invalid_param(f"{prefix}[price]", "You specified `payment` mode but "
                                    "passed a recurring price. Either switch to `subscription` "
                                    "mode or use only one-time prices.")
            if items and price["currency"] != items[0]["currency"]:
                raise invalid_param(f"{prefix}[price]", "All line items must use the same "
                                    "currency.")
            amount = price["unit_amount"] * quantity
            items.append({
                "id": new_id("li_"), "object": "item", "amount_discount": 0,
                "amount_subtotal": amount, "amount_tax": 0, "amount_total": amount,
                "currency": price["currency"], "description": description,
                "metadata": {}, "price": public(price), "quantity": quantity,
            })
        return items, inline

    def retrieve_session(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.checkout.SessionRetrieveParams)
        return self._expand(self._session(req.path_args["id"], "session"), "checkout_session",
                            p.get("expand", []))

    def list_sessions(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.checkout.SessionListParams)
        items = self.store.newest_first("checkout_session")
        if "status" in p:
            items = [s for s in items if s["status"] == p["status"]]
        if "payment_intent" in p:
            items = [s for s in items if s["payment_intent"] == p["payment_intent"]]
        email = (p.get("customer_details") or {}).get("email")
        if email:
            items = [s for s in items if (s["customer_details"] or {}).get("email") == email]
        items = self._created_filter(items, p.get("created"))
        expand = p.get("expand", [])
        return self._page(items, p, "checkout_session", "/v1/checkout/sessions",
                          self._renderer("checkout_session", expand, "data."))

    def list_session_line_items(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.checkout.SessionListLineItemsParams)
        session = self._session(req.path_args["id"])
        items = session["_line_items"]
        limit = p.get("limit", 10)
        if not 1 <= limit <= 100:
            raise invalid_param("limit", "This value must be between 1 and 100.",
                                code="parameter_invalid_integer")
        start = 0
        ids = [item["id"] for item in items]
        if "starting_after" in p:
            if p["starting_after"] not in ids:
                raise no_such("line item", p["starting_after"], "starting_after")
            start = ids.index(p["starting_after"]) + 1
        end = len(items)
        if "ending_before" in p:
            if p["ending_before"] not in ids:
                raise no_such("line item", p["ending_before"], "ending_before")
            end = ids.index(p["ending_before"])
            start = max(0, end - limit)
        page = items[start:min(end, start + limit)]
        has_more = (start > 0) if "ending_before" in p else start + limit < end
        return {"object": "list", "data": copy.deepcopy(page), "has_more": has_more,
                "url": f"/v1/checkout/sessions/{session['id']}/line_items"}

    def expire_session(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.checkout.SessionExpireParams)
        session = self._session(req.path_args["id"])
        if session["status"] != "open":
            raise StripeApiError(400, "Only Checkout Sessions with a status in [\"open\"] can "
                                 f"be expired. This session has a status of "
                                 f"\"{session['status']}\".", code="checkout_session_not_open",
                                 param="session")
        expired = self._expire(session, req)
        return self._expand(expired, "checkout_session", p.get("expand", []))

    def _expire(self, session: dict[str, Any], req: ApiRequest | None) -> dict[str, Any]:
        expired = dict(session, status="expired", url=None)
        self.store.put("checkout_session", expired)
        intent = self.store.get("payment_intent", session["payment_intent"] or "")
        if intent is not None and intent["status"] not in ("succeeded", "canceled"):
            canceled = dict(intent, status="canceled", canceled_at=self._now(),
                            cancellation_reason="abandoned", next_action=None)
            self.store.put("payment_intent", canceled)
            self.emit("payment_intent.canceled", canceled, req)
        self.emit("checkout.session.expired", expired, req)
        return expired

    def expire_due_sessions(self) -> None:
        """Expire every open session whose `expires_at` has passed on the sandbox clock."""
        now = self._now()
        heap = self._expiry_heap
        while heap and heap[0][0] <= now:
            _, session_id = heapq.heappop(heap)
            session = self.store.get("checkout_session", session_id)
            if session is not None and session["status"] == "open":
                self._expire(session, None)

    # ----------------------------------------------------------------- payment intents
    def _intent(self, intent_id: str) -> dict[str, Any]:
        intent = self.store.get("payment_intent", intent_id)
        if intent is None:
            raise no_such("payment_intent", intent_id, "intent")
        return intent

    def retrieve_payment_intent(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.PaymentIntentRetrieveParams)
        if "client_secret" in p:
            raise invalid_param("client_secret", "The offline sandbox serves secret-key "
                                "requests only: `client_secret` is not supported.")
        return self._expand(self._intent(req.path_args["id"]), "payment_intent",
                            p.get("expand", []))

    def list_payment_intents(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.PaymentIntentListParams)
        if "customer" in p:
            items = []  # the sandbox has no customers, so no intent belongs to one
        else:
            items = self.store.newest_first("payment_intent")
        items = self._created_filter(items, p.get("created"))
        return self._page(items, p, "payment_intent", "/v1/payment_intents",
                          self._renderer("payment_intent", p.get("expand", []), "data."))

    # ----------------------------------------------------------------- the hosted page's payments
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
