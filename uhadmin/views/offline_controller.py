"""Switches the window between the shared catalog and its offline copy: banner, retries, push."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMainWindow

from uhadmin.domain.changes import Change, ListingsChanged
from uhadmin.domain.offline import OfflineStatus, PushReport
from uhadmin.errors import UhadminError
from uhadmin.views.messages import friendly_text
from uhadmin.views.offline_banner import install_banner
from uhadmin.views.offline_conflicts import ConflictResolver, ConflictView
from uhadmin.views.tasks import TaskRunner

# How often the catalog is tried again while the app works from the copy.
RETRY_INTERVAL_MS = 15_000


class OfflineBackend(ConflictResolver, Protocol):
    async def status(self) -> OfflineStatus: ...
    async def push(self) -> PushReport: ...


def push_summary(report: PushReport) -> str:
    sent = report.applied + report.merged
    text = (f"Back online: {sent} offline change{'s' if sent != 1 else ''} sent "
            f"({report.applied} as made, {report.merged} merged with others' edits)")
    if report.conflicts:
        count = len(report.conflicts)
        text += (f"; {count} conflict{'s' if count != 1 else ''} to settle (both sides "
                 "changed the same thing)")
    return text


class OfflineController(QObject):
    """Shows the banner while offline and keeps it current; retries the catalog in the
    background (and on Retry); when it answers, sends the offline changes and says how
    it went. `reconnect()` is the composition root's: True once the catalog answers and
    the listings calls go to it again."""

    def __init__(self, window: QMainWindow, backend: OfflineBackend,
                 reconnect: Callable[[], Awaitable[bool]], *, actor: str,
                 retry_interval_ms: int = RETRY_INTERVAL_MS) -> None:
        super().__init__(window)
        self.window = window
        self.backend = backend
        self._reconnect = reconnect
        self._actor = actor
        self.offline = False
        self.conflict_view: ConflictView | None = None
        self.banner = install_banner(window)
        self.tasks = TaskRunner(self._show_error, self)
        self.retry_timer = QTimer(self)
        self.retry_timer.setInterval(retry_interval_ms)
        self.retry_timer.timeout.connect(self.retry_soon)
        self.banner.retry_requested.connect(self.retry_soon)
        self.banner.conflicts_requested.connect(self.show_conflicts)
        bridge = getattr(window, "bridge", None)
        if bridge is not None:
            bridge.changed.connect(self._on_change)

    def set_offline(self, offline: bool) -> None:
        """The listings calls switched to the copy (True) or back to the catalog."""
        self.offline = offline
        if offline:
            self.retry_timer.start()
            self.tasks.spawn("banner", self.update_banner())
        else:
            self.retry_timer.stop()

    async def update_banner(self) -> None:
        if self.offline:
            self.banner.show_offline(await self.backend.status())

    def _on_change(self, change: Change) -> None:
        if self.offline and isinstance(change, ListingsChanged):
            self.tasks.spawn("banner", self.update_banner())

    def retry_soon(self) -> None:
        self.tasks.spawn("retry", self.retry(), self.banner.retry_button)

    async def retry(self) -> bool:
        """Try the catalog once; when it answers, push and report. True if back online."""
        if not await self._reconnect():
            await self.update_banner()
            return False
        self.set_offline(False)
        report = await self.backend.push()
        self.banner.show_back(push_summary(report), len(report.conflicts))
        status_bar = getattr(self.window, "statusBar", None)
        if status_bar is not None:
            status_bar().showMessage(push_summary(report), 10_000)
        return True

    def show_conflicts(self) -> ConflictView:
        if self.conflict_view is None:
            self.conflict_view = ConflictView(self.backend, actor=self._actor,
                                              parent=self.window)
            self.conflict_view.finished.connect(lambda _result: self.tasks.spawn(
                "banner", self._after_conflicts()))
        self.conflict_view.open()
        self.tasks.spawn("conflicts", self.conflict_view.load())
        return self.conflict_view

    async def _after_conflicts(self) -> None:
        status = await self.backend.status()
        if self.offline:
            self.banner.show_offline(status)
        elif not status.conflicts:
            self.banner.hide()
        else:
            self.banner.show_back(f"{status.conflicts} conflict(s) to settle", status.conflicts)

    def _show_error(self, error: UhadminError) -> None:
        status_bar = getattr(self.window, "statusBar", None)
        if status_bar is not None:
            status_bar().showMessage(friendly_text(error), 10_000)

    def shutdown(self) -> None:
        self.retry_timer.stop()
        self.tasks.cancel_all()
        if self.conflict_view is not None:
            self.conflict_view.tasks.cancel_all()
