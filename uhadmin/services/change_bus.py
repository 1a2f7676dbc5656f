"""Broadcast of what changed and who changed it, so each view decides whether to refresh."""

from __future__ import annotations

import logging
from collections.abc import Callable

from uhadmin.domain.changes import Change

log = logging.getLogger(__name__)


class ChangeBus:
    """Synchronous publish/subscribe on the caller's thread (the event loop's), carrying
    the typed change values of `uhadmin.domain.changes` (Anki's
    operation_did_execute(changes, initiator))."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Change], None]] = []

    @property
    def listened(self) -> bool:
        """Whether anyone subscribes (a writer counts what only a listener would show)."""
        return bool(self._subscribers)

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call `callback(change)` after every publish; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, change: Change) -> None:
        """Tell every subscriber; one that raises is logged and does not stop the others."""
        # A copy: a subscriber may unsubscribe itself (a closing view) while being called.
        for callback in list(self._subscribers):
            try:
                callback(change)
            except Exception:
                log.exception("change subscriber %r failed on %r", callback, change)
