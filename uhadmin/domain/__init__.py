"""Frozen value objects shared by every layer; views see only these, never ORM rows."""

from uhadmin.domain.checkout import (
    CheckoutAttempt,
    CheckoutLine,
    Outcome,
    TestCard,
)
from uhadmin.domain.listing import (
    ALLOWED_TRANSITIONS,
    AuditEntry,
    BulkResult,
    Listing,
    ListingChanges,
    ListingQuery,
    ListingStatus,
    NewListing,
    Page,
    SortKey,
    SyncState,
    check_transition,
)

__all__ = [
    "CheckoutAttempt",
    "CheckoutLine",
    "Outcome",
    "TestCard",
    "ALLOWED_TRANSITIONS",
    "AuditEntry",
    "BulkResult",
    "Listing",
    "ListingChanges",
    "ListingQuery",
    "ListingStatus",
    "NewListing",
    "Page",
    "SortKey",
    "SyncState",
    "check_transition",
]
