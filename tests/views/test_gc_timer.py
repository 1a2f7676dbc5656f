"""The GUI thread's cycle collector: young generations often, a full one only when worth it."""

from __future__ import annotations

import gc

import pytest

from uhadmin.views.gc_timer import MainThreadGarbageCollector, full_collection_worth_it


def test_a_full_collection_waits_for_a_quarter_more_old_objects():
    assert full_collection_worth_it(10, None)  # none ran yet
    assert not full_collection_worth_it(65_000, 60_000)
    assert not full_collection_worth_it(75_000, 60_000)
    assert full_collection_worth_it(75_001, 60_000)


@pytest.fixture
def collector(qapp):
    thresholds = gc.get_threshold()
    collector = MainThreadGarbageCollector(interval_ms=60_000)  # driven by hand here
    yield collector
    collector.stop()
    gc.set_threshold(*thresholds)
    # What the test froze stays frozen, as the suite's own conftest freezes after collection.


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_young_cycles_are_freed_and_full_collections_are_paced(collector):
    gc.set_threshold(10, 2, 2)
    collector.freeze_startup_objects()  # as the app does once its first page is up
    seen: list[int | None] = []
    kept = [Node() for _ in range(50_000)]  # old objects the session keeps
    for _ in range(200):
        for _ in range(20):
            Node()  # garbage, in cycles
        seen.append(collector.collect_if_due())
    assert set(seen) <= {0, 1, 2, None}
    assert seen.count(0) > seen.count(1) > 0
    fulls = seen.count(2)
    assert fulls == 1, "the first full collection runs; then the old set never grew by 1/4"
    kept += [Node() for _ in range(20_000)]  # now it has
    for _ in range(200):
        for _ in range(20):
            Node()
        seen.append(collector.collect_if_due())
    assert seen.count(2) == fulls + 1
    assert not [obj for obj in gc.garbage if isinstance(obj, Node)]
