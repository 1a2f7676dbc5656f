"""Status changes inside a transaction: the workflow's walk, one move, and a batch of moves."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from uhadmin.domain.bulk import ListingVersion, skip_reason
from uhadmin.domain.listing import (
    ALLOWED_TRANSITIONS,
    Listing,
    ListingStatus,
    check_reason,
    check_transition,
)
from uhadmin.errors import ConflictError, IllegalTransitionError, UhadminError
from uhadmin.services.listing_queries import rows_in
from uhadmin.services.listing_rows import row_to_listing
from uhadmin.services.listing_writes import WriteBatch, write_listing


def status_path(start: ListingStatus, goal: ListingStatus) -> list[ListingStatus]:
    """The shortest walk through the state machine from `start` to `goal` (excluding start)."""
    if start == goal:
        return []
    came_from: dict[ListingStatus, ListingStatus] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for following in sorted(ALLOWED_TRANSITIONS[current]):
            if following in came_from or following == start:
                continue
            came_from[following] = current
            if following == goal:
                path = []
                while following != start:
                    path.append(following)
                    following = came_from[following]
                return path[::-1]
            queue.append(following)
    raise IllegalTransitionError(f"status: a new listing cannot become {goal} from {start}")


def apply_status_in(session: Any, before: Any, new_status: ListingStatus, *, actor: str,
                    reason: str, now: datetime, batch: WriteBatch | None = None) -> Any:
    """Move the row `before` (read in this transaction) to `new_status` through the one
    write path (as part of `batch`, if given); the row as saved (its `version` is the new
    one). The audit row keeps what an undo needs to put it back."""
    check_transition(ListingStatus(before.status), new_status)
    check_reason(new_status, reason)
    values: dict[str, Any] = {"status": new_status.value}
    details: dict[str, Any] = {"from": before.status, "to": new_status.value}
    if reason:
        details["reason"] = reason
    if new_status == ListingStatus.REJECTED:
        values["rejection_reason"] = reason
        if before.rejection_reason:
            details["previous_reason"] = before.rejection_reason
    if batch is not None:
        return batch.write(before, values, action="status", details=details)
    return write_listing(session, before, values, actor=actor, action="status",
                         details=details, now=now)


def change_status_batch_in(session: Any, *, listing_ids: Sequence[int],
                           new_status: ListingStatus, actor: str, reason: str,
                           now: datetime) -> tuple[list[Listing], dict[int, str]]:
    """Move each listing that can move; the listings after it, and id -> why for the rest."""
    done: list[Listing] = []
    refused: dict[int, str] = {}
    rows = rows_in(session, listing_ids)
    batch = WriteBatch(session, actor=actor, now=now)
    for listing_id in listing_ids:
        before = rows.get(listing_id)
        if before is None:
            refused[listing_id] = f"listing {listing_id} does not exist"
            continue
        try:
            done.append(row_to_listing(apply_status_in(session, before, new_status,
                                                       actor=actor, reason=reason, now=now,
                                                       batch=batch)))
        except UhadminError as exc:
            refused[listing_id] = str(exc)
    batch.flush()
    return done, refused


def move_matching_batch_in(session: Any, listing_ids: Sequence[int],
                           new_status: ListingStatus, *, actor: str, reason: str,
                           now: datetime) -> tuple[list[ListingVersion], dict[int, str]]:
    """As change_status_batch_in, for a filter's matches: the versions written (for undo)
    and short reasons that count well ("already approved") for the listings skipped."""
    moved: list[ListingVersion] = []
    skipped: dict[int, str] = {}
    rows = rows_in(session, listing_ids)
    batch = WriteBatch(session, actor=actor, now=now)
    for listing_id in listing_ids:
        before = rows.get(listing_id)
        if before is None:
            skipped[listing_id] = "deleted meanwhile"
            continue
        if before.status not in ListingStatus._value2member_map_:
            skipped[listing_id] = f"unknown status {before.status!r}"
            continue
        if new_status not in ALLOWED_TRANSITIONS[ListingStatus(before.status)]:
            skipped[listing_id] = skip_reason(before.status, new_status)
            continue
        try:
            version = apply_status_in(session, before, new_status, actor=actor,
                                      reason=reason, now=now, batch=batch).version
        except ConflictError:
            skipped[listing_id] = "changed by someone else meanwhile"
            continue
        moved.append(ListingVersion(listing_id, version))
    batch.flush()
    return moved, skipped
