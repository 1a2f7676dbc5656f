"""asyncio's ready queue and timer heap for the Qt loop, woken by one QTimer."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque

from PySide6.QtCore import QObject, Qt, QTimer


class LoopScheduler(QObject):
    """What qasync's `_SimpleTimer` does, the way asyncio's own loop does it.

    qasync 0.28 starts one Qt timer per callback (every `call_soon`, every task step). Under
    PySide6 6.11 a callback was once left registered under a timer id Qt no longer had: the
    task it was to wake hung for good with its future finished (found with the GUI bench,
    #11). Here the callbacks wait in a deque and a heap, as in `asyncio.BaseEventLoop`, and a
    single single-shot QTimer is armed for the next one due, so nothing depends on timer ids,
    and a task step costs no timer start and kill.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._ready: deque[asyncio.Handle] = deque()
        self._scheduled: list[tuple[float, int, asyncio.Handle]] = []
        self._order = itertools.count()  # equal deadlines run in the order they were asked
        self._stopped = False
        self._wake = QTimer(self)
        self._wake.setSingleShot(True)
        # Precise: a Coarse timer may fire 5 % late, and asyncio.sleep(0.01) should not.
        self._wake.setTimerType(Qt.TimerType.PreciseTimer)
        self._wake.timeout.connect(self.run_due)
        self._armed_for: float | None = None  # the deadline the QTimer is set to, if active

    # The two methods qasync's loop calls on its `_timer` ---------------------------------
    def add_callback(self, handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        if self._stopped:
            return handle  # a closed loop runs nothing, as qasync's timer did
        if delay <= 0:
            self._ready.append(handle)
            self._arm(0.0)
        else:
            when = time.monotonic() + delay
            heapq.heappush(self._scheduled, (when, next(self._order), handle))
            self._arm(when)
        return handle

    def stop(self) -> None:
        self._stopped = True
        self._wake.stop()
        self._ready.clear()
        self._scheduled.clear()

    def set_debug(self, enabled: bool) -> None:
        """qasync passes the loop's debug flag on; nothing here logs per callback."""

    # ------------------------------------------------------------------------------------
    def _arm(self, when: float) -> None:
        """Make the QTimer fire by `when` (0.0: at the next pass of Qt's event loop)."""
        if self._armed_for is not None and self._armed_for <= when and self._wake.isActive():
            return
        self._armed_for = when
        wait_ms = 0 if not when else max(0, math.ceil((when - time.monotonic()) * 1000))
        self._wake.start(wait_ms)

    def run_due(self) -> None:
        """Run the callbacks ready now and those whose time has come, once each; callbacks
        they add wait for the next pass, so Qt's own events are served in between."""
        self._armed_for = None
        # Qt may serve this timer outside the loop's run_forever (a test's qtbot.wait, the
        # last pass after a stop): a task step run there still finds its loop running.
        outside = asyncio.events._get_running_loop() is None
        if outside:
            asyncio.events._set_running_loop(self._loop)
        try:
            self._run_ready()
        finally:
            if outside:
                asyncio.events._set_running_loop(None)

    def _run_ready(self) -> None:
        now = time.monotonic()
        while self._scheduled and self._scheduled[0][0] <= now:
            self._ready.append(heapq.heappop(self._scheduled)[2])
        try:
            for _ in range(len(self._ready)):
                handle = self._ready.popleft()
                if not handle._cancelled:
                    handle._run()
                if self._stopped:
                    return
        finally:  # even past a KeyboardInterrupt, what is left still runs later
            if not self._stopped:
                self._rearm()

    def _rearm(self) -> None:
        while self._scheduled and self._scheduled[0][2]._cancelled:
            heapq.heappop(self._scheduled)  # a cancelled sleep need not wake the loop
        if self._ready:
            self._arm(0.0)
        elif self._scheduled:
            self._arm(self._scheduled[0][0])
