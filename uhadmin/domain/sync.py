"""Frozen values of the Stripe sync and reconcile: progress, reports, findings, online state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class SyncProgress:
    """Where a running sync stands (sent after each listing)."""

    done: int
    total: int
    current_listing_id: int | None = None
    current_title: str = ""
    rate_per_s: float = 0.0
    eta_s: float | None = None  # None until a rate is known


class CancelToken:
    """Ask a running sync to stop after the listings already at Stripe; it resumes later
    where it stopped (views may make one: it is a plain flag, no service behind it)."""

    def __init__(self) -> None:
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled


@dataclass(frozen=True)
class SyncActivity:
    """What the one sync of a catalog is doing, for every view that shows it: `initiator`
    "background" (AutoSync) or "manual"; `phase` "waiting" (behind another run),
    "running", "progress" or "finished" (then `report` says what that run did)."""

    initiator: str
    phase: str
    progress: SyncProgress | None = None
    report: SyncReport | None = None
    behind: str = ""  # while waiting: the initiator of the run in the way


@dataclass(frozen=True)
class SyncReport:
    """What one sync did. `api_calls` counts every HTTP request sent to Stripe (retries too)."""

    created: int = 0
    updated: int = 0
    price_changed: int = 0
    archived: int = 0
    unchanged: int = 0
    failed: int = 0
    api_calls: int = 0
    failures: Mapping[int, str] = field(default_factory=dict)  # listing id -> why
    cancelled: bool = False
    offline: bool = False  # Stripe stopped answering; the rest stays queued
    dry_run: bool = False
    queued: int = 0  # outbox rows still pending when the sync ended (one per listing)
    held_elsewhere: int = 0  # of those, listings another admin's sync was pushing
    waiting: Mapping[int, str] = field(default_factory=dict)  # queued listing id -> why
    notes: tuple[str, ...] = ()  # things worth telling a person (e.g. a price left active)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Nothing failed, nothing invalid, and (unless a dry run) nothing left queued."""
        if self.dry_run:
            return self.failed == 0
        return self.failed == 0 and not self.offline and self.queued == 0

    @property
    def exit_code(self) -> int:
        """`uhadmin sync`'s exit status: 0 in sync, 1 failed or invalid listings,
        3 changes still queued (offline, cancelled, --limit, other admins' work)."""
        if self.failed:
            return 1
        return 0 if self.ok else 3

    def as_dict(self) -> dict:
        return {
            "created": self.created, "updated": self.updated,
            "price_changed": self.price_changed, "archived": self.archived,
            "unchanged": self.unchanged, "failed": self.failed, "api_calls": self.api_calls,
            "failures": {str(key): value for key, value in self.failures.items()},
            "cancelled": self.cancelled, "offline": self.offline, "dry_run": self.dry_run,
            "queued": self.queued, "held_elsewhere": self.held_elsewhere,
            "waiting": {str(key): value for key, value in sorted(self.waiting.items())},
            "notes": list(self.notes),
            "elapsed_s": round(self.elapsed_s, 3),
        }


class ConnectionState(StrEnum):
    """What the app shows about Stripe: reachable, or offline with changes queued."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"
    STOPPED = "stopped"  # the sync refused to go on (e.g. Stripe answered in the other mode)
    WRONG_ACCOUNT = "wrong_account"  # the key points at another account than the catalog's


@dataclass(frozen=True)
class SyncStatus:
    """Stripe reachability plus the queue, for a status bar ("offline, 3 changes queued")."""

    state: ConnectionState
    queued: int
    message: str = ""


class FindingKind(StrEnum):
    NEVER_PUSHED = "never_pushed"  # an approved listing with no product in Stripe
    ORPHAN = "orphan"  # a product of this catalog that no listing points to
    FIELD_DRIFT = "field_drift"  # name, description or images differ
    PRICE_DRIFT = "price_drift"  # the default price's amount or currency differs
    ACTIVE_MISMATCH = "active_mismatch"  # active in one place, archived in the other
    DUPLICATE = "duplicate"  # more than one product claims the same listing
    FOREIGN = "foreign"  # made elsewhere (e.g. the Dashboard): can be adopted
    STALE_PRICE = "stale_price"  # a product of ours with active prices besides its default
    PRODUCT_DELETED = "product_deleted"  # the listing's product no longer exists in Stripe


class Fix(StrEnum):
    PUSH_OURS = "push_ours"  # make Stripe match the database
    TAKE_STRIPES = "take_stripes"  # make the database match Stripe
    ARCHIVE = "archive"  # archive the product in Stripe
    LINK = "link"  # point the listing at this product
    ADOPT = "adopt"  # create a listing from the product
    ARCHIVE_PRICES = "archive_prices"  # archive every active price but the default
    RECREATE = "recreate"  # forget a deleted product; the sync makes a new one
    UNLINK = "unlink"  # forget a deleted product and take the listing off sale


@dataclass(frozen=True)
class ReconcileFinding:
    """One difference between the database and Stripe, with the fixes that apply to it."""

    kind: FindingKind
    listing_id: int | None
    product_id: str | None
    detail: str
    fixes: tuple[Fix, ...]

    def as_dict(self) -> dict:
        return {"kind": str(self.kind), "listing_id": self.listing_id,
                "product_id": self.product_id, "detail": self.detail,
                "fixes": [str(fix) for fix in self.fixes]}


@dataclass(frozen=True)
class AppliedFix:
    """A fix that was applied (or, in a dry run, would be)."""

    fix: Fix
    listing_id: int | None
    product_id: str | None
    detail: str


@dataclass(frozen=True)
class ReconcileReport:
    """Findings from one comparison, plus what was fixed (nothing unless asked)."""

    findings: tuple[ReconcileFinding, ...]
    products_seen: int
    prices_seen: int
    listings_seen: int
    api_calls: int
    applied: tuple[AppliedFix, ...] = ()
    dry_run: bool = False
    errors: Mapping[str, str] = field(default_factory=dict)  # "fix:target" -> why it failed

    def count(self, kind: FindingKind) -> int:
        return sum(1 for finding in self.findings if finding.kind == kind)

    def as_dict(self) -> dict:
        return {
            "findings": [finding.as_dict() for finding in self.findings],
            "counts": {str(kind): self.count(kind) for kind in FindingKind},
            "products_seen": self.products_seen, "prices_seen": self.prices_seen,
            "listings_seen": self.listings_seen, "api_calls": self.api_calls,
            "applied": [{"fix": str(item.fix), "listing_id": item.listing_id,
                         "product_id": item.product_id, "detail": item.detail}
                        for item in self.applied],
            "dry_run": self.dry_run, "errors": dict(self.errors),
        }
