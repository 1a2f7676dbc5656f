"""Actions over many listings in short batches: progress after each, Cancel between them."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from uhadmin.domain.bulk import BulkOutcome, BulkProgress, ListingVersion
from uhadmin.domain.sync import CancelToken
from uhadmin.services.database import Database

T = TypeVar("T")

# One transaction per batch this large: one commit (fsync) for many listings, while no
# write transaction stays open long enough to stall other writers, and a Cancel waits for
# at most one batch (tens of milliseconds).
BULK_BATCH_SIZE = 200

BatchWork = Callable[[Session, Sequence[T], datetime],
                     tuple[list[ListingVersion], dict[int, str]]]


async def run_in_batches(
    db: Database, items: Sequence[T], work: BatchWork[T], *,
    publish: Callable[[set[int]], Awaitable[None]],
    on_progress: Callable[[BulkProgress], Any] | None = None,
    cancel: CancelToken | None = None,
) -> BulkOutcome:
    """Run `work(session, batch, now)` over `items`, one write transaction per batch in the
    database's worker thread (the event loop only hears the results). After each batch the
    changed ids are published and progress reported; a cancelled token stops before the
    next batch, and what was done stays done and is counted."""
    changed: list[ListingVersion] = []
    skipped: dict[int, str] = {}
    done = 0
    for start in range(0, len(items), BULK_BATCH_SIZE):
        if cancel is not None and cancel.cancelled:
            return BulkOutcome(len(items), tuple(changed), skipped, cancelled=True)
        batch = items[start:start + BULK_BATCH_SIZE]
        written, refused = await db.run(
            functools.partial(_run_batch, work=work, batch=batch), write=True)
        changed += written
        skipped.update(refused)
        done += len(batch)
        if written:
            await publish({x.listing_id for x in written})
        if on_progress is not None:
            on_progress(BulkProgress(done=done, total=len(items), changed=len(changed)))
    return BulkOutcome(len(items), tuple(changed), skipped)


def _run_batch(session: Session, *, work: BatchWork[T],
               batch: Sequence[T]) -> tuple[list[ListingVersion], dict[int, str]]:
    return work(session, batch, datetime.now(UTC))
