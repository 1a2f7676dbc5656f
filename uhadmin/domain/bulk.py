"""What an action over many listings did: which versions it wrote, what it skipped and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from uhadmin.domain.listing import ListingStatus


@dataclass(frozen=True)
class ListingVersion:
    """One listing at the version a change left it at: what an undo needs to find that
    change in the audit log, and to see whether anyone saved over it since."""

    listing_id: int
    version: int


@dataclass(frozen=True)
class BulkProgress:
    """Where a running action over many listings stands (sent after each batch)."""

    done: int  # listings looked at so far (changed or skipped)
    total: int
    changed: int


@dataclass(frozen=True)
class BulkOutcome:
    """The end of an action over many listings (a filter's matches, or an undo of one).

    `skipped` maps each listing left as it was to a short reason that groups well
    ("already approved", "changed since by ana@hawaii.edu"); a cancelled run also leaves
    `not_reached` listings untouched.
    """

    total: int
    changed: tuple[ListingVersion, ...] = ()
    skipped: Mapping[int, str] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def not_reached(self) -> int:
        return max(0, self.total - len(self.changed) - len(self.skipped))


def status_words(status: ListingStatus | str) -> str:
    """"pending review" for pending_review: how a reason names a status."""
    return str(ListingStatus(status).value).replace("_", " ")


def skip_reason(current: ListingStatus | str, target: ListingStatus) -> str:
    """Why a listing at `current` was not moved to `target` by an action over many."""
    if ListingStatus(current) == target:
        return f"already {status_words(target)}"
    return f"{status_words(current)}, cannot become {status_words(target)}"


def skip_summary(skipped: Mapping[int, str]) -> str:
    """"skipped 2: already approved; 1: changed since by ana" (most common reason first),
    or "" when nothing was skipped."""
    if not skipped:
        return ""
    counts = Counter(skipped.values()).most_common()
    parts = [f"{count:,}: {reason}" for reason, count in counts]
    return "skipped " + "; ".join(parts)
