"""A controllable clock: real time by default, moved forward by tests with `advance`."""

from __future__ import annotations

import threading
import time


class SandboxClock:
    """Sandbox time = wall-clock time + an offset that only grows (tests call `advance`)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def timestamp(self) -> int:
        """Whole Unix seconds, the unit of every `created` and `expires_at` field."""
        return int(self.now())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        """Back to real time (a fresh account in the shared test server)."""
        with self._lock:
            self._offset = 0.0

    @property
    def offset(self) -> float:
        return self._offset
