"""Checkout Sessions, Payment Intents, events and webhook signatures over the gateway core.

Every request goes through `StripeGateway.call` (rate limit, retries with the same
idempotency key, error mapping, livemode guard); this module only shapes parameters and turns
the SDK's objects into plain frozen values, so the rest of the services never see `stripe`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import stripe

from uhadmin.domain.checkout import CheckoutAttempt
from uhadmin.domain.checkout_rules import (
    PaymentIntentInfo,
    SessionInfo,
    SessionLine,
    return_token,
)
from uhadmin.services.stripe_gateway.client import StripeGateway

if TYPE_CHECKING:  # the SDK's parameter types, for the type checker only
    from stripe.params import EventListParams, WebhookEndpointCreateParams
    from stripe.params.checkout import (
        SessionCreateParams,
        SessionListParams,
        SessionRetrieveParams,
    )

# The webhook events the checkout lab subscribes to (services/checkout/webhooks handles
# each); a Literal, as the SDK types `enabled_events`.
LabEvent = Literal["checkout.session.completed", "checkout.session.expired",
                   "checkout.session.async_payment_succeeded",
                   "checkout.session.async_payment_failed", "payment_intent.payment_failed"]

# Stripe's default tolerance for the Stripe-Signature timestamp (STRIPE_FACTS.md).
SIGNATURE_TOLERANCE_S = 300
METADATA_VALUE_LIMIT = 500


@dataclass(frozen=True)
class WebhookEndpointInfo:
    id: str
    url: str
    secret: str  # whsec_: Stripe shows it only in the create response ("" when listed)
    description: str = ""


def _plain(obj: Any) -> Any:
    """An SDK object as plain dicts and lists (webhook payloads already are)."""
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else default


def _id_of(value: Any) -> str | None:
    """An id whether Stripe sent the id or the expanded object."""
    if value is None or isinstance(value, str):
        return value
    return _get(value, "id")


def session_info(session: Any) -> SessionInfo:
    """A SessionInfo from an SDK session or a webhook event's `data.object` dict."""
    session = _plain(session)
    line_items = _get(session, "line_items")
    lines: tuple[SessionLine, ...] = ()
    if line_items is not None:
        lines = tuple(
            SessionLine(price_id=_id_of(_get(item, "price")) or "",
                        quantity=int(_get(item, "quantity") or 0),
                        amount_total=int(_get(item, "amount_total") or 0),
                        description=_get(item, "description") or "")
            for item in (_get(line_items, "data") or ()))
    metadata = _get(session, "metadata") or {}
    if not isinstance(_get(session, "id"), str) or not isinstance(metadata, Mapping) \
            or not isinstance(_get(session, "status"), str):
        raise ValueError("a checkout.session needs a string id and status")
    return SessionInfo(
        id=_get(session, "id"), url=_get(session, "url"), status=_get(session, "status"),
        payment_status=_get(session, "payment_status") or "unpaid",
        amount_total=_get(session, "amount_total"), currency=_get(session, "currency") or "",
        created=int(_get(session, "created") or 0), expires_at=_get(session, "expires_at"),
        livemode=bool(_get(session, "livemode")),
        payment_intent_id=_id_of(_get(session, "payment_intent")),
        client_reference_id=_get(session, "client_reference_id"),
        metadata={str(k): str(v) for k, v in dict(metadata).items()}, lines=lines)


def _card_of(intent: Mapping[str, Any]) -> tuple[str, str, bool | None]:
    """(brand, last4, 3-D Secure used) of the intent's latest charge, as the real API puts
    them: `latest_charge` (expanded) -> `payment_method_details.card`. An unexpanded charge
    (webhook payloads carry only its id) falls back to the card on `last_payment_error`."""
    charge = _get(intent, "latest_charge")
    card = _get(_get(charge, "payment_method_details"), "card")
    if isinstance(card, Mapping):
        secure = _get(card, "three_d_secure")
        return (str(_get(card, "brand") or ""), str(_get(card, "last4") or ""),
                isinstance(secure, Mapping))
    error_card = _get(_get(_get(intent, "last_payment_error"), "payment_method"), "card")
    if isinstance(error_card, Mapping):
        return str(_get(error_card, "brand") or ""), str(_get(error_card, "last4") or ""), None
    return "", "", None


def payment_intent_info(intent: Any) -> PaymentIntentInfo:
    """A PaymentIntentInfo from an SDK intent or a webhook event's `data.object` dict."""
    intent = _plain(intent)
    if not isinstance(_get(intent, "id"), str):
        raise ValueError("a payment_intent needs a string id")
    brand, last4, three_d_secure = _card_of(intent)
    error = _get(intent, "last_payment_error") or {}
    return PaymentIntentInfo(id=_get(intent, "id"), status=_get(intent, "status"),
                             error_code=str(_get(error, "code") or ""),
                             decline_code=str(_get(error, "decline_code") or ""),
                             error_message=str(_get(error, "message") or ""),
                             card_brand=brand, card_last4=last4,
                             three_d_secure=three_d_secure)


def session_params(attempt: CheckoutAttempt, *, success_url: str, cancel_url: str,
                   expires_at: datetime) -> SessionCreateParams:
    """The Checkout Session create parameters for one attempt (resent unchanged on resume).

    `success_url`/`cancel_url` may hold `{token}`, replaced by the attempt's return token.
    """
    token = return_token(attempt.attempt_key)
    listing_ids = ",".join(str(line.listing_id) for line in attempt.lines)
    if len(listing_ids) > METADATA_VALUE_LIMIT:
        listing_ids = listing_ids[:METADATA_VALUE_LIMIT].rsplit(",", 1)[0]
    # No payment_method_types: the endive API version removed it (dynamic methods).
    return {
        "mode": "payment",
        "line_items": [{"price": line.price_id, "quantity": line.quantity}
                       for line in attempt.lines],
        "success_url": success_url.replace("{token}", token),
        "cancel_url": cancel_url.replace("{token}", token),
        "client_reference_id": f"uhadmin-attempt-{attempt.id}",
        "metadata": {"uhadmin_attempt_id": str(attempt.id),
                     "uhadmin_attempt_key": attempt.attempt_key,
                     "tester": attempt.tester[:METADATA_VALUE_LIMIT],
                     "listing_ids": listing_ids},
        "expires_at": int(expires_at.timestamp()),
        # So a decline (payment_intent.payment_failed) can be tied to this attempt.
        "payment_intent_data": {"metadata": {
            "uhadmin_attempt_id": str(attempt.id),
            "uhadmin_attempt_key": attempt.attempt_key}},
    }


class CheckoutGateway:
    """The Checkout calls of the test lab, each one `StripeGateway.call`."""

    def __init__(self, core: StripeGateway) -> None:
        self.core = core

    @property
    def mode(self) -> str:
        """"test" or "live", from the key (known without any request)."""
        return self.core.mode

    @property
    def api_base(self) -> str | None:
        return self.core.config.api_base

    async def create_session(self, params: SessionCreateParams, *,
                             idempotency_key: str) -> SessionInfo:
        """Create a session; the caller's key makes a repeated create return the same one."""
        sent = params.copy()
        session = await self.core.call(
            "checkout.sessions.create",
            lambda client, options: client.v1.checkout.sessions.create_async(sent, options),
            idempotency_key=idempotency_key)
        return session_info(session)

    async def retrieve_session(self, session_id: str, *, line_items: bool = False,
                               ) -> SessionInfo:
        params: SessionRetrieveParams = {"expand": ["line_items"]} if line_items else {}
        session = await self.core.call(
            "checkout.sessions.retrieve",
            lambda client, options: client.v1.checkout.sessions.retrieve_async(
                session_id, params, options))
        return session_info(session)

    async def expire_session(self, session_id: str) -> SessionInfo:
        # Expiring twice is harmless (the second is refused as "not open"), so a fresh
        # random key per logical call is enough.
        session = await self.core.call(
            "checkout.sessions.expire",
            lambda client, options: client.v1.checkout.sessions.expire_async(
                session_id, {}, options))
        return session_info(session)

    async def list_sessions(self, *, status: str | None = None, limit: int = 100,
                            created_after: int | None = None) -> list[SessionInfo]:
        """One page of sessions, newest first (at most 100)."""
        params: SessionListParams = {"limit": max(1, min(limit, 100))}
        if status:
            params["status"] = status
        if created_after is not None:
            params["created"] = {"gt": created_after}
        page = await self.core.call(
            "checkout.sessions.list",
            lambda client, options: client.v1.checkout.sessions.list_async(params, options))
        return [session_info(item) for item in page.data]

    async def retrieve_payment_intent(self, intent_id: str) -> PaymentIntentInfo:
        """The intent with its latest charge expanded (the card used lives there)."""
        intent = await self.core.call(
            "payment_intents.retrieve",
            lambda client, options: client.v1.payment_intents.retrieve_async(
                intent_id, {"expand": ["latest_charge"]}, options))
        return payment_intent_info(intent)

    async def list_events(self, *, types: Sequence[str] = (), created_after: int | None = None,
                          limit: int = 100) -> list[dict[str, Any]]:
        """One page of events (newest first) as plain dicts, the webhook payload's shape."""
        params: EventListParams = {"limit": max(1, min(limit, 100))}
        if types:
            params["types"] = list(types)
        if created_after is not None:
            params["created"] = {"gt": created_after}
        page = await self.core.call(
            "events.list",
            lambda client, options: client.v1.events.list_async(params, options))
        return [event.to_dict() for event in page.data]

    async def create_webhook_endpoint(self, url: str, events: Sequence[LabEvent], *,
                                      description: str = "") -> WebhookEndpointInfo:
        params: WebhookEndpointCreateParams = {"url": url, "enabled_events": list(events)}
        if description:
            params["description"] = description
        endpoint = await self.core.call(
            "webhook_endpoints.create",
            lambda client, options: client.v1.webhook_endpoints.create_async(params, options))
        # The SDK types `secret` optional: Stripe sends it in the create response only.
        return WebhookEndpointInfo(id=endpoint.id, url=endpoint.url, secret=endpoint.secret or "",
                                   description=description)

    async def list_webhook_endpoints(self) -> list[WebhookEndpointInfo]:
        """The account's webhook endpoints (first 100; the secret is never listed)."""
        page = await self.core.call(
            "webhook_endpoints.list",
            lambda client, options: client.v1.webhook_endpoints.list_async({"limit": 100},
                                                                           options))
        return [WebhookEndpointInfo(id=item.id, url=item.url, secret="",
                                    description=getattr(item, "description", None) or "")
                for item in page.data]

    async def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        await self.core.call(
            "webhook_endpoints.delete",
            lambda client, options: client.v1.webhook_endpoints.delete_async(
                endpoint_id, {}, options))


def _signed_at(signature_header: str) -> int | None:
    for part in signature_header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            return int(value) if value.isdigit() else None
    return None


def verify_webhook(payload: bytes, signature_header: str, secrets: Sequence[str], *,
                   tolerance: int = SIGNATURE_TOLERANCE_S,
                   now: float | None = None) -> dict[str, Any]:
    """The event as a dict when `signature_header` signs `payload` with one of `secrets`
    and was made at most `tolerance` seconds before or after now; ValueError saying why
    otherwise.

    Uses the SDK's own verification (constant-time compare, age check). The SDK accepts
    any timestamp in the future, so a signature dated years ahead (replayable until then)
    is refused here first.
    """
    signed_at = _signed_at(signature_header)
    if signed_at is None:
        raise ValueError("Stripe-Signature has no valid timestamp (t=...)")
    ahead = signed_at - (time.time() if now is None else now)
    if ahead > tolerance:
        raise ValueError(f"Stripe-Signature timestamp is {int(ahead)} s in the future, "
                         f"outside the tolerance of {tolerance} s")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the webhook body is not UTF-8 text") from None
    reasons = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
        except (stripe.SignatureVerificationError, ValueError) as error:
            reasons.append(str(error).split(".")[0])
            continue
        try:
            event = json.loads(text)
        except ValueError:
            raise ValueError("the webhook body is not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) \
                or not isinstance(event.get("type"), str):
            raise ValueError("the webhook body is not a Stripe event (id and type strings)")
        return event
    reason = reasons[-1] if reasons else "no secret"
    raise ValueError(f"Stripe-Signature does not verify ({reason})")


__all__ = ["CheckoutGateway", "PaymentIntentInfo", "SessionInfo", "SessionLine",
           "WebhookEndpointInfo", "payment_intent_info", "session_info", "session_params",
           "verify_webhook"]
