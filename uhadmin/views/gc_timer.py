"""Python's cycle collector run from a Qt timer on the GUI thread, never on a worker's."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

# A young generation's collection walks every object allocated since the last one. At
# 500 ms a bulk action's worker thread left ~200k young objects and one collection stalled
# the window 100-270 ms (bench/gui_bench.py, #11); every 50 ms keeps each one short.
COLLECT_EVERY_MS = 50
# A full collection walks every object that outlived the younger generations: with a session
# of 20,000 rows that is ~65,000 objects and 60-80 ms (bench/gui_bench.py, #11). Python's own
# collector runs one only once a quarter more such objects have piled up since the last
# (CPython's gcmodule.c, long_lived_pending > long_lived_total / 4); so does this timer.
FULL_COLLECTION_GROWTH = 0.25


def full_collection_worth_it(old_objects: int, after_last_full: int | None) -> bool:
    """True when the oldest generation grew by a quarter since the last full collection
    (or none ran yet): below that, a full collection costs more than it can free."""
    if after_last_full is None:
        return True
    return old_objects - after_last_full > after_last_full * FULL_COLLECTION_GROWTH


class MainThreadGarbageCollector(QObject):
    """Runs Python's cycle collector on the GUI thread only.

    Left alone, the collector runs on whichever thread allocates at the wrong moment, such
    as a database worker, and Qt objects freed there warn "Timers cannot be stopped from
    another thread" or crash. Anki does the same: automatic collection off, a timer on.
    """

    def __init__(self, parent: QObject | None = None,
                 interval_ms: int = COLLECT_EVERY_MS) -> None:
        super().__init__(parent)
        gc.disable()
        self._old_after_last_full: int | None = None
        self._middle_collections = 0  # generation-1 collections since a full one was due
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start()

    def collect_if_due(self) -> int | None:
        """Collect the oldest generation that is due, as the automatic collector would
        (a full collection only once the old objects grew by a quarter); returns the
        generation collected, if any."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if counts[1] > thresholds[1]:
            self._middle_collections += 1
            if self._middle_collections > thresholds[2]:  # where a full one would be due
                self._middle_collections = 0
                old_objects = len(gc.get_objects(2))  # a few ms, where the full one took 60-80
                if full_collection_worth_it(old_objects, self._old_after_last_full):
                    gc.collect(2)
                    self._old_after_last_full = len(gc.get_objects(2))
                    return 2
            gc.collect(1)
            return 1
        if counts[0] > thresholds[0]:
            gc.collect(0)
            return 0
        return None

    def freeze_startup_objects(self) -> None:
        """Move everything alive after start-up (modules, classes, caches) out of the
        collector's sight, so later full collections only walk what the session made."""
        gc.collect()
        gc.freeze()
        self._old_after_last_full = 0

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()


