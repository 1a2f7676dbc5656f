"""The asyncio event loop on Qt: qasync's, with asyncio's scheduling and its last pass fixed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

import qasync
from PySide6.QtCore import QCoreApplication
from PySide6.QtCore import QEventLoop as QtEventLoopFlags
from PySide6.QtWidgets import QApplication

from uhadmin.views.loop_scheduler import LoopScheduler

T = TypeVar("T")


class QtEventLoop(qasync.QEventLoop):
    """qasync's QEventLoop whose `run_until_complete` keeps asyncio's running loop set
    while it processes the Qt events left when the future finished.

    qasync 0.28 clears the running loop, then processes those events "one last time": a task
    step waiting there (one a slot scheduled just before the end, e.g. a reload after a
    dialog's save) runs with no running loop and fails with "RuntimeError: no running event
    loop" at its first `asyncio.get_running_loop()` (a `gather`, a `run_in_executor`). Python
    3.12 made `asyncio.wait_for` one loop iteration shorter, so such steps land in that pass
    far more often there; the bug itself is the same on every version.
    """

    def __init__(self, app: QCoreApplication | None = None) -> None:
        super().__init__(app)
        self._timer = LoopScheduler(self)  # in place of qasync's timer-per-callback: see there

    def run_until_complete(self, future: Awaitable[T]) -> T:
        if self.is_running():
            raise RuntimeError("Event loop already running")
        task = asyncio.ensure_future(future, loop=self)

        def stop(_finished: asyncio.Future) -> None:
            self.stop()

        task.add_done_callback(stop)
        try:
            self.run_forever()
        finally:
            task.remove_done_callback(stop)
        # The events queued while stopping, e.g. the first step of a task just spawned.
        asyncio.events._set_running_loop(self)
        try:
            QApplication.processEvents(QtEventLoopFlags.ProcessEventsFlag.AllEvents)
        finally:
            asyncio.events._set_running_loop(None)
        if not task.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return task.result()


def run_app(main: Coroutine[Any, Any, T]) -> T:
    """Run the app's main coroutine on a QtEventLoop over the existing QApplication (what
    `qasync.run` does, with this loop and without changing the global loop policy)."""
    app = QApplication.instance() or QApplication([])
    with asyncio.Runner(loop_factory=lambda: QtEventLoop(app)) as runner:
        return runner.run(main)
