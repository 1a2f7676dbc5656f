"""Frozen value objects of the checkout test lab: attempts, their lines, outcomes, test cards."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from uhadmin.errors import ValidationError

# Stripe's limits on a Checkout Session's `expires_at` (STRIPE_FACTS.md), and the lab's
# default: short, so abandoned test sessions clear quickly.
MIN_EXPIRY = timedelta(minutes=30)
MAX_EXPIRY = timedelta(hours=24)
DEFAULT_EXPIRY = MIN_EXPIRY


def describe_duration(value: timedelta) -> str:
    """"30 min", "2 h": how the lab shows a session lifetime."""
    minutes = int(value.total_seconds() // 60)
    if minutes % 60 == 0 and minutes:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def parse_duration(text: str, *, field: str = "expires_in") -> timedelta:
    """"30m", "90 min", "2h", "1h30m", "24h" -> timedelta; ValidationError naming `field`."""
    cleaned = text.strip().lower().replace(" ", "")
    found = re.fullmatch(r"(?:(\d+)h(?:ours?)?)?(?:(\d+)m(?:in(?:utes?)?)?)?", cleaned)
    if not cleaned or not found or not any(found.groups()):
        raise ValidationError.single(field, f"expected a duration like 30m, 2h or 1h30m "
                                            f"(got {text!r})")
    hours, minutes = (int(part) if part else 0 for part in found.groups())
    return timedelta(hours=hours, minutes=minutes)


class Outcome(StrEnum):
    """What became of one attempt to pay, as the tester sees it."""

    OPEN = "open"  # the session waits for the buyer (or is still being created)
    PAID = "paid"  # Stripe says complete + paid
    DECLINED = "declined"  # the last card was declined; the session is still open
    CANCELED = "canceled"  # the buyer came back through the cancel page
    EXPIRED = "expired"  # the session expired (or was expired) before anyone paid

    @property
    def is_final(self) -> bool:
        """True once the buyer has finished with the session (a decline may still be retried)."""
        return self in (Outcome.PAID, Outcome.CANCELED, Outcome.EXPIRED)


def decide_outcome(*, status: str, payment_status: str, previous: Outcome,
                   has_decline: bool) -> Outcome:
    """The outcome from Stripe's session status, payment status and the payment intent.

    Stripe is the truth for money: a paid session is `paid` whatever we recorded before.
    Otherwise "the buyer pressed Back" is something only we know, so `canceled` sticks even
    when the session later expires or is refreshed as still open.
    """
    if status == "complete" and payment_status in ("paid", "no_payment_required"):
        return Outcome.PAID
    if previous is Outcome.CANCELED:
        return Outcome.CANCELED
    if status == "expired":
        return Outcome.EXPIRED
    if has_decline:
        return Outcome.DECLINED
    return Outcome.OPEN


@dataclass(frozen=True)
class CheckoutLine:
    """One line of an attempt: which listing, at which Stripe price, how many."""

    listing_id: int
    quantity: int
    title: str = ""
    price_id: str = ""
    unit_amount: int = 0  # minor units of the attempt's currency, as sold
    currency: str = "usd"

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


@dataclass(frozen=True)
class CheckoutAttempt:
    """One Checkout Session a tester created, and what became of it (survives restarts)."""

    id: int
    attempt_key: str
    session_id: str | None  # None while the create call has not answered yet
    url: str | None  # the hosted page; Stripe drops it once the session is not open
    lines: tuple[CheckoutLine, ...]
    amount_total: int | None
    currency: str
    tester: str
    livemode: bool
    created_at: datetime
    expires_at: datetime | None
    status: str  # Stripe's: "creating" (ours, before the answer) | open | complete | expired
    payment_status: str  # Stripe's: unpaid | paid | no_payment_required
    outcome: Outcome
    decline_code: str = ""  # e.g. "generic_decline", kept after the buyer cancels
    decline_message: str = ""
    payment_intent_id: str | None = None
    updated_at: datetime | None = None
    card_brand: str = ""  # of the last card tried: "visa", "mastercard", ...
    card_last4: str = ""
    three_d_secure: bool | None = None  # None: no card charged yet, so unknown

    @property
    def listing_ids(self) -> tuple[int, ...]:
        return tuple(line.listing_id for line in self.lines)


@dataclass(frozen=True)
class TestCard:
    """A Stripe test card and what paying with it does (resources/test_cards.json)."""

    __test__ = False  # a value type, not a pytest test class

    number: str  # grouped for display, e.g. "4242 4242 4242 4242"
    brand: str
    outcome: str  # "success" | "declined" | "incorrect_number" | "3ds_success" | "3ds_always"
    decline_code: str = ""
    description: str = ""

    @property
    def digits(self) -> str:
        return self.number.replace(" ", "")
