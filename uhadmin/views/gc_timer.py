"""Python's cycle collector run from a Qt timer on the GUI thread, never on a worker's."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

# A young generation's collection walks every object allocated since the last one. At
# 500 ms a bulk action's worker thread left ~200k young objects and one collection stalled
# the window 100-270 ms (bench/gui_bench.py, #11). During a sync of 2,000 listings, ticks
# 50 ms apart still let the youngest collections take up to 17 ms and the next generation's
# 32 ms; 20 ms apart, 10 and 28 ms, for a timer call every 20 ms.
COLLECT_EVERY_MS = 20
# A full collection walks every object the session keeps (50,000 and more with the sandbox
# and a few pages loaded): 50-80 ms, a visible stutter in a progress bar (#11). While long
# work shows its progress, and for a moment after (the table still refreshes), a due full
# one waits, as browsers move theirs to idle time; the young generations, where most
# garbage dies, are still collected. Past this many times the usual pace it runs anyway,
# so memory stays bounded.
FULL_COLLECTION_DEFER_LIMIT = 20
QUIET_AFTER_WORK_S = 1.0


class MainThreadGarbageCollector(QObject):
    """Runs Python's cycle collector on the GUI thread only.

    Left alone, the collector runs on whichever thread allocates at the wrong moment, such
    as a database worker, and Qt objects freed there warn "Timers cannot be stopped from
    another thread" or crash. Anki does the same: automatic collection off, a timer on.
    """

    def __init__(self, parent: QObject | None = None,
                 interval_ms: int = COLLECT_EVERY_MS,
                 busy: Callable[[], bool] = lambda: False) -> None:
        super().__init__(parent)
        self._busy = busy
        self._busy_until = 0.0  # monotonic time before which long work counts as running
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start()

    def collect_if_due(self) -> int | None:
        """Collect the oldest generation that is due, as the automatic collector would
        (a full collection every tick would cost a few hundred ms with SQLAlchemy and babel
        loaded), a full one only once long work is over; returns the generation collected,
        if any."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        now = time.monotonic()
        if self._busy():
            self._busy_until = now + QUIET_AFTER_WORK_S
        if counts[2] > thresholds[2] and (
                now >= self._busy_until
                or counts[2] > thresholds[2] * FULL_COLLECTION_DEFER_LIMIT):
            gc.collect(2)
            return 2
        for generation in (1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return generation
        return None

    @staticmethod
    def freeze_startup_objects() -> None:
        """Move everything alive after start-up (modules, classes, caches) out of the
        collector's sight, so later full collections only walk what the session made."""
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()


