"""Frozen value objects shared by every layer; views see only these, never ORM rows."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from uhadmin.domain.checkout import (
        DEFAULT_EXPIRY,
        MAX_EXPIRY,
        MIN_EXPIRY,
        CheckoutAttempt,
        CheckoutLine,
        Outcome,
        TestCard,
        describe_duration,
        parse_duration,
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
        check_reason,
        check_transition,
    )
    from uhadmin.domain.sync import (
        AppliedFix,
        CancelToken,
        ConnectionState,
        FindingKind,
        Fix,
        ReconcileFinding,
        ReconcileReport,
        SyncActivity,
        SyncProgress,
        SyncReport,
        SyncStatus,
    )

# The module each name lives in. Importing one submodule (`uhadmin.domain.listing` for a
# one-shot `uhadmin listings list`) must not build every dataclass of checkout and sync too:
# they cost more start-up time than the rest of that command's own code (bench/startup_bench.py).
_HOMES = {
    "uhadmin.domain.checkout": (
        "CheckoutAttempt", "CheckoutLine", "DEFAULT_EXPIRY", "MAX_EXPIRY", "MIN_EXPIRY",
        "Outcome", "TestCard", "describe_duration", "parse_duration"),
    "uhadmin.domain.listing": (
        "ALLOWED_TRANSITIONS", "AuditEntry", "BulkResult", "Listing", "ListingChanges",
        "ListingQuery", "ListingStatus", "NewListing", "Page", "SortKey", "SyncState",
        "check_reason", "check_transition"),
    "uhadmin.domain.sync": (
        "AppliedFix", "CancelToken", "ConnectionState", "FindingKind", "Fix",
        "ReconcileFinding", "ReconcileReport", "SyncActivity", "SyncProgress", "SyncReport",
        "SyncStatus"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [  # a literal list, so linters see the TYPE_CHECKING imports above as exported
    "ALLOWED_TRANSITIONS", "AppliedFix", "AuditEntry", "BulkResult", "CancelToken",
    "CheckoutAttempt", "CheckoutLine", "ConnectionState", "DEFAULT_EXPIRY", "FindingKind",
    "Fix", "Listing", "ListingChanges", "ListingQuery", "ListingStatus", "MAX_EXPIRY",
    "MIN_EXPIRY", "NewListing", "Outcome", "Page", "ReconcileFinding", "ReconcileReport",
    "SortKey", "SyncActivity", "SyncProgress", "SyncReport", "SyncState", "SyncStatus",
    "TestCard", "check_reason", "check_transition", "describe_duration", "parse_duration",
]


def __getattr__(name: str) -> Any:  # PEP 562: `from uhadmin.domain import Listing` still works
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain global
    return value
