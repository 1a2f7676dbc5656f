"""Verified Stripe webhook events -> checkout attempt changes: one small handler per event type.

A handler reads its event's `data.object` and says which attempt it is about and which pure
rule applies; the store does the rest in one transaction (dedupe on event id included).
A handled event type whose object has the wrong shape is a MalformedEventError (the
receiver answers 400: Stripe would never send it, so retrying cannot help).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeGuard

from uhadmin.domain.checkout_rules import PaymentIntentInfo, apply_decline, apply_session
from uhadmin.errors import UhadminError
from uhadmin.services.checkout.store import AttemptStore, EventTarget, Rule
from uhadmin.services.stripe_gateway.checkout import LabEvent, payment_intent_info, session_info

log = logging.getLogger(__name__)


class MalformedEventError(UhadminError):
    """A signed event whose body is not what its type promises; nothing was recorded."""


# (data.object, its payment intent read from Stripe when the object names one) -> which
# attempt, and the rule to apply to it.
Handler = Callable[[Mapping[str, Any], PaymentIntentInfo | None], tuple[EventTarget, Rule]]
IntentReader = Callable[[str], Awaitable[PaymentIntentInfo]]


def _session_handler(*, async_failure: bool = False) -> Handler:
    def handle(obj: Mapping[str, Any],
               intent: PaymentIntentInfo | None) -> tuple[EventTarget, Rule]:
        if obj.get("object") != "checkout.session":
            raise MalformedEventError("expected a checkout.session in data.object")
        info = session_info(obj)
        return ("session", info.id), functools.partial(apply_session, info=info, intent=intent,
                                                        async_failure=async_failure)
    return handle


def _decline(obj: Mapping[str, Any],
             _intent: PaymentIntentInfo | None) -> tuple[EventTarget, Rule]:
    """A declined card leaves the session open and sends no session event; the intent
    carries our attempt in its metadata (set by session_params)."""
    if obj.get("object") != "payment_intent":
        raise MalformedEventError("expected a payment_intent in data.object")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise MalformedEventError("payment_intent.metadata must be an object")
    intent = payment_intent_info(obj)
    target = ("intent", str(metadata.get("uhadmin_attempt_id", "")),
              str(metadata.get("uhadmin_attempt_key", "")))
    return target, lambda attempt: apply_decline(attempt, intent)


HANDLERS: dict[LabEvent, Handler] = {
    "checkout.session.completed": _session_handler(),
    "checkout.session.expired": _session_handler(),
    "checkout.session.async_payment_succeeded": _session_handler(),
    "checkout.session.async_payment_failed": _session_handler(async_failure=True),
    "payment_intent.payment_failed": _decline,
}
HANDLED_EVENTS = tuple(HANDLERS)


def _handled(event_type: str) -> TypeGuard[LabEvent]:
    return event_type in HANDLERS


async def record_webhook_event(store: AttemptStore, event: Mapping[str, Any], *,
                               read_intent: IntentReader | None = None) -> str:
    """Apply one verified event, once: "processed", "duplicate" or "ignored".

    A session event does not carry its payment intent, where the card used lives; with
    `read_intent` it is read first (best effort), so the change and its audit row are one.
    """
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise MalformedEventError("an event needs a string id and type")
    target = rule = None
    handler = HANDLERS[event_type] if _handled(event_type) else None
    if handler is not None:
        data = event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(obj, Mapping):
            raise MalformedEventError(f"{event_type}: data.object must be an object")
        intent = await _intent_of(obj, read_intent)
        try:
            target, rule = handler(obj, intent)
        except (TypeError, ValueError, AttributeError) as error:
            raise MalformedEventError(f"{event_type}: {error}") from None
    return await store.apply_event(event_id=event_id[:255], event_type=event_type,
                                   target=target, rule=rule)



async def _intent_of(obj: Mapping[str, Any],
                     read_intent: IntentReader | None) -> PaymentIntentInfo | None:
    intent_id = obj.get("payment_intent")
    if read_intent is None or obj.get("object") != "checkout.session" \
            or not isinstance(intent_id, str) or not intent_id:
        return None
    try:
        return await read_intent(intent_id)
    except UhadminError as error:  # the outcome still counts; the card shows on a refresh
        log.info("payment intent %s not read: %s", intent_id, error)
        return None
