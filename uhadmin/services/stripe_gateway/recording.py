"""The SDK's HTTP client, counting and recording every request it really sends.

Every HTTP attempt the Stripe SDK makes goes through `RecordingHTTPXClient.request_async`,
so nothing the gateway sends escapes the log. The hot path only copies what it saw (a few
strings and numbers) into a dict for the log's sink; decoding, redaction and the database
write happen later, off the event loop (services/stripe_log.py).
"""

from __future__ import annotations

import contextvars
import functools
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from uhadmin.services.stripe_gateway.lean_http import LeanHTTPXClient
from uhadmin.services.stripe_log_context import current_purpose

P = ParamSpec("P")
T = TypeVar("T")

# Receives one raw exchange (see RecordingHTTPXClient._raw); must be quick and never raise.
RecordSink = Callable[[dict[str, Any]], None]


@dataclass
class _LogicalCall:
    """One `StripeGateway.call`: its attempts share `call_id` and count up `attempts`."""

    call_id: str
    endpoint: str
    attempts: int = 0


def _new_call_id() -> str:
    """16 random hex digits, as uuid4().hex[:16] gave, without building a UUID."""
    return os.urandom(8).hex()


_CALL: contextvars.ContextVar[_LogicalCall | None] = contextvars.ContextVar(
    "uhadmin_stripe_logical_call", default=None)


def records_logical_call(
        method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorates `StripeGateway.call(self, endpoint, ...)`: the HTTP attempts it makes,
    retries included, are linked as one logical call."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        endpoint = str(args[1]) if len(args) > 1 else str(kwargs.get("endpoint", ""))
        token = _CALL.set(_LogicalCall(_new_call_id(), endpoint))
        try:
            return await method(*args, **kwargs)
        finally:
            _CALL.reset(token)

    return wrapper


class RecordingHTTPXClient(LeanHTTPXClient):
    """The SDK's HTTPX client: counts each request by status and hands it to the log."""

    def __init__(self, counter: Counter[int], *, sink: Callable[[], RecordSink | None]
                 = lambda: None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._counter = counter
        self._sink = sink

    async def request_async(self, method: str, url: str, headers: Any, post_data: Any = None):
        started = time.perf_counter()
        at = datetime.now(UTC)
        try:
            content, status, response_headers = await super().request_async(
                method, url, headers, post_data)
        except BaseException as exc:
            self._counter[0] += 1
            self._record(at, started, method, url, headers, post_data, 0, None, None, exc)
            raise
        self._counter[status] += 1
        self._record(at, started, method, url, headers, post_data, status, response_headers,
                     content, None)
        return content, status, response_headers

    def _record(self, at: datetime, started: float, method: str, url: str, headers: Any,
                post_data: Any, status: int, response_headers: Any, content: Any,
                failure: BaseException | None) -> None:
        purpose = current_purpose()
        request_id = _header(response_headers, "Request-Id")
        if request_id and purpose.request_ids is not None:
            purpose.request_ids.append(request_id)
        sink = self._sink()
        if sink is None:
            return
        call = _CALL.get()
        if call is None:  # a request outside StripeGateway.call (e.g. auto-paging)
            call = _LogicalCall(_new_call_id(), "")
        call.attempts += 1
        sink({
            "at": at, "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "method": method.upper(), "url": url, "body": post_data,
            # Only these two request headers are kept: Authorization carries the key.
            "idempotency_key": _header(headers, "Idempotency-Key"),
            "api_version": _header(headers, "Stripe-Version") or "",
            "status": status,
            "request_id": request_id,
            "content": content,
            "failure": f"{type(failure).__name__}: {failure}" if failure is not None else None,
            "call_id": call.call_id, "retry": call.attempts - 1, "endpoint": call.endpoint,
            "served": purpose.served, "sync_run": purpose.sync_run,
            "listing_id": purpose.listing_id, "listing_revision": purpose.listing_revision,
            "attempt_id": purpose.attempt_id,
        })


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, dict):  # a plain dict: case-insensitive by hand
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return str(value) if value is not None else None
