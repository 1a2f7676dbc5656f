"""What a tester asks to sell, checked: listing ids and quantities, lifetime, sellable listings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from uhadmin.domain.checkout import MAX_EXPIRY, MIN_EXPIRY, CheckoutLine, describe_duration
from uhadmin.domain.listing import Listing, ListingStatus, SyncState
from uhadmin.errors import (
    FieldProblem,
    NotFoundError,
    StripeRefusedError,
    StripeUnavailableError,
    UhadminError,
    ValidationError,
)
from uhadmin.services.listings import ListingService

MAX_LINES = 100  # Stripe's limit on line items per session
LineRequest = tuple[int, int]  # (listing id, quantity)


def validate_request(lines: Sequence[LineRequest] | Mapping[int, int],
                     expires_in: timedelta) -> dict[int, int]:
    """{listing id: total quantity}; ValidationError naming each bad field."""
    pairs = list(lines.items()) if isinstance(lines, Mapping) else list(lines)
    problems: list[FieldProblem] = []
    wanted: dict[int, int] = {}
    if not pairs:
        problems.append(FieldProblem("lines", "choose at least one listing"))
    for pair in pairs:
        try:
            listing_id, quantity = pair
        except (TypeError, ValueError):
            problems.append(FieldProblem("lines", f"expected (listing id, quantity), "
                                                  f"got {pair!r}"))
            continue
        if not isinstance(listing_id, int) or isinstance(listing_id, bool) or listing_id < 1:
            problems.append(FieldProblem("lines", f"{listing_id!r} is not a listing id"))
            continue
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            problems.append(FieldProblem(
                "quantity", f"listing {listing_id}: quantity must be a whole number of "
                            f"at least 1 (got {quantity!r})"))
            continue
        wanted[listing_id] = wanted.get(listing_id, 0) + quantity
    if len(wanted) > MAX_LINES:
        problems.append(FieldProblem("lines", f"at most {MAX_LINES} listings per session "
                                              f"(got {len(wanted)})"))
    if not isinstance(expires_in, timedelta) or not MIN_EXPIRY <= expires_in <= MAX_EXPIRY:
        shown = describe_duration(expires_in) if isinstance(expires_in, timedelta) \
            else repr(expires_in)
        problems.append(FieldProblem(
            "expires_in", f"must be between 30 minutes and 24 hours (got {shown})"))
    if problems:
        raise ValidationError(problems)
    return wanted


def in_stripe(listing: Listing) -> bool:
    """Sold at the price the database says: pushed, and nothing newer waiting."""
    return bool(listing.stripe_price_id) and listing.sync_state is SyncState.SYNCED


async def sellable_lines(listings: ListingService, sync: Any | None,
                         wanted: dict[int, int]) -> tuple[CheckoutLine, ...]:
    """The lines to sell, after publishing listings not in Stripe yet (or refusing them)."""
    found: list[Listing] = []
    problems: list[FieldProblem] = []
    for listing_id in wanted:
        try:
            found.append(await listings.get(listing_id))
        except NotFoundError:
            problems.append(FieldProblem("lines", f"listing {listing_id} does not exist"))
    for listing in found:
        if listing.status is not ListingStatus.APPROVED:
            problems.append(FieldProblem(
                "lines", f"listing {listing.id} “{listing.title}” is {listing.status}: only "
                         "approved (published) listings can be sold"))
    currencies = {listing.currency for listing in found}
    if len(currencies) > 1:
        problems.append(FieldProblem(
            "lines", "one session sells in one currency (got "
                     f"{', '.join(sorted(c.upper() for c in currencies))})"))
    if problems:
        raise ValidationError(problems)
    missing = [listing for listing in found if not in_stripe(listing)]
    if missing:
        failures = await _publish_missing(sync, missing)
        found = [await listings.get(listing.id) for listing in found]
        still = [listing for listing in found if not in_stripe(listing)]
        if still:
            raise UhadminError("; ".join(
                f"listing {listing.id} “{listing.title}” could not be published to Stripe"
                + (f" ({why})" if (why := failures.get(listing.id) or listing.sync_error)
                   else "")
                for listing in still))
    return tuple(CheckoutLine(listing_id=listing.id, quantity=wanted[listing.id],
                              title=listing.title, price_id=listing.stripe_price_id or "",
                              unit_amount=listing.price_minor, currency=listing.currency)
                 for listing in found)


async def _publish_missing(sync: Any | None, missing: Sequence[Listing]) -> Mapping[int, str]:
    """Run the sync so these listings reach Stripe; returns why any of them failed."""
    names = ", ".join(f"listing {listing.id} “{listing.title}” ({listing.sync_state})"
                      for listing in missing)
    if sync is None:
        raise UhadminError(f"not in Stripe yet: {names}. Publish first "
                           "(`uhadmin sync`, or Sync in the app), then try again")
    # The sync drains the whole outbox (the resume point of every push); the listings
    # asked for are in it, so one run publishes them along with anything else queued.
    report = await sync.run()
    if getattr(report, "offline", False):
        raise StripeUnavailableError(f"Stripe could not be reached to publish {names}; "
                                     "the change stays queued")
    return dict(getattr(report, "failures", {}) or {})


def explain_refusal(refused: StripeRefusedError,
                    lines: Sequence[CheckoutLine]) -> StripeRefusedError:
    """Name the listing when Stripe's complaint is about one line item."""
    found = re.match(r"line_items\[(\d+)\]", refused.param or "")
    if not found or int(found.group(1)) >= len(lines):
        return refused
    line = lines[int(found.group(1))]
    return StripeRefusedError(f"listing {line.listing_id} “{line.title}”: {refused}",
                              code=refused.code, param=refused.param,
                              http_status=refused.http_status)
