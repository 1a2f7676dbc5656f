"""Refused pushes: how long until the next try, and which failures name their own way out."""

from __future__ import annotations

import re
from datetime import timedelta

# A refusal is retried after 1, 2, 4 … minutes, never more than 6 hours apart: a cause that
# clears by itself (a lock, a brief outage) is retried soon, a lasting one stops costing
# a Stripe call and a history entry every minute.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
# A listing that breaks a rule is never sent; only an edit (which lifts the hold) can fix it.
UNTIL_EDITED = timedelta(days=36500)

NEEDS_FIXING = "needs fixing, not sent to Stripe: "
_DELETED = re.compile(r"^product (\S+) was deleted in Stripe")


def retry_after(attempts: int) -> timedelta:
    """How long a change refused `attempts` times in a row waits before the next try."""
    doublings = max(attempts, 1) - 1
    if doublings >= 16:  # 2**16 minutes is past the cap already; spare the big number
        return LONGEST_RETRY
    return min(FIRST_RETRY * (2 ** doublings), LONGEST_RETRY)


def hold_after_failure(error: str, attempts: int) -> timedelta:
    """How long a failed change stays unclaimed: invalid rows until edited, others back off."""
    return UNTIL_EDITED if needs_fixing(error) else retry_after(attempts)


def needs_fixing(error: str) -> bool:
    """Whether a sync error says the listing breaks a rule (nothing was sent to Stripe)."""
    return error.startswith(NEEDS_FIXING)


def product_deleted_error(product_id: str) -> str:
    """The sync error of a listing whose Stripe product no longer exists."""
    return (f"product {product_id} was deleted in Stripe (e.g. in the Dashboard): "
            "re-create it, link the listing to another product, or unlink it")


def deleted_product_of(error: str) -> str | None:
    """The product id a sync error says was deleted in Stripe, else None."""
    found = _DELETED.match(error or "")
    return found.group(1) if found else None
