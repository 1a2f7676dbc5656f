"""The GUI's cycle collector: it collects on the GUI thread's timer, and a due full
collection waits while long work shows its progress (a stutter there is what #11 forbids)."""

from __future__ import annotations

import gc
import weakref

import pytest

from uhadmin.views import gc_timer
from uhadmin.views.gc_timer import (
    FULL_COLLECTION_DEFER_LIMIT,
    QUIET_AFTER_WORK_S,
    MainThreadGarbageCollector,
)
from uhadmin.views.status_items import ProgressPanel


class Cycle:
    """An object that only the cycle collector can free."""

    def __init__(self) -> None:
        self.me = self


def test_cyclic_garbage_is_collected_by_the_timer(qtbot) -> None:
    collector = MainThreadGarbageCollector(interval_ms=5)
    try:
        assert not gc.isenabled()  # never on a worker thread at a random moment
        garbage = Cycle()
        gone = weakref.ref(garbage)
        del garbage
        alive: list[Cycle] = []

        def collected() -> bool:
            alive.extend(Cycle() for _ in range(1000))  # what makes collections due
            return gone() is None

        qtbot.waitUntil(collected, timeout=10_000)
    finally:
        collector.stop()
    assert gc.isenabled()


def test_a_due_full_collection_waits_for_long_work_to_end(
        qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []
    counts = [(0, 0, 11)]
    monkeypatch.setattr(gc_timer.gc, "collect", lambda generation=2: collected.append(generation))
    monkeypatch.setattr(gc_timer.gc, "get_count", lambda: counts[0])
    monkeypatch.setattr(gc_timer.gc, "get_threshold", lambda: (700, 10, 10))
    clock = [1000.0]
    monkeypatch.setattr(gc_timer.time, "monotonic", lambda: clock[0])
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    collector = MainThreadGarbageCollector(interval_ms=60_000,
                                           busy=lambda: not panel.isHidden())
    try:
        panel.begin(None, "Approving 2,000 listings", 2000)
        assert collector.collect_if_due() is None  # due, but the work is on show
        counts[0] = (0, 11, 11)
        assert collector.collect_if_due() == 1  # the young generations still go
        panel.finish()
        counts[0] = (0, 0, 11)
        assert collector.collect_if_due() is None  # the table may still be refreshing
        clock[0] += QUIET_AFTER_WORK_S
        assert collector.collect_if_due() == 2  # the work is over and things are quiet
        panel.begin(None, "Syncing 100,000 listings", 100_000)
        counts[0] = (0, 0, 10 * FULL_COLLECTION_DEFER_LIMIT + 1)
        assert collector.collect_if_due() == 2  # deferred long enough: memory stays bounded
        assert collected == [1, 2, 2]
    finally:
        collector.stop()
