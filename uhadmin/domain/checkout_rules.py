"""Pure checkout outcome rules: what an attempt becomes after Stripe (or the buyer) says something.

Every path (the success and cancel pages, each webhook, a refresh, the waiting CLI's poll)
goes through these functions, so they all agree; the store applies them inside one database
transaction, and a result equal to the input means "nothing to write, nothing to announce".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from uhadmin.domain.checkout import CheckoutAttempt, Outcome, decide_outcome
from uhadmin.errors import ValidationError

_STATUS_RANK = {"creating": 0, "open": 1, "complete": 2, "expired": 2}
_RETURN_TOKEN_LABEL = b"uhadmin checkout return page"
STRIPE_CHECKOUT_HOST = "checkout.stripe.com"


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
    """A payment intent's status, its last payment error, and the card its charge used."""

    id: str
    status: str
    error_code: str = ""  # e.g. card_declined, payment_intent_authentication_failure
    decline_code: str = ""  # e.g. generic_decline, insufficient_funds
    error_message: str = ""
    card_brand: str = ""  # latest_charge.payment_method_details.card.brand
    card_last4: str = ""
    three_d_secure: bool | None = None  # None when no charge says either way

    @property
    def declined(self) -> bool:
        return bool(self.error_code or self.decline_code or self.error_message)

    @property
    def reason_code(self) -> str:
        """The most specific code: the decline code when Stripe gives one."""
        return self.decline_code or self.error_code


def return_token(attempt_key: str) -> str:
    """The unguessable token of an attempt's success and cancel links.

    Derived from the attempt's random key (128 bits, never shown in a URL), so it needs no
    column of its own and a resumed create sends exactly the same links.
    """
    return hmac.new(attempt_key.encode(), _RETURN_TOKEN_LABEL, hashlib.sha256).hexdigest()[:32]


def token_matches(attempt: CheckoutAttempt, token: str | None) -> bool:
    """Whether `token` is this attempt's return token (constant-time comparison)."""
    return bool(token) and hmac.compare_digest(return_token(attempt.attempt_key),
                                               str(token))


def _from_unix(stamp: int | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


def _with_card(attempt: CheckoutAttempt, intent: PaymentIntentInfo | None) -> CheckoutAttempt:
    """Card details replace the old ones only when the intent actually names a card."""
    if intent is None or not (intent.card_brand or intent.card_last4):
        return attempt
    three_d_secure = intent.three_d_secure if intent.three_d_secure is not None \
        else attempt.three_d_secure
    return replace(attempt, card_brand=intent.card_brand, card_last4=intent.card_last4,
                   three_d_secure=three_d_secure)


def apply_session(attempt: CheckoutAttempt, info: SessionInfo,
                  intent: PaymentIntentInfo | None = None, *, canceled: bool = False,
                  async_failure: bool = False) -> CheckoutAttempt:
    """The attempt after Stripe said `info` (and `intent`).

    Status never moves backwards (a late "open" copy cannot undo "complete"); a decline
    reason is kept until a newer one replaces it, even after the buyer cancels or pays.
    Applying the same news twice gives the same attempt (so the second writes nothing).
    """
    status = info.status
    if _STATUS_RANK.get(status, 1) < _STATUS_RANK.get(attempt.status, 0):
        status = attempt.status
    decline_code, decline_message = attempt.decline_code, attempt.decline_message
    if intent is not None and intent.declined:
        decline_code, decline_message = intent.reason_code, intent.error_message
    if async_failure:
        decline_code = "async_payment_failed"
        decline_message = "The delayed payment method failed after checkout completed."
    payment_status = info.payment_status
    if attempt.payment_status == "paid" and payment_status != "paid":
        payment_status = "paid"
    # Back after the session ended (expired, paid) changes nothing: only an open one cancels.
    previous = Outcome.CANCELED if canceled and not attempt.outcome.is_final \
        else attempt.outcome
    has_decline = (intent is not None and intent.declined) or async_failure
    outcome = decide_outcome(status=status, payment_status=payment_status, previous=previous,
                             has_decline=has_decline)
    if outcome is Outcome.OPEN and attempt.outcome is Outcome.DECLINED \
            and info.status == "open":
        outcome = Outcome.DECLINED  # a later read without the intent does not forget it
    updated = replace(
        attempt, session_id=info.id, url=info.url if status == "open" else None,
        amount_total=info.amount_total if info.amount_total is not None
        else attempt.amount_total, livemode=info.livemode,
        expires_at=_from_unix(info.expires_at) or attempt.expires_at, status=status,
        payment_status=payment_status, outcome=outcome, decline_code=decline_code,
        decline_message=decline_message,
        payment_intent_id=info.payment_intent_id or attempt.payment_intent_id)
    return _with_card(updated, intent)


def apply_decline(attempt: CheckoutAttempt, intent: PaymentIntentInfo) -> CheckoutAttempt:
    """The attempt after Stripe said its payment failed (the session stays open)."""
    if not intent.declined:
        return attempt
    outcome = Outcome.DECLINED if attempt.outcome in (Outcome.OPEN, Outcome.DECLINED) \
        else attempt.outcome
    updated = replace(attempt, outcome=outcome, decline_code=intent.reason_code,
                      decline_message=intent.error_message,
                      payment_intent_id=attempt.payment_intent_id or intent.id)
    return _with_card(updated, intent)


def apply_cancel(attempt: CheckoutAttempt) -> CheckoutAttempt:
    """The buyer pressed Back and Stripe could not be asked: canceled, unless already final."""
    if attempt.outcome in (Outcome.OPEN, Outcome.DECLINED):
        return replace(attempt, outcome=Outcome.CANCELED)
    return attempt


def apply_unanswered_expiry(attempt: CheckoutAttempt, now: datetime) -> CheckoutAttempt:
    """A create that never got an answer: past its expiry no session can still be open."""
    if attempt.session_id is None and attempt.expires_at is not None \
            and attempt.expires_at <= now and attempt.outcome is Outcome.OPEN:
        return replace(attempt, status="expired", outcome=Outcome.EXPIRED)
    return attempt


def recorded_fields(attempt: CheckoutAttempt) -> dict[str, object]:
    """What Stripe's news may change on a stored attempt (the rest is fixed at creation)."""
    return {"session_id": attempt.session_id, "url": attempt.url,
            "amount_total": attempt.amount_total, "livemode": attempt.livemode,
            "expires_at": attempt.expires_at, "status": attempt.status,
            "payment_status": attempt.payment_status, "outcome": str(attempt.outcome),
            "decline_code": attempt.decline_code, "decline_message": attempt.decline_message,
            "payment_intent_id": attempt.payment_intent_id, "card_brand": attempt.card_brand,
            "card_last4": attempt.card_last4, "three_d_secure": attempt.three_d_secure}


def audit_details(before: CheckoutAttempt, after: CheckoutAttempt,
                  source: str) -> dict[str, object] | None:
    """The audit entry for an outcome change, or None when the outcome did not change."""
    if before.outcome is after.outcome:
        return None
    return {"from": str(before.outcome), "to": str(after.outcome), "source": source,
            "session_id": after.session_id, "decline_code": after.decline_code or None}


def check_checkout_url(url: str, *, sandbox_base: str | None) -> None:
    """Refuse (ValidationError on `url`) anything but a Stripe Checkout page, or with the
    offline sandbox at `sandbox_base`, that sandbox's own /c/pay/ pages."""
    parts = urlsplit(url or "")
    if parts.scheme == "https" and parts.hostname == STRIPE_CHECKOUT_HOST \
            and not parts.username and parts.port in (None, 443):
        return
    if sandbox_base:
        sandbox = urlsplit(sandbox_base)
        if (parts.scheme, parts.hostname, parts.port) == (
                sandbox.scheme, sandbox.hostname, sandbox.port) \
                and parts.path.startswith("/c/pay/"):
            return
    allowed = f"https://{STRIPE_CHECKOUT_HOST}/…"
    if sandbox_base:
        allowed += f" or the offline sandbox's {sandbox_base}/c/pay/…"
    raise ValidationError.single(
        "url", f"refusing to open {url!r}: only Stripe Checkout pages ({allowed}) are opened")
