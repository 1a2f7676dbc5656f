"""The checkout test lab: sessions for listings, their outcomes, webhooks and waiting."""

from uhadmin.domain.checkout_rules import apply_decline, apply_session
from uhadmin.services.checkout.cards import load_test_cards
from uhadmin.services.checkout.returns import ReturnResult
from uhadmin.services.checkout.service import CheckoutService
from uhadmin.services.checkout.waiting import WaitResult
from uhadmin.services.checkout.webhooks import HANDLED_EVENTS, MalformedEventError

__all__ = ["HANDLED_EVENTS", "CheckoutService", "MalformedEventError", "ReturnResult",
           "WaitResult", "apply_decline", "apply_session", "load_test_cards"]
