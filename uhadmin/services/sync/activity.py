"""One picture of the catalog's sync: every run, background or manual, told to every view."""

from __future__ import annotations

import logging
from collections.abc import Callable

from uhadmin.domain.sync import CancelToken, SyncActivity, SyncProgress, SyncReport

log = logging.getLogger(__name__)

ActivityCallback = Callable[[SyncActivity], None]
ProgressCallback = Callable[[SyncProgress], None]


class ActivityFeed:
    """Publishes each run's start, progress and report, and can cancel the running one."""

    def __init__(self) -> None:
        self._subscribers: list[ActivityCallback] = []
        self.running: str | None = None  # the initiator of the run in progress
        self.last_progress: SyncProgress | None = None
        self._cancel: CancelToken | None = None

    def subscribe(self, callback: ActivityCallback) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, activity: SyncActivity) -> None:
        for callback in list(self._subscribers):
            try:
                callback(activity)
            except Exception:
                log.exception("sync activity subscriber %r failed", callback)

    def waiting(self, initiator: str) -> None:
        self.publish(SyncActivity(initiator, "waiting", self.last_progress,
                                  behind=self.running or ""))

    def started(self, initiator: str, cancel: CancelToken) -> None:
        self.running, self.last_progress, self._cancel = initiator, None, cancel
        self.publish(SyncActivity(initiator, "running"))

    def relay(self, initiator: str, progress: ProgressCallback | None) -> ProgressCallback:
        """The run's progress callback: the caller's, then every subscriber's."""
        def report(step: SyncProgress) -> None:
            self.last_progress = step
            if progress is not None:
                progress(step)
            self.publish(SyncActivity(initiator, "progress", step))

        return report

    def finished(self, initiator: str, report: SyncReport | None) -> None:
        self.running, self.last_progress, self._cancel = None, None, None
        self.publish(SyncActivity(initiator, "finished", report=report))

    def cancel_running(self) -> bool:
        """Ask the run in progress, whoever started it, to stop; whether one was running."""
        if self._cancel is None or self._cancel.cancelled:
            return False
        self._cancel.cancel()
        return True
