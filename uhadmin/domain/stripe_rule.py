"""The one rule that decides whether a listing, or a change to it, concerns Stripe."""

from __future__ import annotations

from uhadmin.domain.listing import ListingStatus

# Only these statuses are active products in Stripe; every other status is either
# archived there (if it was ever published) or absent.
STATUSES_STRIPE_HOLDS: frozenset[str] = frozenset({ListingStatus.APPROVED.value})


def stripe_holds(status: str, *, published: bool) -> bool:
    """Whether Stripe should hold anything for a listing in `status`: it is approved now,
    or it was published once (then Stripe keeps its product, archived or not)."""
    return str(status) in STATUSES_STRIPE_HOLDS or published


def stripe_needs_change(status_before: str, status_after: str, *, published: bool,
                        stripe_matches: bool = False) -> bool:
    """Whether a write that moves a listing from `status_before` to `status_after` must be
    pushed: Stripe holds the listing before or after it, and does not already hold exactly
    the result (`stripe_matches`, e.g. values just copied from Stripe). A draft edited as a
    draft, or a review rejected before it was ever approved, costs Stripe nothing."""
    if stripe_matches:
        return False
    return (stripe_holds(status_before, published=published)
            or stripe_holds(status_after, published=published))
