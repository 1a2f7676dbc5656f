"""Checkout Sessions, Payment Intents, events and webhook signatures over the gateway core.

Every request goes through `StripeGateway.call` (rate limit, retries with the same
idempotency key, error mapping, livemode guard); this module only shapes parameters and turns
the SDK's objects into plain frozen values, so the rest of the services never see `stripe`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import stripe

from uhadmin.services.stripe_gateway.client import StripeGateway

# Stripe's default tolerance for the Stripe-Signature timestamp (STRIPE_FACTS.md).
SIGNATURE_TOLERANCE_S = 300


@dataclass(frozen=True)
class SessionLine:
    """One line item as Stripe holds it."""

    price_id: str
    quantity: int
    amount_total: int
    description: str = ""


@dataclass(frozen=True)
class SessionInfo:
    """The parts of a Checkout Session the checkout lab records."""

    id: str
    url: str | None
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    amount_total: int | None
    currency: str
    created: int
    expires_at: int | None
    livemode: bool
    payment_intent_id: str | None = None
    client_reference_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    lines: tuple[SessionLine, ...] = ()


@dataclass(frozen=True)
class PaymentIntentInfo:
    """A payment intent's status and its last payment error (the decline), if any."""

    id: str
    status: str
    error_code: str = ""  # e.g. card_declined, payment_intent_authentication_failure
    decline_code: str = ""  # e.g. generic_decline, insufficient_funds
    error_message: str = ""

    @property
    def declined(self) -> bool:
        return bool(self.error_code or self.decline_code or self.error_message)

    @property
    def reason_code(self) -> str:
        """The most specific code: the decline code when Stripe gives one."""
        return self.decline_code or self.error_code


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
    return SessionInfo(
        id=_get(session, "id"), url=_get(session, "url"), status=_get(session, "status"),
        payment_status=_get(session, "payment_status") or "unpaid",
        amount_total=_get(session, "amount_total"), currency=_get(session, "currency") or "",
        created=int(_get(session, "created") or 0), expires_at=_get(session, "expires_at"),
        livemode=bool(_get(session, "livemode")),
        payment_intent_id=_id_of(_get(session, "payment_intent")),
        client_reference_id=_get(session, "client_reference_id"),
        metadata={str(k): str(v) for k, v in dict(metadata).items()}, lines=lines)


def payment_intent_info(intent: Any) -> PaymentIntentInfo:
    intent = _plain(intent)
    error = _get(intent, "last_payment_error")
    if not error:
        return PaymentIntentInfo(id=_get(intent, "id"), status=_get(intent, "status"))
    return PaymentIntentInfo(id=_get(intent, "id"), status=_get(intent, "status"),
                             error_code=_get(error, "code") or "",
                             decline_code=_get(error, "decline_code") or "",
                             error_message=_get(error, "message") or "")


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

    async def create_session(self, params: Mapping[str, Any], *,
                             idempotency_key: str) -> SessionInfo:
        """Create a session; the caller's key makes a repeated create return the same one."""
        sent = dict(params)
        session = await self.core.call(
            "checkout.sessions.create",
            lambda client, options: client.v1.checkout.sessions.create_async(sent, options),
            idempotency_key=idempotency_key)
        return session_info(session)

    async def retrieve_session(self, session_id: str, *, line_items: bool = False,
                               ) -> SessionInfo:
        params = {"expand": ["line_items"]} if line_items else {}
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
        params: dict[str, Any] = {"limit": max(1, min(limit, 100))}
        if status:
            params["status"] = status
        if created_after is not None:
            params["created"] = {"gt": created_after}
        page = await self.core.call(
            "checkout.sessions.list",
            lambda client, options: client.v1.checkout.sessions.list_async(params, options))
        return [session_info(item) for item in page.data]

    async def retrieve_payment_intent(self, intent_id: str) -> PaymentIntentInfo:
        intent = await self.core.call(
            "payment_intents.retrieve",
            lambda client, options: client.v1.payment_intents.retrieve_async(
                intent_id, {}, options))
        return payment_intent_info(intent)

    async def list_events(self, *, types: Sequence[str] = (), created_after: int | None = None,
                          limit: int = 100) -> list[dict[str, Any]]:
        """One page of events (newest first) as plain dicts, the webhook payload's shape."""
        params: dict[str, Any] = {"limit": max(1, min(limit, 100))}
        if types:
            params["types"] = list(types)
        if created_after is not None:
            params["created"] = {"gt": created_after}
        page = await self.core.call(
            "events.list",
            lambda client, options: client.v1.events.list_async(params, options))
        return [event.to_dict() for event in page.data]

    async def create_webhook_endpoint(self, url: str, events: Sequence[str], *,
                                      description: str = "") -> WebhookEndpointInfo:
        params: dict[str, Any] = {"url": url, "enabled_events": list(events)}
        if description:
            params["description"] = description
        endpoint = await self.core.call(
            "webhook_endpoints.create",
            lambda client, options: client.v1.webhook_endpoints.create_async(params, options))
        return WebhookEndpointInfo(id=endpoint.id, url=endpoint.url, secret=endpoint.secret,
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


def verify_webhook(payload: bytes, signature_header: str, secrets: Sequence[str], *,
                   tolerance: int = SIGNATURE_TOLERANCE_S) -> dict[str, Any]:
    """The event as a dict when `signature_header` signs `payload` with one of `secrets`
    and is at most `tolerance` seconds old; ValueError saying why otherwise.

    Uses the SDK's own verification (constant-time compare, tolerance check).
    """
    text = payload.decode("utf-8", "replace")
    reasons = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
        except stripe.SignatureVerificationError as error:
            reasons.append(str(error).split(".")[0])
            continue
        try:
            event = json.loads(text)
        except ValueError:
            raise ValueError("the webhook body is not JSON") from None
        if not isinstance(event, dict) or "id" not in event or "type" not in event:
            raise ValueError("the webhook body is not a Stripe event")
        return event
    reason = reasons[-1] if reasons else "no secret"
    raise ValueError(f"Stripe-Signature does not verify ({reason})")


__all__ = ["CheckoutGateway", "PaymentIntentInfo", "SessionInfo", "SessionLine",
           "WebhookEndpointInfo", "payment_intent_info", "session_info", "verify_webhook"]
