"""Fault injection: added latency, a rate limit and its 429s, random 500s and dropped replies."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from uhadmin.sandbox.common import Response, json_response
from uhadmin.sandbox.errors import StripeApiError


@dataclass(frozen=True)
class FaultSettings:
    """What the sandbox does wrong on purpose. All off by default.

    rate_limit: requests per second before 429s (None = unlimited); rate_limit_code picks
    Stripe's plain `rate_limit` 429 or the `lock_timeout` 429 that says "retry me".
    latency_ms: added before each API request executes. fail_rate: fraction of requests
    answered 500 without taking effect. drop_rate: fraction that take effect and then lose
    their connection with no response at all.
    """

    rate_limit: float | None = None
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit_code: str = "rate_limit"


class RateLimiter:
    """A token bucket refilled at `rate` per second, one second of burst, real time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._rate: float | None = None
        self._stamp = time.monotonic()

    def configure(self, rate: float | None) -> None:
        with self._lock:
            self._rate = rate
            self._tokens = float(rate or 0)
            self._stamp = time.monotonic()

    def allow(self) -> bool:
        with self._lock:
            if self._rate is None:
                return True
            now = time.monotonic()
            self._tokens = min(self._rate, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def roll(probability: float) -> bool:
    return probability > 0 and random.random() < probability


def rate_limited_response(faults: FaultSettings) -> Response:
    """Stripe's 429 for a request over the rate limit, in the wording `rate_limit_code` picks."""
    if faults.rate_limit_code == "lock_timeout":
        error = StripeApiError(
            429, "This object cannot be accessed right now because another API request "
            "or Stripe process is currently accessing it. If you see this error "
            "intermittently, retry the request. If you see this error frequently and are "
            "making multiple concurrent requests to a single object, make your requests "
            "serially or at a lower rate.", code="lock_timeout",
            headers={"Stripe-Should-Retry": "true"})
    else:
        error = StripeApiError(
            429, "Request rate limit exceeded. You can make up to "
            f"{faults.rate_limit:g} requests per second in this offline sandbox. "
            "Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            code="rate_limit")
    return json_response(429, error.body(), error.headers)
