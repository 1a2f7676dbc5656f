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
from collections.abc import Awaitable, Callable

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

    Callers queue in arrival order and each slot is decided when its turn comes, 1/rate
    after the previous slot at the rate set *then*: a rate lowered while many calls wait
    (another sync started, a 429) holds back every one of them at once. Slots handed out
    in advance kept the old rate for all calls already waiting, up to a few hundred of
    them (measured: 4 syncs sent ~50 requests/s for 8-17 s at start-up, ~10 % 429s).
    A slot follows the previous slot, not the previous wake-up, so a late wake-up is not
    lost throughput; an idle pacer starts again at the next caller, without credit. A
    token bucket of one second (aiolimiter's AsyncLimiter(rate, 1)) would let `rate`
    calls out at once, which a strict N-per-second limiter answers with 429; a bucket of
    one (AsyncLimiter(1, 1/rate)) loses each late wake-up for good (~15 % under the rate).
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._last_slot = float("-inf")
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        """Change the rate from the next slot on, for callers already waiting too."""
        if not rate > 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self._interval = 1.0 / self.rate

    def _queue(self) -> asyncio.Lock:
        """The line of waiting callers (an asyncio lock belongs to one event loop)."""
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Lock())
        return self._turns[1]

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def acquire(self) -> None:
        asked = self._now()
        async with self._queue():
            while True:  # the interval is read again after each sleep: it may have changed
                slot = max(self._last_slot + self._interval, asked)
                now = self._now()
                if slot <= now:
                    break
                await self._sleep(slot - now)
            self._last_slot = slot


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
        ceiling = float(ceiling) if ceiling is not None else None
        backed_off = self.rate is not None and self.rate != self._ceiling
        self._ceiling = ceiling
        # A pace lowered by 429s stays lowered (and recovers as usual) when the limit is set
        # again: a heartbeat re-setting the same shared limit every beat undid the back-off.
        if backed_off and self.rate is not None:
            self._pace(self.rate if ceiling is None else min(self.rate, ceiling))
        else:
            self._pace(ceiling)

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
