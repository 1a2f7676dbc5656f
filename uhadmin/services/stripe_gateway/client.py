"""The one Stripe connection: SDK client per key, rate limit, retries, error mapping, mode guard.

Public API (every other module that talks to Stripe goes through `StripeGateway.call`):

    config = GatewayConfig(api_key=key, api_base=None | "http://127.0.0.1:PORT",
                           rate_limit="auto" | None | float, max_concurrency=10,
                           connect_timeout=5.0, read_timeout=30.0, max_attempts=6)
    gateway = StripeGateway(config)
    gateway.mode                      # "test" | "live", from the key's prefix
    product = await gateway.call(
        "products.create",
        lambda client, options: client.v1.products.create_async(params, options),
        idempotency_key="uh_...",     # POSTs: the caller's derived key, reused by every retry
    )
    await gateway.probe()             # True when Stripe answers (one GET, no retries)
    gateway.stats                     # GatewayStats: requests, by_status, retries, rate_limited
    gateway.api_calls                 # HTTP requests sent so far (every attempt counts)
    await gateway.aclose()

`gateway.set_rate_limit(rate | None)` changes the limit at run time (a shared limit
divided among processes); `gateway.pace` is the pace right now (None: unpaced).

`call` waits for the rate limiter and a concurrency slot, sends, retries 429 /
`lock_timeout` / 409 / 5xx / network errors with exponential backoff and jitter (the same
idempotency key each time, so Stripe runs a write at most once), checks `livemode`
against the key's mode, and turns SDK errors into `uhadmin.errors`:
network or exhausted retries -> StripeUnavailableError (offline / outcome unknown),
4xx -> StripeRefusedError(code, param, http_status), livemode mismatch -> ModeMismatchError.
The key never appears in a message, a log line or a repr.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
import stripe
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from uhadmin.config import SecretKey, key_mode
from uhadmin.errors import ModeMismatchError, StripeRefusedError, StripeUnavailableError
from uhadmin.services.stripe_gateway.pacing import AdaptivePacer, RatePacer
from uhadmin.services.stripe_gateway.recording import (
    RecordingHTTPXClient,
    RecordSink,
    records_logical_call,
)
from uhadmin.services.stripe_gateway.responses import livemode_of

log = logging.getLogger(__name__)

# Stripe's own API: where "auto" paces to Stripe's documented limits.
STRIPE_API_HOST = "api.stripe.com"


def talks_to_stripe(api_base: str | None) -> bool:
    """Whether calls go to Stripe itself (no base URL, or one on stripe.com)."""
    if not api_base:
        return True
    host = (urlsplit(api_base).hostname or "").lower()
    return host == "stripe.com" or host.endswith(".stripe.com")

T = TypeVar("T")

# Stripe's documented limits (STRIPE_FACTS.md) and the share of them the client uses: a
# little under the limit, so clock skew and late wake-ups between us and Stripe do not turn
# into 429 storms.
TEST_MODE_LIMIT = 25.0
LIVE_MODE_GLOBAL_LIMIT = 100.0
LIVE_MODE_ENDPOINT_LIMIT = 25.0
LIMIT_SHARE = 0.95

RateLimitSetting = float | None | Literal["auto"]
SendFunction = Callable[[stripe.StripeClient, stripe.RequestOptions], Awaitable[T]]


@dataclass(frozen=True)
class GatewayConfig:
    """How to reach Stripe. `rate_limit`: "auto" follows the target: Stripe's own API
    (no `api_base`, or a stripe.com one) gets the key mode's limits (test 25/s, live 100/s
    global and 25/s per endpoint, each times LIMIT_SHARE), any other base URL (a sandbox,
    a Stripe-compatible server) none; None means no limit; a number is requests per second.
    Whatever the setting, 429 answers lower the pace for a while (pacing.AdaptivePacer)."""

    api_key: SecretKey | str
    api_base: str | None = None
    rate_limit: RateLimitSetting = "auto"
    # In flight at once: 25 requests/s at Stripe's ~0.3 s latency needs about 8; more only
    # makes httpcore's pool scan longer (it checks every connection per request).
    max_concurrency: int = 10
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 6
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 8.0

    def __repr__(self) -> str:
        key = self.api_key if isinstance(self.api_key, SecretKey) else SecretKey(self.api_key)
        return (f"GatewayConfig(api_key={key.masked!r}, api_base={self.api_base!r}, "
                f"rate_limit={self.rate_limit!r}, max_concurrency={self.max_concurrency})")


@dataclass(frozen=True)
class GatewayStats:
    """What the gateway sent: every HTTP attempt, by status (0 = no answer at all)."""

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    retries: int = 0
    rate_limited: int = 0


class _Retryable(Exception):
    """Internal: an attempt whose outcome says "try again with the same key"."""

    def __init__(self, cause: stripe.StripeError, rate_limited: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.rate_limited = rate_limited


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable)


def _message(exc: stripe.StripeError) -> str:
    return (getattr(exc, "user_message", None) or str(exc) or type(exc).__name__).strip()


def _error_code(exc: stripe.StripeError) -> str | None:
    error = getattr(exc, "error", None)
    return getattr(error, "code", None) if error is not None else getattr(exc, "code", None)


def _classify(exc: stripe.StripeError) -> Exception:
    """Map one SDK error to what the caller should do: _Retryable, or a uhadmin error."""
    status = getattr(exc, "http_status", None)
    if isinstance(exc, stripe.RateLimitError):  # 429: rate_limit or lock_timeout
        return _Retryable(exc, rate_limited=True)
    if isinstance(exc, stripe.APIConnectionError):
        return _Retryable(exc, rate_limited=False)
    if isinstance(exc, stripe.APIError) and (status is None or status == 409 or status >= 500):
        return _Retryable(exc, rate_limited=False)
    if isinstance(exc, stripe.AuthenticationError):
        return StripeRefusedError(f"Stripe refused the API key: {_message(exc)}",
                                  code="authentication", http_status=status)
    if isinstance(exc, stripe.PermissionError):
        return StripeRefusedError(f"the API key lacks a permission: {_message(exc)}",
                                  code="permission", http_status=status)
    if isinstance(exc, stripe.IdempotencyError):
        return StripeRefusedError(_message(exc), code="idempotency_error", http_status=status)
    param = getattr(exc, "param", None)
    return StripeRefusedError(_message(exc), code=_error_code(exc), param=param,
                              http_status=status)


def _unavailable(exc: _Retryable, attempts: int) -> StripeUnavailableError:
    cause = exc.cause
    status = getattr(cause, "http_status", None)
    if isinstance(cause, stripe.APIConnectionError):
        what = "no answer from Stripe (network down or timed out)"
    elif exc.rate_limited:
        what = "Stripe kept answering 429 (rate limited)"
    else:
        what = f"Stripe answered {status or 'an error'} (outcome unknown)"
    error = StripeUnavailableError(f"{what} after {attempts} attempt(s)")
    error.http_status = status  # type: ignore[attr-defined]
    return error


class StripeGateway:
    """One SDK client per key and event loop, behind a limiter, a semaphore and retries."""

    def __init__(self, config: GatewayConfig,
                 *, sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.config = config
        self._key = (config.api_key if isinstance(config.api_key, SecretKey)
                     else SecretKey(config.api_key))
        self.mode: Literal["test", "live"] = key_mode(self._key)
        self._sleep = sleep
        self._status_counter: Counter[int] = Counter()
        self._retries = 0
        self._rate_limited = 0
        self._global_limiter, self._endpoint_rate = self._limits(config.rate_limit)
        self._endpoint_limiters: dict[str, RatePacer] = {}
        self._semaphore = asyncio.Semaphore(max(1, config.max_concurrency))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: stripe.StripeClient | None = None
        self._http: RecordingHTTPXClient | None = None
        self._stale_http: list[RecordingHTTPXClient] = []
        # Where every HTTP attempt is reported (the Stripe log); None records nothing.
        self.recorder: RecordSink | None = None

    def __repr__(self) -> str:
        return f"StripeGateway(mode={self.mode!r}, api_base={self.config.api_base!r})"

    # --- configuration ------------------------------------------------------------------
    def _limits(self, setting: RateLimitSetting) -> tuple[AdaptivePacer, float | None]:
        if setting is None:
            return AdaptivePacer(None), None
        if setting == "auto":
            if not talks_to_stripe(self.config.api_base):
                return AdaptivePacer(None), None
            if self.mode == "live":
                return (AdaptivePacer(LIVE_MODE_GLOBAL_LIMIT * LIMIT_SHARE),
                        LIVE_MODE_ENDPOINT_LIMIT * LIMIT_SHARE)
            return AdaptivePacer(TEST_MODE_LIMIT * LIMIT_SHARE), None
        rate = float(setting)
        if not rate > 0:
            raise ValueError("rate_limit must be positive, None or 'auto'")
        return AdaptivePacer(rate), None

    def set_rate_limit(self, rate: float | None) -> None:
        """Pace to `rate` requests/s from now on (None: no limit; 429s still slow it)."""
        self._global_limiter.set_rate(rate)

    @property
    def rate_limit(self) -> float | None:
        """The limit set now in requests/s (None: none), before any 429 back-off."""
        return self._global_limiter.ceiling

    @property
    def pace(self) -> float | None:
        """Requests/s the gateway paces to right now (None: unpaced)."""
        return self._global_limiter.rate

    @property
    def client(self) -> stripe.StripeClient:
        """The SDK client for the running event loop (HTTPX connections belong to a loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self._http is not None:
                self._stale_http.append(self._http)
            timeout = httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout)
            self._http = RecordingHTTPXClient(self._status_counter, timeout=timeout,
                                              sink=lambda: self.recorder)
            # The SDK's own retries are off on purpose: this gateway retries every attempt
            # itself (429 included, which the SDK never retries) with the caller's key, and
            # counts each one.
            self._client = stripe.StripeClient(
                self._key.reveal(), http_client=self._http, max_network_retries=0,
                base_addresses={"api": self.config.api_base} if self.config.api_base else None,
            )
            self._loop = loop
        return self._client

    # --- figures ------------------------------------------------------------------------
    @property
    def stats(self) -> GatewayStats:
        by_status = dict(self._status_counter)
        return GatewayStats(requests=sum(by_status.values()), by_status=by_status,
                            retries=self._retries, rate_limited=self._rate_limited)

    @property
    def api_calls(self) -> int:
        return sum(self._status_counter.values())

    # --- calls --------------------------------------------------------------------------
    @records_logical_call
    async def call(self, endpoint: str, send: SendFunction[T], *,
                   idempotency_key: str | None = None, write: bool | None = None,
                   max_attempts: int | None = None) -> T:
        """Send one logical request, retried until it has an answer or attempts run out.

        `endpoint` names the resource and action ("products.create"): it picks the
        per-endpoint limiter in live mode and appears in messages. `send(client, options)`
        performs the SDK call with the `options` given (they carry the idempotency key).
        A write (`write=True`, or any endpoint not ending in retrieve/list) without a key
        gets a random one, still reused across this call's retries.
        """
        is_write = write if write is not None else not endpoint.endswith(
            (".retrieve", ".list", ".search"))
        options: stripe.RequestOptions = {}
        if is_write:
            options["idempotency_key"] = idempotency_key or f"uh_once_{uuid.uuid4().hex}"
        attempts = max_attempts or self.config.max_attempts
        try:  # the common case, without building a retry loop
            result = await self._attempt(endpoint, send, options)
        except _Retryable as first:
            if attempts <= 1:
                raise _unavailable(first, attempts) from first.cause
            result = await self._retry(endpoint, send, options, attempts)
        self._check_mode(result, endpoint)
        return result

    async def _retry(self, endpoint: str, send: SendFunction[T], options: stripe.RequestOptions,
                     attempts: int) -> T:
        """Attempts 2..`attempts` after a retryable first failure, same options (same key)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts - 1),
            # Jitter as large as the first wait spreads concurrent retries apart.
            wait=wait_exponential_jitter(multiplier=self.config.backoff_initial_s,
                                         max=self.config.backoff_max_s,
                                         jitter=self.config.backoff_initial_s),
            retry=retry_if_exception(_is_retryable),
            sleep=self._sleep or asyncio.sleep,
            reraise=False,
        )
        await (self._sleep or asyncio.sleep)(
            self.config.backoff_initial_s * (1 + random.random()))
        try:
            async for attempt in retrying:
                with attempt:
                    self._retries += 1
                    return await self._attempt(endpoint, send, options)
        except RetryError as exhausted:
            failure = exhausted.last_attempt.exception()
            assert isinstance(failure, _Retryable)
            raise _unavailable(failure, attempts) from failure.cause
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _attempt(self, endpoint: str, send: SendFunction[T],
                       options: stripe.RequestOptions) -> T:
        await self._wait_for_rate(endpoint)
        async with self._semaphore:
            client = self.client
            try:
                return await send(client, options.copy())
            except stripe.StripeError as exc:
                outcome = _classify(exc)
                if isinstance(outcome, _Retryable):
                    if outcome.rate_limited:
                        self._rate_limited += 1
                        self._global_limiter.rate_limited()
                    log.debug("%s: retryable %s", endpoint, type(exc).__name__)
                    raise outcome from exc
                raise outcome from exc
            except httpx.HTTPError as exc:  # a transport error the SDK did not wrap
                raise _Retryable(stripe.APIConnectionError(str(exc)), rate_limited=False) \
                    from exc

    async def _wait_for_rate(self, endpoint: str) -> None:
        await self._global_limiter.acquire()
        if self._endpoint_rate is not None:
            limiter = self._endpoint_limiters.get(endpoint)
            if limiter is None:
                limiter = self._endpoint_limiters[endpoint] = RatePacer(self._endpoint_rate)
            await limiter.acquire()

    def _check_mode(self, result: Any, endpoint: str) -> None:
        livemode = livemode_of(result)
        if livemode is not None and livemode != (self.mode == "live"):
            raise ModeMismatchError(
                f"{endpoint}: the API key is a {self.mode}-mode key but Stripe answered with "
                f"livemode={str(livemode).lower()}; stopped so nothing lands in the wrong mode"
            )

    async def probe(self) -> bool:
        """Whether Stripe answers right now (one cheap list call, no retries)."""
        try:
            await self.call("products.list",
                            lambda client, options: client.v1.products.list_async(
                                {"limit": 1}, options), max_attempts=1)
        except StripeUnavailableError:
            return False
        return True

    async def aclose(self) -> None:
        """Close every HTTP connection this gateway opened."""
        for http in [*self._stale_http, *([self._http] if self._http else [])]:
            try:
                await http.close_async()
            except RuntimeError:  # its event loop is gone; nothing left to close there
                pass
        self._stale_http.clear()
        self._http = None
        self._client = None
        self._loop = None


__all__ = ["GatewayConfig", "GatewayStats", "RatePacer", "StripeGateway"]
