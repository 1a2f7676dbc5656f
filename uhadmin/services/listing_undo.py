"""Undo from the audit log: put listings back as a recorded change found them, unless saved since.

A change is named by the version it left its listing at (`ListingVersion`); every write
through `listing_writes.write_listing` records that version in its audit row. Reverting
reads that row, and writes the values it replaced back through the same write path with
the same optimistic lock: a listing saved by anyone since is skipped and says by whom.
The revert is itself an audited change ("undo", with the values it replaced), so reverting
the revert is a redo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from uhadmin.domain.bulk import ListingVersion
from uhadmin.domain.listing import ListingStatus
from uhadmin.errors import ConflictError
from uhadmin.services.listing_history import AUDIT
from uhadmin.services.listing_queries import rows_in
from uhadmin.services.listing_writes import WriteBatch

# How far back in one listing's history the change to revert is looked for: it is the
# listing's latest versioned change (nobody saved since), after at most a few sync notes.
HISTORY_LOOKBACK = 50

# The columns a revert may write back, and so the only ones an audit row's "changes" can
# name for it (anything else there is ignored).
REVERTIBLE_FIELDS = (
    "title", "description", "price_minor", "currency", "image_urls", "seller_contact",
    "category", "condition", "status", "rejection_reason",
)


def _recorded_changes(session: Session, targets: Sequence[ListingVersion]
                      ) -> dict[int, tuple[str, Mapping]]:
    """{listing id: (action, details)} of each target's recorded change, looked for among
    its listing's latest HISTORY_LOOKBACK entries; one statement for the whole batch."""
    wanted = {target.listing_id: target.version for target in targets}
    latest = select(
        AUDIT.c.entity_id, AUDIT.c.action, AUDIT.c.details,
        func.row_number().over(partition_by=AUDIT.c.entity_id,
                               order_by=AUDIT.c.id.desc()).label("recency"),
    ).where(AUDIT.c.entity == "listing",
            AUDIT.c.entity_id.in_([str(listing_id) for listing_id in wanted])).subquery()
    rows = session.execute(
        select(latest.c.entity_id, latest.c.action, latest.c.details)
        .where(latest.c.recency <= HISTORY_LOOKBACK)
        .order_by(latest.c.entity_id, latest.c.recency))
    found: dict[int, tuple[str, Mapping]] = {}
    for entity_id, action, details in rows:
        listing_id = int(entity_id)
        if (listing_id not in found and isinstance(details, dict)
                and details.get("version") == wanted[listing_id]):
            found[listing_id] = (action, details)
    return found


def values_before(action: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """What the recorded change replaced: {column: value before it}; {} if it says nothing
    a revert can restore."""
    changes = details.get("changes")
    if isinstance(changes, dict):
        return {name: pair[0] for name, pair in changes.items()
                if name in REVERTIBLE_FIELDS and isinstance(pair, list) and len(pair) == 2}
    if action == "status" and details.get("from") in ListingStatus._value2member_map_:
        values: dict[str, Any] = {"status": details["from"]}
        if details.get("to") == ListingStatus.REJECTED.value:
            values["rejection_reason"] = details.get("previous_reason", "")
        return values
    return {}


def revert_batch_in(session: Session, targets: Sequence[ListingVersion], *, actor: str,
                    now: datetime) -> tuple[list[ListingVersion], dict[int, str]]:
    """Revert each change unless its listing moved on; the versions the reverts wrote, and
    id -> why for each listing left as it is."""
    restored: list[ListingVersion] = []
    skipped: dict[int, str] = {}
    rows = rows_in(session, [target.listing_id for target in targets])
    recorded = _recorded_changes(session, targets)
    batch = WriteBatch(session, actor=actor, now=now)
    for target in targets:
        listing_id = target.listing_id
        before = rows.get(listing_id)
        if before is None:
            skipped[listing_id] = "deleted since"
            continue
        if before.version != target.version:
            skipped[listing_id] = f"changed since by {before.updated_by or 'someone'}"
            continue
        found = recorded.get(listing_id)
        values = values_before(*found) if found is not None else {}
        if not values:
            skipped[listing_id] = "no record of that change to undo"
            continue
        replaced = {name: [_plain(getattr(before, name)), value]
                    for name, value in values.items()}
        try:
            version = batch.write(before, values, action="undo",
                                  details={"changes": replaced,
                                           "undoes": target.version}).version
        except ConflictError:
            skipped[listing_id] = "changed since by someone else"
            continue
        restored.append(ListingVersion(listing_id, version))
    batch.flush()
    return restored, skipped


def _plain(value: Any) -> Any:
    """A column value as the audit log's JSON holds it (image URLs as a list)."""
    return list(value) if isinstance(value, tuple) else value
