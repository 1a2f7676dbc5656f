"""Bridges the service layer's ChangeBus to a Qt signal so views refresh what they show."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal


class ChangeBridge(QObject):
    """Subscribes to a ChangeBus (duck-typed: `subscribe(callback) -> unsubscribe`) and
    re-emits every Change as `changed(change)`.

    The bus calls subscribers on the event-loop thread, which is the GUI thread under
    qasync; the queued connection type is left to Qt so a publish from another thread
    would still land safely on the GUI thread.
    """

    changed = Signal(object)  # a uhadmin Change: .kind, .ids, .initiator

    def __init__(self, bus: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe = bus.subscribe(self._forward)

    def _forward(self, change: Any) -> None:
        self.changed.emit(change)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
