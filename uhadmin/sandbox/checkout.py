"""Checkout Sessions and Payment Intents on the API side: create, retrieve, list, expire."""

from __future__ import annotations

import heapq
from typing import Any
from urllib.parse import urlsplit

import stripe.params as sp

from uhadmin.money import MINIMUM_CHARGE_MINOR
from uhadmin.sandbox.common import ApiRequest, public
from uhadmin.sandbox.errors import StripeApiError, invalid_param, missing_param, no_such
from uhadmin.sandbox.prices import maximum_amount
from uhadmin.sandbox.store import new_id
from uhadmin.sandbox.validation import validate

CHECKOUT_MIN_LIFETIME_S = 30 * 60
CHECKOUT_MAX_LIFETIME_S = 24 * 3600
MAX_LINE_ITEMS = 100


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
        now = self._now()
        expires_at = self._checked_session_params(p, now)
        line_items, inline_prices = self._line_items(p["line_items"])
        currency, total = _checked_total(line_items)
        session = self._new_session(p, line_items, currency, total, now, expires_at)
        for price in inline_prices:
            self.store.put("inline_price", price)
        self.store.put("checkout_session", session)
        heapq.heappush(self._expiry_heap, (expires_at, session["id"]))
        return self._expand(session, "checkout_session", p.get("expand", []))

    def _checked_session_params(self, p: dict[str, Any], now: int) -> int:
        """Refuse what the sandbox or Stripe would; the session's `expires_at`."""
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
        expires_at: int = p.get("expires_at", now + CHECKOUT_MAX_LIFETIME_S)
        if expires_at < now + CHECKOUT_MIN_LIFETIME_S:
            raise invalid_param("expires_at", "The `expires_at` timestamp must be at least 30 "
                                "minutes from Checkout Session creation.")
        if expires_at > now + CHECKOUT_MAX_LIFETIME_S:
            raise invalid_param("expires_at", "The `expires_at` timestamp must be less than 24 "
                                "hours from Checkout Session creation.")
        return expires_at

    def _new_session(self, p: dict[str, Any], line_items: list[dict[str, Any]], currency: str,
                     total: int, now: int, expires_at: int) -> dict[str, Any]:
        """An open session as Stripe shows one, every field it has in this API version."""
        session_id = new_id("cs_test_a1", 56)
        return {
            "id": session_id, "object": "checkout.session", "adaptive_pricing": None,
            "after_expiration": None, "allow_promotion_codes": None,
            "amount_subtotal": total, "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None, "cancel_url": p.get("cancel_url"),
            "client_reference_id": p.get("client_reference_id"), "client_secret": None,
            "collected_information": None, "consent": None, "consent_collection": None,
            "created": now, "currency": currency, "currency_conversion": None,
            "custom_fields": [], "custom_text": {
                "after_submit": None, "shipping_address": None, "submit": None,
                "terms_of_service_acceptance": None},
            "customer": None, "customer_account": None,
            "customer_creation": "if_required", "customer_details": None,
            "customer_email": p.get("customer_email"), "expires_at": expires_at,
            "discounts": [], "invoice": None, "invoice_creation": None, "livemode": False,
            "locale": p.get("locale"),
            "metadata": p.get("metadata") or {}, "mode": "payment", "payment_intent": None,
            "payment_link": None, "payment_method_collection": "if_required",
            "payment_method_configuration_details": None, "payment_method_options": {},
            "payment_method_types": ["card"], "payment_status": "unpaid",
            "phone_number_collection": {"enabled": False}, "recovered_from": None,
            "saved_payment_method_options": None, "setup_intent": None,
            "shipping_address_collection": None, "shipping_cost": None,
            "shipping_options": [], "status": "open", "submit_type": None,
            "subscription": None, "success_url": p.get("success_url"),
            "tax_id_collection": {"enabled": False, "required": "never"},
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted_page", "url": self.hosted_url(session_id),
            "_line_items": line_items,
            "_payment_intent_data": p.get("payment_intent_data") or {},
        }

    def _line_items(self, raw_items: list[dict[str, Any]],
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        items: list[dict[str, Any]] = []
        inline: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_items):
            prefix = f"line_items[{index}]"
            price, description, ad_hoc = self._line_price(raw, prefix)
            if ad_hoc:
                inline.append(price)
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

    def _line_price(self, raw: dict[str, Any], prefix: str,
                    ) -> tuple[dict[str, Any], str, bool]:
        """A line's price, its description, and whether the price was made for this line
        (`price_data`) rather than named (`price`)."""
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
            return price, description, False
        if "price_data" not in raw:
            raise missing_param(f"{prefix}[price]")
        data = raw["price_data"]
        if "product" in data:
            product = self.store.get("product", data["product"])
            if product is None:
                raise no_such("product", data["product"], f"{prefix}[price_data]"
                              "[product]", named_in_request=True)
            product_id, description = product["id"], product["name"]
        elif "product_data" in data:
            product_id = new_id("prod_", 14)
            description = data["product_data"]["name"]
        else:
            raise missing_param(f"{prefix}[price_data][product]")
        price = self._build_price(data, product_id, f"{prefix}[price_data]")
        price["active"] = False  # ad-hoc prices are not reusable, as on Stripe
        return price, description, True

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
        render = self._renderer("item", p.get("expand", []), "data.")
        return {"object": "list", "data": [render(item) for item in page],
                "has_more": has_more,
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


def _checked_total(line_items: list[dict[str, Any]]) -> tuple[str, int]:
    """The session's currency and total, within what Stripe charges in that currency."""
    currency: str = line_items[0]["currency"]
    total = sum(item["amount_total"] for item in line_items)
    minimum = MINIMUM_CHARGE_MINOR.get(currency, 50)
    if total < minimum:
        raise invalid_param("line_items", "The Checkout Session's total amount due must "
                            f"add up to at least {minimum} {currency} in minor units.",
                            code="amount_too_small")
    if total > maximum_amount(currency):
        raise invalid_param("line_items", "The Checkout Session's total amount due must "
                            f"be no more than {maximum_amount(currency)} {currency} in "
                            "minor units.", code="amount_too_large")
    return currency, total
