"""A sync run's tally: counts each listing's outcome as it arrives and reports progress."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from uhadmin.domain.sync import SyncProgress
from uhadmin.services.sync.planning import PushOutcome

log = logging.getLogger(__name__)


class RunTally:
    """Counts outcomes as they arrive, and reports progress."""

    def __init__(self, total: int, unchanged: int,
                 progress: Callable[[SyncProgress], None] | None) -> None:
        self.started = time.monotonic()
        self.total = total
        self.progress = progress
        self.counts = {"created": 0, "updated": 0, "price_changed": 0, "archived": 0,
                       "unchanged": unchanged, "failed": 0}
        self.failures: dict[int, str] = {}
        self.notes: list[str] = []
        self.done = 0
        self.offline = False
        self.pushed: dict[int, int] = {}  # listing id -> the version this run sent

    def add(self, outcome: PushOutcome, title: str) -> None:
        self.pushed[outcome.listing_id] = outcome.version
        if outcome.offline:
            self.offline = True
            return
        if outcome.kind == "failed":
            self.counts["failed"] += 1
            self.failures[outcome.listing_id] = outcome.error
        elif outcome.kind == "not_published":
            self.counts["unchanged"] += 1
        else:
            self.counts[outcome.kind] += 1
        if outcome.note:
            self.notes.append(f"listing {outcome.listing_id}: {outcome.note}")
        self.done += 1
        if self.progress is None:
            return
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        left = max(self.total - self.done, 0)
        try:
            self.progress(SyncProgress(done=self.done, total=max(self.total, self.done),
                                       current_listing_id=outcome.listing_id,
                                       current_title=title, rate_per_s=rate,
                                       eta_s=left / rate if rate > 0 else None))
        except Exception:
            log.exception("sync progress callback failed")
