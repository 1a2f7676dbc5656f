"""Per-view asyncio task runner: strong references, latest wins, busy controls, cancel on close."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from uhadmin.errors import UhadminError

T = TypeVar("T")

# A control is anything with setEnabled (QWidget, QAction).
Control = Any


class TaskRunner(QObject):
    """Runs a view's coroutines as tasks it owns.

    qasync 0.28 keeps no reference to the tasks an `@asyncSlot` starts, so the runner holds
    them; a second run of the same action key cancels the first (the newest search wins);
    the controls that started an action are disabled until its last run ends; and
    `cancel_all()` (called when the view closes) stops everything still running.
    Expected errors (`UhadminError`) go to `on_expected_error`; anything else propagates to
    the caller, where `@asyncSlot` hands it to `sys.excepthook`.
    """

    busy_changed = Signal(str, bool)  # action key, running

    def __init__(self, on_expected_error: Callable[[UhadminError], None] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_expected_error = on_expected_error
        self._latest: dict[str, asyncio.Task] = {}
        self._all: set[asyncio.Task] = set()
        self._controls: dict[str, list[Control]] = {}
        self._closed = False

    # --- starting work -------------------------------------------------------------

    def start(self, key: str, coroutine: Awaitable[T], *controls: Control) -> asyncio.Task:
        """Schedule `coroutine` as the newest run of `key`, cancelling the previous one."""
        if self._closed:
            if asyncio.iscoroutine(coroutine):
                coroutine.close()
            raise RuntimeError("task runner is closed")
        previous = self._latest.get(key)
        if previous is not None and not previous.done():
            previous.cancel()
        task = asyncio.ensure_future(coroutine)
        self._latest[key] = task
        self._all.add(task)
        if controls:
            self._controls[key] = list(controls)
        for control in self._controls.get(key, ()):
            control.setEnabled(False)
        self.busy_changed.emit(key, True)
        task.add_done_callback(functools.partial(self._finished, key))
        return task

    async def run(self, key: str, coroutine: Awaitable[T], *controls: Control) -> T | None:
        """Start `coroutine` under `key` and wait for it.

        Returns its result, or None when it was superseded, cancelled, or failed with an
        expected error (which has been shown by then).
        """
        task = self.start(key, coroutine, *controls)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the caller itself is being cancelled: let it stop
            return None  # our task lost to a newer run, or the view closed
        except UhadminError as exc:
            self.report(exc)
            return None

    def spawn(self, key: str, coroutine: Awaitable[Any], *controls: Control) -> asyncio.Task:
        """Start `coroutine` without waiting (timers, signals that are not async slots).

        Its expected errors are shown like `run`'s; unexpected ones go to sys.excepthook.
        """
        task = self.start(key, coroutine, *controls)
        task.add_done_callback(self._report_outcome)
        return task

    def _report_outcome(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        if isinstance(error, UhadminError):
            self.report(error)
        else:
            sys.excepthook(type(error), error, error.__traceback__)

    def report(self, error: UhadminError) -> None:
        if self._on_expected_error is not None and not self._closed:
            self._on_expected_error(error)

    # --- state -----------------------------------------------------------------------

    def is_running(self, key: str) -> bool:
        task = self._latest.get(key)
        return task is not None and not task.done()

    @property
    def pending(self) -> frozenset[asyncio.Task]:
        return frozenset(t for t in self._all if not t.done())

    async def wait_idle(self) -> None:
        """Wait until no task of this runner is running (tests and the bench use it)."""
        # Let freshly scheduled @asyncSlot wrappers reach `start` first.
        for _ in range(3):
            await asyncio.sleep(0)
        while self.pending:
            await asyncio.wait(self.pending)
            for _ in range(3):
                await asyncio.sleep(0)

    def cancel(self, key: str) -> bool:
        """Cancel the running task of `key` (a Cancel button); False if none was running."""
        task = self._latest.get(key)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def cancel_all(self) -> None:
        """Cancel every running task and refuse new ones (the view is closing)."""
        self._closed = True
        current = _current_task()
        for task in list(self._all):
            if task is not current:  # a task closing its own dialog finishes normally
                task.cancel()

    def _finished(self, key: str, task: asyncio.Task) -> None:
        self._all.discard(task)
        if self._latest.get(key) is task:
            del self._latest[key]
            for control in self._controls.get(key, ()):
                _set_enabled_if_alive(control, True)
            try:
                self.busy_changed.emit(key, False)
            except RuntimeError:
                pass  # the view (and this runner's C++ half) is already gone


def _current_task() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None  # called outside the event loop (e.g. a close event in a plain test)


def _set_enabled_if_alive(control: Control, enabled: bool) -> None:
    try:
        control.setEnabled(enabled)
    except RuntimeError:
        pass  # the C++ object is gone because its window closed first


def enable_all(controls: Iterable[Control], enabled: bool) -> None:
    for control in controls:
        _set_enabled_if_alive(control, enabled)
