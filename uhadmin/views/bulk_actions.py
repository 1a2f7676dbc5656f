"""The Listings tab's bulk status actions: what each moves, how it is worded, when it confirms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from uhadmin.domain import Listing, ListingStatus
from uhadmin.domain.bulk import BulkOutcome, skip_summary
from uhadmin.views.listing_table import STATUS_LABELS


@dataclass(frozen=True)
class BulkKind:
    """One bulk action: the status it acts on, the status it sets, and its words."""

    key: str
    source: ListingStatus
    target: ListingStatus
    imperative: str  # "Archive"
    progressive: str  # "Archiving"
    past: str  # "Archived"
    tail: str = ""  # " to draft": "Returned 3 listings to draft"
    destructive: bool = False  # takes listings off sale or out of review: confirm a batch


BULK_KINDS: dict[str, BulkKind] = {kind.key: kind for kind in (
    BulkKind("submit", ListingStatus.DRAFT, ListingStatus.PENDING_REVIEW, "Submit",
             "Submitting", "Submitted", " for review"),
    BulkKind("approve", ListingStatus.PENDING_REVIEW, ListingStatus.APPROVED, "Approve",
             "Approving", "Approved"),
    BulkKind("reject", ListingStatus.PENDING_REVIEW, ListingStatus.REJECTED, "Reject",
             "Rejecting", "Rejected", destructive=True),
    BulkKind("archive", ListingStatus.APPROVED, ListingStatus.ARCHIVED, "Archive",
             "Archiving", "Archived", destructive=True),
    BulkKind("relist", ListingStatus.ARCHIVED, ListingStatus.APPROVED, "Relist",
             "Relisting", "Relisted"),
    BulkKind("draft", ListingStatus.REJECTED, ListingStatus.DRAFT, "Return",
             "Returning", "Returned", " to draft"),
)}


def listings_noun(count: int) -> str:
    return f"{count:,} listing" if count == 1 else f"{count:,} listings"


def eligible(kind: BulkKind, selected: Sequence[Listing]) -> list[Listing]:
    """The selected listings this action can move (the rest stay as they are)."""
    return [x for x in selected if x.status == kind.source]


def confirmation_text(kind: BulkKind, acting: int, selected: int) -> str | None:
    """The question to ask before acting, or None when one focused row needs none.

    Destructive actions over more than one listing confirm with the count, and so does any
    action over a mixed selection, saying how many stay as they are.
    """
    skipped = selected - acting
    if skipped == 0 and not (kind.destructive and acting > 1):
        return None
    question = f"{kind.imperative} {listings_noun(acting)}{kind.tail}?"
    if skipped:
        verb = "is" if skipped == 1 else "are"
        question += (f"\n\nThe other {listings_noun(skipped)} selected {verb} not "
                     f"{STATUS_LABELS[kind.source].lower()} and stay as they are.")
    return question


def summarize_bulk(kind: BulkKind, result: Any, titles: dict[int, str]) -> tuple[str, str]:
    """("Approved 3 listings; 1 could not be changed", details naming each failure)."""
    failed = dict(result.failed)
    summary = f"{kind.past} {listings_noun(len(result.succeeded))}{kind.tail}"
    if failed:
        summary += f"; {len(failed)} could not be changed"
    details = "\n".join(f"#{listing_id} {titles.get(listing_id, '')}: {message}"
                        for listing_id, message in sorted(failed.items()))
    return summary, details


def action_name(kind: BulkKind, count: int, title: str | None = None) -> str:
    """How the Edit menu names a done action: "Approve 4 listings", "Archive “Lamp”"."""
    what = f"“{title[:40]}”" if count == 1 and title else listings_noun(count)
    return f"{kind.imperative} {what}{kind.tail}"


def matching_confirmation_text(kind: BulkKind, total: int) -> str:
    """The question before acting on every listing a filter matches (always asked: most of
    them were never on screen)."""
    return (f"{kind.imperative} all {listings_noun(total)}{kind.tail} matching this search "
            f"and these filters?\n\nListings that are not "
            f"{STATUS_LABELS[kind.source].lower()} are skipped and counted. "
            "Undo (Ctrl+Z) puts back what changed.")


def summarize_outcome(kind: BulkKind, outcome: BulkOutcome) -> str:
    """"Approved 1,998 listings; skipped 2: already approved" (and what a Cancel left)."""
    parts = [f"{kind.past} {listings_noun(len(outcome.changed))}{kind.tail}"]
    skipped = skip_summary(outcome.skipped)
    if skipped:
        parts.append(skipped)
    if outcome.cancelled:
        parts.append(f"cancelled with {listings_noun(outcome.not_reached)} not reached")
    return "; ".join(parts)
