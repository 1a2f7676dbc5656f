"""Bridges the service layer's ChangeBus to a Qt signal so views refresh what they show."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from uhadmin.domain.changes import Change
from uhadmin.views.ports import ChangeSource


class ChangeBridge(QObject):
    """Subscribes to a ChangeSource and re-emits every change as `changed(change)`, a
    typed value of `uhadmin.domain.changes` (ListingsChanged, SyncChanged,
    CheckoutAttemptChanged) that each view matches on to refresh only what it touches.

    The bus calls subscribers on the event-loop thread, which is the GUI thread under
    qasync; the queued connection type is left to Qt so a publish from another thread
    would still land safely on the GUI thread.
    """

    changed = Signal(object)  # a uhadmin.domain.changes.Change

    def __init__(self, bus: ChangeSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._forward)

    def _forward(self, change: Change) -> None:
        self.changed.emit(change)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
