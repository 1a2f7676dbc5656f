"""Python's cycle collector run from a Qt timer on the GUI thread, never on a worker's."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

# A young generation's collection walks every object allocated since the last one. At
# 500 ms a bulk action's worker thread left ~200k young objects and one collection stalled
# the window 100-270 ms (bench/gui_bench.py, #11); every 50 ms keeps each one short.
COLLECT_EVERY_MS = 50


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
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start()

    def collect_if_due(self) -> int | None:
        """Collect the oldest generation that is due, as the automatic collector would
        (a full collection every tick would cost a few hundred ms with SQLAlchemy and babel
        loaded); returns the generation collected, if any."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
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


