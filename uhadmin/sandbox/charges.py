"""Charges: what a card payment attempt leaves behind (`/v1/charges`), shaped as Stripe's are."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe.params as sp

from uhadmin.sandbox.cards import CardOutcome
from uhadmin.sandbox.common import ApiRequest
from uhadmin.sandbox.errors import no_such
from uhadmin.sandbox.store import new_id
from uhadmin.sandbox.validation import validate

STATEMENT_DESCRIPTOR = "UH MARKETPLACE"
# Stripe's seller messages for the outcomes the test cards produce.
_SELLER_MESSAGE = {
    None: "Payment complete.",
    "generic_decline": "The bank did not return any further details with this decline.",
    "test_mode_live_card": "Your card was declined. Your request was in test mode, but used "
                           "a non test (live) card.",
}
# Electronic Commerce Indicator of a fully authenticated 3-D Secure payment, per network.
_AUTHENTICATED_ECI = {"visa": "05", "amex": "05", "mastercard": "02"}


@dataclass(frozen=True)
class CardUsed:
    """The card as the hosted page collected it (never the full number)."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    email: str
    name: str

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> CardUsed:
        # A payment left waiting for 3-D Secure by an older sandbox kept no expiry.
        return cls(brand=data["brand"], last4=data["last4"],
                   exp_month=data.get("exp_month", 0), exp_year=data.get("exp_year", 0),
                   email=data["email"], name=data["name"])

    def as_stored(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def fingerprint(self) -> str:
        # Stable per card like Stripe's: the same test card always has the same one.
        digest = hashlib.sha256(f"{self.brand}{self.last4}{self.exp_month}{self.exp_year}"
                                .encode()).hexdigest()
        return digest[:16]


def billing_details(card: CardUsed) -> dict[str, Any]:
    return {"address": {"city": None, "country": None, "line1": None, "line2": None,
                        "postal_code": None, "state": None},
            "email": card.email, "name": card.name, "phone": None, "tax_id": None}


def payment_method(card: CardUsed, created: int) -> dict[str, Any]:
    """The PaymentMethod object Stripe embeds in `last_payment_error.payment_method`."""
    return {
        "id": new_id("pm_"), "object": "payment_method", "allow_redisplay": "unspecified",
        "billing_details": billing_details(card),
        "card": {"brand": card.brand,
                 "checks": {"address_line1_check": None, "address_postal_code_check": None,
                            "cvc_check": None},
                 "country": "US", "display_brand": card.brand,
                 "exp_month": card.exp_month, "exp_year": card.exp_year,
                 "fingerprint": card.fingerprint(), "funding": "credit",
                 "generated_from": None, "last4": card.last4,
                 "networks": {"available": [card.brand], "preferred": None},
                 "regulated_status": "unregulated",
                 "three_d_secure_usage": {"supported": True}, "wallet": None},
        "created": created, "customer": None, "livemode": False, "metadata": {},
        "type": "card"}


def three_d_secure_result(card: CardUsed) -> dict[str, Any]:
    """What an approved 3-D Secure challenge leaves on the charge's card details."""
    return {"authentication_flow": "challenge",
            "electronic_commerce_indicator": _AUTHENTICATED_ECI.get(card.brand, "05"),
            "exemption_indicator": None, "exemption_indicator_applied": False,
            "result": "authenticated", "result_reason": None,
            "transaction_id": str(uuid.uuid4()), "version": "2.2.0"}


def outcome(result: CardOutcome) -> dict[str, Any]:
    """The charge's `outcome`: how the network and the issuer answered."""
    base = {"advice_code": None, "network_advice_code": None, "network_decline_code": None,
            "risk_level": "normal", "risk_score": 20, "rule": None}
    if result.kind != "decline":
        return dict(base, network_status="approved_by_network", reason=None,
                    seller_message=_SELLER_MESSAGE[None], type="authorized")
    reason = result.decline_code
    if reason == "test_mode_live_card":
        return dict(base, network_status="not_sent_to_network", reason=reason,
                    seller_message=_SELLER_MESSAGE[reason], type="invalid")
    message = _SELLER_MESSAGE.get(reason, f"The bank returned the decline code `{reason}`.")
    advice = "do_not_try_again" if reason in ("lost_card", "stolen_card") else None
    return dict(base, advice_code=advice, network_status="declined_by_network",
                reason=reason, seller_message=message, type="issuer_declined")


def build_charge(intent: dict[str, Any], card: CardUsed, result: CardOutcome,
                 payment_method_id: str, created: int,
                 three_d_secure: dict[str, Any] | None = None) -> dict[str, Any]:
    """A succeeded charge (`result.kind` success or three_d_secure) or a failed one."""
    paid = result.kind != "decline"
    amount = intent["amount"]
    charge_id = new_id("ch_")
    cvc_check = "fail" if result.code == "incorrect_cvc" else "pass"
    return {
        "id": charge_id, "object": "charge", "amount": amount,
        "amount_captured": amount if paid else 0, "amount_refunded": 0, "application": None,
        "application_fee": None, "application_fee_amount": None,
        "authorization_code": None,
        "balance_transaction": new_id("txn_") if paid else None,
        "billing_details": billing_details(card),
        "calculated_statement_descriptor": STATEMENT_DESCRIPTOR, "captured": paid,
        "created": created, "currency": intent["currency"], "customer": None,
        "description": intent["description"], "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None if paid else result.code,
        "failure_message": None if paid else result.message,
        "fraud_details": {}, "livemode": False, "metadata": dict(intent["metadata"]),
        "on_behalf_of": None, "outcome": outcome(result), "paid": paid,
        "payment_intent": intent["id"], "payment_method": payment_method_id,
        "payment_method_details": {"type": "card", "card": {
            "amount_authorized": amount if paid else None, "authorization_code": None,
            "brand": card.brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None,
                       "cvc_check": cvc_check},
            "country": "US", "exp_month": card.exp_month, "exp_year": card.exp_year,
            "extended_authorization": {"status": "disabled"},
            "fingerprint": card.fingerprint(), "funding": "credit",
            "incremental_authorization": {"status": "unavailable"}, "installments": None,
            "last4": card.last4, "mandate": None, "multicapture": {"status": "unavailable"},
            "network": card.brand, "network_token": {"used": False},
            "network_transaction_id": str(uuid.uuid4().int)[:15] if paid else None,
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated", "three_d_secure": three_d_secure,
            "wallet": None}},
        "radar_options": {}, "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": None, "refunded": False, "review": None, "shipping": None,
        "source": None, "source_transfer": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if paid else "failed", "transfer_data": None,
        "transfer_group": None,
    }


class ChargeEndpoints:
    """Mixed into StripeApi; relies on its store, paging and expansion helpers."""

    store: Any
    _page: Any
    _expand: Any
    _created_filter: Any
    _renderer: Callable[[str, list[str], str], Callable[[dict[str, Any]], dict[str, Any]]]

    def _charge(self, charge_id: str, param: str = "id") -> dict[str, Any]:
        charge = self.store.get("charge", charge_id)
        if charge is None:
            raise no_such("charge", charge_id, param)
        return charge

    def retrieve_charge(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.ChargeRetrieveParams)
        return self._expand(self._charge(req.path_args["id"]), "charge", p.get("expand", []))

    def list_charges(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.ChargeListParams)
        items = self.store.newest_first("charge")
        if "payment_intent" in p:
            items = [c for c in items if c["payment_intent"] == p["payment_intent"]]
        for name in ("customer", "transfer_group"):
            if name in p:
                items = [c for c in items if c.get(name) == p[name]]
        items = self._created_filter(items, p.get("created"))
        expand = p.get("expand", [])
        return self._page(items, p, "charge", "/v1/charges",
                          self._renderer("charge", expand, "data."))
