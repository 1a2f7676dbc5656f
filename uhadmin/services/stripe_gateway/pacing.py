"""Client-side pacing of Stripe calls: even slots at a rate, and a pace that backs off on 429.

`RatePacer(rate)` hands out evenly spaced slots; `set_rate` changes the rate at run time.
`AdaptivePacer(ceiling)` paces at most at `ceiling` requests/s (None: unpaced) and, from
any server, halves its pace on a 429 (at most once a second) and recovers gradually (10 %
a second without a 429) back to the ceiling, or to unpaced.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

# A backed-off pace never drops under this: a server that answers 429 to everything still
# sees a retry now and then, not silence.
MIN_RATE = 1.0
DECREASE_FACTOR = 0.5
RECOVERY_FACTOR = 1.1
ADJUST_EVERY_S = 1.0
# Without a ceiling, a pace that has recovered past this is dropped: unpaced again.
UNPACED_ABOVE = 2000.0


class RatePacer:
    """Lets calls through evenly, `rate` per second, never in a burst.

    Each caller gets the next slot on a fixed schedule (1/rate apart; an idle pacer starts
    the schedule at the first caller), so a late wake-up is not lost throughput, and no
    more than one call ever goes ahead of the schedule. A token bucket of one second
    (aiolimiter's AsyncLimiter(rate, 1)) would let `rate` calls out at once, which a
    strict N-per-second limiter answers with 429; a bucket of one (AsyncLimiter(1, 1/rate))
    loses each late wake-up for good (~15 % under the rate, measured).
    """

    def __init__(self, rate: float) -> None:
        self._next_slot = float("-inf")
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        """Change the rate from the next slot on (callers already scheduled keep theirs)."""
        if not rate > 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self._interval = 1.0 / self.rate

    async def acquire(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(self._next_slot, now)
        self._next_slot = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class AdaptivePacer:
    """Paces to a configured ceiling (None: none), lower after 429s, recovering gradually."""

    def __init__(self, ceiling: float | None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pacer: RatePacer | None = None
        self._ceiling: float | None = None
        self._last_adjusted = float("-inf")
        self._sent: deque[float] = deque()  # send times of the last second (unpaced only)
        self.set_rate(ceiling)

    @property
    def ceiling(self) -> float | None:
        """The configured limit in requests/s (None: no limit)."""
        return self._ceiling

    @property
    def rate(self) -> float | None:
        """The pace right now (None: unpaced)."""
        return self._pacer.rate if self._pacer is not None else None

    def set_rate(self, ceiling: float | None) -> None:
        """Set the configured limit (e.g. a shared limit divided among processes)."""
        if ceiling is not None and not ceiling > 0:
            raise ValueError("rate must be positive or None")
        self._ceiling = float(ceiling) if ceiling is not None else None
        self._pace(self._ceiling)

    def _pace(self, rate: float | None) -> None:
        if rate is None:
            self._pacer = None
        elif self._pacer is None:
            self._pacer = RatePacer(rate)
        else:
            self._pacer.set_rate(rate)

    async def acquire(self) -> None:
        now = self._clock()
        self._recover(now)
        if self._pacer is not None:
            await self._pacer.acquire()
            return
        self._sent.append(now)
        while self._sent and self._sent[0] < now - ADJUST_EVERY_S:
            self._sent.popleft()

    def rate_limited(self) -> None:
        """A server answered 429: halve the pace (once per second however many arrive)."""
        now = self._clock()
        if now - self._last_adjusted < ADJUST_EVERY_S:
            return
        current = self.rate if self.rate is not None else max(len(self._sent), MIN_RATE)
        self._pace(max(MIN_RATE, current * DECREASE_FACTOR))
        self._sent.clear()
        self._last_adjusted = now

    def _recover(self, now: float) -> None:
        rate = self.rate
        if rate is None or rate == self._ceiling or now - self._last_adjusted < ADJUST_EVERY_S:
            return
        raised = rate * RECOVERY_FACTOR
        if self._ceiling is not None:
            self._pace(min(raised, self._ceiling))
        else:
            self._pace(None if raised > UNPACED_ABOVE else raised)
        self._last_adjusted = now
