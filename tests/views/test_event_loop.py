"""The app's event loop: a task spawned just before `run_until_complete` ends still runs
inside the loop (qasync's own loop steps it with no running loop)."""

from __future__ import annotations

import asyncio

import pytest

from uhadmin.views.event_loop import QtEventLoop


def test_a_task_spawned_at_the_end_of_a_run_sees_its_loop(qt_loop: QtEventLoop):
    seen: list[str] = []

    async def leaf() -> None:
        seen.append("ok" if asyncio.get_running_loop() is qt_loop else "other loop")

    async def spawned() -> None:
        await asyncio.gather(leaf(), leaf())  # gather asks for the running loop

    tasks = []

    async def slot_like() -> None:  # what a dialog's save does: emit, a slot spawns a reload
        tasks.append(asyncio.ensure_future(spawned()))

    qt_loop.run_until_complete(slot_like())
    qt_loop.run_until_complete(asyncio.wait_for(tasks[0], timeout=5))
    assert seen == ["ok", "ok"]


def test_run_until_complete_returns_the_result_and_refuses_reentry(qt_loop: QtEventLoop):
    async def nested() -> None:
        inner = asyncio.sleep(0)
        try:
            qt_loop.run_until_complete(inner)
        finally:
            inner.close()

    assert qt_loop.run_until_complete(asyncio.sleep(0, result=7)) == 7
    with pytest.raises(RuntimeError, match="already running"):
        qt_loop.run_until_complete(nested())
