"""The Qt loop's scheduling: asyncio's order, cancellation, Qt's events served between passes."""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QTimer


def test_callbacks_run_in_asyncio_order(run, qt_loop):
    seen: list[str] = []

    async def scenario() -> None:
        qt_loop.call_later(0.03, seen.append, "late")
        qt_loop.call_later(0.01, seen.append, "soon")
        qt_loop.call_soon(seen.append, "first")
        qt_loop.call_soon(seen.append, "second")
        cancelled = qt_loop.call_later(0.02, seen.append, "cancelled")
        cancelled.cancel()
        qt_loop.call_soon(seen.append, "third").cancel()
        await asyncio.sleep(0.06)

    run(scenario())
    assert seen == ["first", "second", "soon", "late"]


def test_a_sleep_is_neither_early_nor_much_late(run):
    async def slept(seconds: float) -> float:
        began = time.monotonic()
        await asyncio.sleep(seconds)
        return time.monotonic() - began

    for seconds in (0.005, 0.02, 0.1):
        took = run(slept(seconds))
        assert took >= seconds
        assert took < seconds + 0.5  # generous: CI machines are busy, a lost wake-up is not


def test_qt_events_are_served_between_passes(run, qt_loop):
    """A callback that schedules the next one at once must not starve Qt: a Qt timer due
    meanwhile fires before a chain of 200 steps ends (a window repaints during long work)."""
    steps: list[int] = []
    qt_fired_at: list[int] = []

    async def scenario() -> None:
        done = asyncio.get_running_loop().create_future()

        def step(n: int) -> None:
            steps.append(n)
            if n == 200:
                done.set_result(None)
            else:
                qt_loop.call_soon(step, n + 1)

        QTimer.singleShot(0, lambda: qt_fired_at.append(len(steps)))
        qt_loop.call_soon(step, 1)
        await done

    run(scenario())
    assert steps == list(range(1, 201))
    assert qt_fired_at and qt_fired_at[0] < 200


def test_thousands_of_thread_results_each_wake_their_task(run, qt_loop):
    """Every executor result wakes the task awaiting it, amid timers and sleeps: the GUI
    bench once found a task hung with its future finished under qasync's own timers."""
    pool = ThreadPoolExecutor(4)
    randomness = random.Random(7)

    def work(n: int) -> int:
        if n % 7 == 0:
            time.sleep(0.0005)
        return n

    async def one(n: int) -> int:
        if n % 5 == 0:
            await asyncio.sleep(randomness.random() / 200)
        return await qt_loop.run_in_executor(pool, work, n)

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(one(n) for n in range(3000))))

    try:
        assert run(scenario()) == list(range(3000))
    finally:
        pool.shutdown()


def test_a_callback_qt_serves_outside_run_forever_still_finds_its_loop(qt_loop, qapp):
    """pytest-qt's waits and the last pass after a stop process Qt events with the loop not
    running: a task step run there must still see it (else "no running event loop")."""
    seen: list[object] = []

    def note() -> None:
        seen.append(asyncio.get_running_loop())

    qt_loop.call_soon(note)
    qapp.processEvents()
    assert seen == [qt_loop]
    assert asyncio.events._get_running_loop() is None  # and it is put back
