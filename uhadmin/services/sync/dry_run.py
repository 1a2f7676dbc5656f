"""A dry run: what a sync would send, decided by the same pure plans, with nothing sent."""

from __future__ import annotations

import time
from typing import Any

from uhadmin.domain.sync import SyncReport
from uhadmin.services.sync.outbox import OutboxStore
from uhadmin.services.sync.planning import REPORT_KIND_OF_PLAN, plan_for


async def dry_run_report(store: OutboxStore, catalog_id: str, limit: int | None) -> SyncReport:
    """What a run would do (at most `limit` listings), from the plans alone: no Stripe call."""
    started = time.monotonic()
    counts: dict[str, Any] = {"created": 0, "updated": 0, "price_changed": 0,
                              "archived": 0, "unchanged": 0, "failed": 0}
    failures: dict[int, str] = {}
    considered = 0
    for work in await store.dry_run_work(catalog_id):
        plan = plan_for(work)
        if plan in ("unchanged", "not_published"):
            if work.needs_stripe:
                counts["unchanged"] += 1
            continue
        if plan == "invalid":
            failures[work.listing_id] = ("needs fixing, would not be sent to Stripe: "
                                         + "; ".join(work.problems))
            continue
        if limit is not None and considered >= limit:
            continue
        considered += 1
        counts[REPORT_KIND_OF_PLAN[plan]] += 1
    counts["failed"] = len(failures)
    return SyncReport(**counts, api_calls=0, dry_run=True, failures=failures,
                      queued=await store.queued(), elapsed_s=time.monotonic() - started)
