"""Offline operations and the pure three-way merge that decides how each one replays."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from uhadmin.domain.listing import ALLOWED_TRANSITIONS, Listing, ListingStatus

# The fields an offline edit may carry, as ListingChanges names them.
EDITABLE_FIELDS = (
    "title", "description", "price_minor", "currency", "image_urls",
    "seller_contact", "category", "condition",
)
# What a base snapshot holds: every editable field plus the status.
SNAPSHOT_FIELDS = (*EDITABLE_FIELDS, "status")


class OperationKind(StrEnum):
    EDIT = "edit"
    STATUS = "status"


class OperationState(StrEnum):
    PENDING = "pending"  # waits for the catalog
    CONFLICT = "conflict"  # both sides changed the same thing: a person decides
    APPLIED = "applied"  # replayed as it was; nobody else had touched the listing
    MERGED = "merged"  # replayed beside someone else's changes to other fields
    RESOLVED = "resolved"  # a conflict a person settled (took mine, theirs, or an edit)


class Outcome(StrEnum):
    APPLY = "apply"
    MERGE = "merge"
    CONFLICT = "conflict"


def cached_image_name(url: str) -> str:
    """The file name an image URL is cached under for offline review."""
    return hashlib.sha256(url.encode()).hexdigest()


def snapshot(listing: Listing) -> dict[str, Any]:
    """The values of a listing a three-way merge compares (JSON-ready)."""
    values = {name: getattr(listing, name) for name in SNAPSHOT_FIELDS}
    values["image_urls"] = list(listing.image_urls)
    values["status"] = str(listing.status)
    return values


def comparable(value: Any) -> Any:
    """Tuples and lists compare equal; JSON gives lists back for tuples written."""
    return list(value) if isinstance(value, (tuple, list)) else value


@dataclass(frozen=True)
class OfflineOperation:
    """A change made without the catalog: what the reviewer saw (base) and what they did."""

    id: int
    listing_id: int
    kind: OperationKind
    base_version: int
    base: Mapping[str, Any]  # snapshot() of the listing as the reviewer saw it
    changes: Mapping[str, Any]  # EDIT: field -> new value; STATUS: {"status", "reason"}
    actor: str
    created_at: datetime
    state: OperationState = OperationState.PENDING
    conflicts: tuple[FieldConflict, ...] = ()
    note: str = ""  # why it is a conflict, or what the merge kept

    @property
    def mine(self) -> dict[str, Any]:
        """The fields this operation sets, status included, without the reason."""
        return {name: value for name, value in self.changes.items() if name != "reason"}


@dataclass(frozen=True)
class FieldConflict:
    """One field both sides changed differently (or a status the workflow refuses)."""

    field: str
    base: Any
    theirs: Any
    mine: Any


@dataclass(frozen=True)
class MergeDecision:
    """How to replay one operation over the listing as the catalog holds it now."""

    outcome: Outcome
    to_apply: Mapping[str, Any] = field(default_factory=dict)  # empty: nothing left to write
    conflicts: tuple[FieldConflict, ...] = ()
    kept_theirs: tuple[str, ...] = ()  # fields only they changed, left as they are
    note: str = ""


def decide_merge(operation: OfflineOperation, theirs: Listing | None) -> MergeDecision:
    """Three-way merge of `operation` (base -> mine) with the catalog's listing (base ->
    theirs): a field only one side changed takes that side; the same field changed to
    different values on both sides is a conflict; a status the workflow no longer allows
    from where the listing stands now is a conflict too."""
    base = operation.base
    mine = operation.mine
    if theirs is None:
        return MergeDecision(
            Outcome.CONFLICT,
            conflicts=tuple(FieldConflict(name, base.get(name), None, value)
                            for name, value in mine.items()),
            note="the listing was deleted in the catalog")
    now = snapshot(theirs)
    kept_theirs = tuple(name for name in SNAPSHOT_FIELDS
                        if name not in mine
                        and comparable(now[name]) != comparable(base.get(name)))
    to_apply: dict[str, Any] = {}
    conflicts: list[FieldConflict] = []
    for name, value in mine.items():
        theirs_value = comparable(now[name])
        if comparable(value) == theirs_value:
            continue  # both sides agree already: nothing to write
        if theirs_value == comparable(base.get(name)):
            to_apply[name] = value
        else:
            conflicts.append(FieldConflict(name, base.get(name), now[name], value))
    note = ""
    if "status" in mine and any(c.field == "status" for c in conflicts):
        current, wanted = ListingStatus(now["status"]), ListingStatus(mine["status"])
        if wanted not in ALLOWED_TRANSITIONS[current]:
            note = f"the workflow no longer allows {current} -> {wanted}"
    if "status" in to_apply:
        current, wanted = ListingStatus(now["status"]), ListingStatus(to_apply["status"])
        if wanted not in ALLOWED_TRANSITIONS[current]:
            del to_apply["status"]
            conflicts.append(FieldConflict("status", base.get("status"), now["status"], wanted))
            note = f"the workflow no longer allows {current} -> {wanted}"
    if conflicts:
        if not note:
            note = "changed on both sides: " + ", ".join(c.field for c in conflicts)
        return MergeDecision(Outcome.CONFLICT, to_apply=to_apply, conflicts=tuple(conflicts),
                             kept_theirs=kept_theirs, note=note)
    if kept_theirs:
        return MergeDecision(Outcome.MERGE, to_apply=to_apply, kept_theirs=kept_theirs,
                             note="kept their changes to " + ", ".join(kept_theirs))
    return MergeDecision(Outcome.APPLY, to_apply=to_apply)


def overlay(listing: Listing, operations: list[OfflineOperation]) -> Listing:
    """The listing as the reviewer sees it offline: the copy with their own operations on
    top (pending ones, and the "mine" side of conflicts not yet settled)."""
    values: dict[str, Any] = {}
    for operation in operations:
        if operation.listing_id == listing.id and operation.state in (
                OperationState.PENDING, OperationState.CONFLICT):
            values.update(operation.mine)
            if operation.kind is OperationKind.STATUS and operation.changes.get("reason"):
                values["rejection_reason"] = operation.changes["reason"]
    if not values:
        return listing
    if "image_urls" in values:
        values["image_urls"] = tuple(values["image_urls"])
    if "status" in values:
        values["status"] = ListingStatus(values["status"])
    return replace(listing, **values)


@dataclass(frozen=True)
class OfflineStatus:
    """What `uhadmin offline status` and the banner say."""

    catalog: str  # the catalog's URL, password masked
    refreshed_at: datetime | None
    pending: int
    conflicts: int
    listings: int = 0


@dataclass(frozen=True)
class PushReport:
    """What one push did: counts per outcome, and the conflicts left for a person."""

    applied: int = 0
    merged: int = 0
    conflicts: tuple[OfflineOperation, ...] = ()
    waiting: int = 0  # later operations held back behind a conflict on the same listing
