"""The background sync: drains the outbox after edits, probes with back-off while offline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from uhadmin.domain.changes import Change, ListingsChanged
from uhadmin.domain.sync import ConnectionState, SyncReport
from uhadmin.errors import AccountMismatchError, ModeMismatchError, UhadminError
from uhadmin.services.sync.holders import SyncBusyError
from uhadmin.services.sync.run import SyncService

log = logging.getLogger(__name__)


class AutoSync:
    """Background drain: syncs when changes are queued, probes with backoff while offline.

    `start()` from the running loop (the app's qasync loop); it listens to the change bus
    and syncs shortly after every listing edit (`poke()` does the same by hand). `stop()`
    cancels it. State changes reach `SyncService.subscribe_status` callbacks; a mode
    mismatch stops it for good (state STOPPED) until `start()` is called again; a key of
    another Stripe account pauses it (WRONG_ACCOUNT) until the key or the catalog's
    recorded account changes.
    """

    def __init__(self, sync: SyncService, *, interval_s: float = 15.0,
                 min_backoff_s: float = 2.0, max_backoff_s: float = 300.0,
                 debounce_s: float = 0.5,
                 on_report: Callable[[SyncReport], None] | None = None) -> None:
        self.sync = sync
        self.interval_s = interval_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.debounce_s = debounce_s  # edits arriving together are pushed together
        self.on_report = on_report
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task:
        if not self.running:
            self._wake = asyncio.Event()
            if self._unsubscribe is None:
                self._unsubscribe = self.sync.bus.subscribe(self._on_change)
            self._task = asyncio.ensure_future(self._loop())
        assert self._task is not None
        return self._task

    def _on_change(self, change: Change) -> None:
        if isinstance(change, ListingsChanged) and change.queue_moved:
            self.poke()  # a change that queued nothing for Stripe needs no sync

    def poke(self) -> None:
        """Sync soon (e.g. after an edit), without waiting for the interval."""
        self._wake.set()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        backoff = self.min_backoff_s
        while True:
            delay = self.interval_s
            # Cleared before looking at the queue: a poke that arrives while this round
            # runs wakes the next one instead of being lost.
            self._wake.clear()
            try:
                queued = await self.sync.queued()
                if self.sync.status.state == ConnectionState.WRONG_ACCOUNT:
                    # Stays in the warning (no "online" flicker) until the key or the
                    # catalog's account changes: one GET /v1/account a round.
                    await self.sync.check_account()
                    self.sync.set_status(ConnectionState.ONLINE, queued)
                if self.sync.status.state != ConnectionState.ONLINE:
                    if not await self.sync.gateway.probe():
                        self.sync.set_status(ConnectionState.OFFLINE, queued,
                                              "Stripe is not answering; changes stay queued")
                        delay, backoff = backoff, min(backoff * 2, self.max_backoff_s)
                        queued = 0  # nothing to try until the next probe
                    else:
                        self.sync.set_status(ConnectionState.ONLINE, queued)
                if self.sync.status.state == ConnectionState.ONLINE:
                    # Every round, not only with a queue: the quick scan also finds rows
                    # the website wrote (one indexed query when nothing moved).
                    report = await self.sync.run(full_scan=False, wait_for_others=False,
                                                 initiator="background")
                    if self.on_report is not None:
                        self.on_report(report)
                    if report.offline:
                        delay, backoff = backoff, min(backoff * 2, self.max_backoff_s)
                    else:
                        backoff = self.min_backoff_s
            except asyncio.CancelledError:
                raise
            except AccountMismatchError as error:
                log.warning("auto sync paused: %s", error)  # status set by check_account
            except ModeMismatchError as error:
                self.sync.set_status(ConnectionState.STOPPED, await self.sync.queued(),
                                      str(error))
                log.error("auto sync stopped: %s", error)
                return
            except SyncBusyError as error:
                log.info("auto sync skipped: %s", error)
            except UhadminError as error:
                log.warning("auto sync failed: %s", error)
            except Exception:
                log.exception("auto sync crashed; retrying later")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # lands in the same loop step as the wake-up, and stop() then waited forever.
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                continue
            await asyncio.sleep(self.debounce_s)
