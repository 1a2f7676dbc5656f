"""Request counts by status and endpoint, for tests and benches to see what was asked."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SandboxStats:
    """Request counts since start or the last `reset_stats()`."""

    total: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    by_endpoint: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, method: str, template: str) -> int:
        return self.by_endpoint.get((method, template), 0)


class RequestCounter:
    """Counts served requests; safe to call from the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._by_status: Counter[int] = Counter()
        self._by_endpoint: Counter[tuple[str, str]] = Counter()

    def count(self, method: str, template: str, status: int) -> None:
        with self._lock:
            self._total += 1
            self._by_status[status] += 1
            self._by_endpoint[(method, template)] += 1

    def snapshot(self) -> SandboxStats:
        with self._lock:
            return SandboxStats(self._total, dict(self._by_status), dict(self._by_endpoint))

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_status.clear()
            self._by_endpoint.clear()
