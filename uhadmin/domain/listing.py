"""Frozen value objects of the catalog: listings, their status machine, queries and pages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from uhadmin.errors import FieldProblem, IllegalTransitionError


class ListingStatus(StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"


# The review workflow. Only APPROVED listings are active in Stripe.
ALLOWED_TRANSITIONS: dict[ListingStatus, frozenset[ListingStatus]] = {
    ListingStatus.DRAFT: frozenset({ListingStatus.PENDING_REVIEW}),
    ListingStatus.PENDING_REVIEW: frozenset({ListingStatus.APPROVED, ListingStatus.REJECTED}),
    ListingStatus.APPROVED: frozenset({ListingStatus.ARCHIVED}),
    ListingStatus.REJECTED: frozenset(),
    ListingStatus.ARCHIVED: frozenset({ListingStatus.APPROVED}),
}


def check_transition(current: ListingStatus, new: ListingStatus) -> None:
    """Raise IllegalTransitionError unless the state machine allows current -> new."""
    if new not in ALLOWED_TRANSITIONS[current]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "none"
        raise IllegalTransitionError(
            f"status: cannot go from {current} to {new} (allowed from {current}: {allowed})"
        )


class SyncState(StrEnum):
    """Where a listing stands with Stripe."""

    NOT_PUBLISHED = "not_published"  # never approved, so nothing belongs in Stripe yet
    PENDING = "pending"  # Stripe is behind the database; a sync will push it
    SYNCED = "synced"  # Stripe matches what the database last said
    FAILED = "failed"  # the last push failed; see sync_error


@dataclass(frozen=True)
class Listing:
    """A marketplace listing as the database holds it, with its link to Stripe."""

    id: int
    title: str
    description: str
    price_minor: int  # integer minor units of `currency` (Stripe's unit_amount)
    currency: str  # lower-case ISO code, e.g. "usd"
    image_urls: tuple[str, ...] = ()
    seller_contact: str = ""
    category: str = ""
    condition: str = ""
    status: ListingStatus = ListingStatus.DRAFT
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str = ""
    updated_by: str = ""
    rejection_reason: str = ""
    stripe_product_id: str | None = None
    stripe_price_id: str | None = None
    sync_state: SyncState = SyncState.NOT_PUBLISHED
    sync_error: str = ""
    last_synced_at: datetime | None = None
    # Rules this row breaks as read (the website writes rows directly): a listing with
    # problems "needs fixing", is shown with field and rule, and is never sent to Stripe.
    problems: tuple[FieldProblem, ...] = ()

    @property
    def needs_fixing(self) -> bool:
        return bool(self.problems)


@dataclass(frozen=True)
class NewListing:
    """What a person types to create a listing (price already parsed to minor units)."""

    title: str
    price_minor: int
    currency: str
    description: str = ""
    image_urls: tuple[str, ...] = ()
    seller_contact: str = ""
    category: str = ""
    condition: str = ""
    status: ListingStatus = ListingStatus.DRAFT


@dataclass(frozen=True)
class ListingChanges:
    """A partial edit: None means "leave as it is"."""

    title: str | None = None
    description: str | None = None
    price_minor: int | None = None
    currency: str | None = None
    image_urls: tuple[str, ...] | None = None
    seller_contact: str | None = None
    category: str | None = None
    condition: str | None = None


class SortKey(StrEnum):
    ID = "id"
    TITLE = "title"
    PRICE = "price"
    STATUS = "status"
    SYNC_STATE = "sync_state"
    UPDATED = "updated"
    CREATED = "created"


@dataclass(frozen=True)
class ListingQuery:
    """A page request: full-text search, filters, database-side sort and paging."""

    search: str = ""
    statuses: frozenset[ListingStatus] = frozenset()
    sync_states: frozenset[SyncState] = frozenset()
    needs_fixing: bool = False  # only listings that break a rule (see Listing.problems)
    sort: SortKey = SortKey.UPDATED
    descending: bool = True
    offset: int = 0
    limit: int = 100


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    offset: int = 0
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """One recorded mutation: who did what to which object, when, and what changed."""

    id: int
    entity: str  # "listing", "sync", ...
    entity_id: str
    action: str  # "create", "update", "status", "delete", ...
    actor: str
    at: datetime
    details: Mapping[str, Any]


@dataclass(frozen=True)
class BulkResult:
    """Outcome of one action over many listings: some may succeed while others fail."""

    succeeded: tuple[Listing, ...]
    failed: Mapping[int, str]  # listing id -> why it was not changed
