"""TaskRunner: strong references, latest wins, busy controls, expected errors, cancel on close."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QPushButton

from uhadmin.errors import NotFoundError
from uhadmin.views.tasks import TaskRunner


def test_latest_run_of_a_key_wins_and_the_control_is_busy_meanwhile(qtbot, run):
    shown = []
    runner = TaskRunner(shown.append)
    button = QPushButton("Search")
    qtbot.addWidget(button)
    started = []

    async def search(text: str) -> str:
        started.append(text)
        await asyncio.sleep(0.05)
        return text

    async def scenario():
        first = asyncio.ensure_future(runner.run("search", search("ca"), button))
        await asyncio.sleep(0.01)
        assert not button.isEnabled()
        second = await runner.run("search", search("cal"), button)
        return await first, second

    first, second = run(scenario())
    assert (first, second) == (None, "cal")  # the older run was cancelled, not shown
    assert started == ["ca", "cal"]
    assert button.isEnabled()
    assert shown == []


def test_expected_errors_are_shown_not_raised(run):
    shown = []
    runner = TaskRunner(shown.append)

    async def fails():
        raise NotFoundError("listing 7 does not exist")

    assert run(runner.run("load", fails())) is None
    assert [str(e) for e in shown] == ["listing 7 does not exist"]


def test_unexpected_errors_propagate_to_the_caller(run):
    runner = TaskRunner(lambda _e: None)

    async def bug():
        raise KeyError("oops")

    with pytest.raises(KeyError):
        run(runner.run("load", bug()))


@pytest.mark.slow
def test_cancel_all_stops_running_tasks_and_refuses_new_ones(run):
    runner = TaskRunner()

    async def forever():
        await asyncio.sleep(3600)

    async def scenario():
        task = runner.spawn("poll", forever())
        await asyncio.sleep(0)
        runner.cancel_all()
        await asyncio.gather(task, return_exceptions=True)
        return task

    task = run(scenario())
    assert task.cancelled()
    assert not runner.pending
    coroutine = forever()
    with pytest.raises(RuntimeError):
        runner.start("poll", coroutine)
