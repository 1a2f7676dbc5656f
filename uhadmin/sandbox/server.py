"""SandboxServer: the offline Stripe on loopback, serving the API and the hosted checkout page.

An asyncio HTTP server with its own loop in a background thread (transport.py): requests
are served concurrently (added latency is an asyncio sleep, so 16 slow requests overlap),
and it works the same from sync code, plain asyncio or a qasync loop. Endpoint handlers run
in a store transaction, one at a time, which keeps the account consistent; with a data file
that transaction is also SQLite's, so several processes can serve one account (store.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from uhadmin.sandbox.api import StripeApi
from uhadmin.sandbox.auth import authenticate
from uhadmin.sandbox.clock import SandboxClock
from uhadmin.sandbox.common import API_VERSION, ApiRequest, Response, json_response
from uhadmin.sandbox.errors import StripeApiError
from uhadmin.sandbox.faults import FaultSettings, RateLimiter, rate_limited_response, roll
from uhadmin.sandbox.forms import decode_form
from uhadmin.sandbox.hosted import HostedCheckout
from uhadmin.sandbox.idempotency import IDEMPOTENCY_TTL_S, IdempotencyKeys
from uhadmin.sandbox.routes import Route, match_route
from uhadmin.sandbox.stats import RequestCounter, SandboxStats
from uhadmin.sandbox.store import SandboxStore, new_id
from uhadmin.sandbox.transport import Headers, LoopbackHttpServer
from uhadmin.sandbox.webhooks import WebhookDispatcher, is_loopback_url, remote_webhook_refusal

log = logging.getLogger(__name__)

EVENT_RETENTION_S = 30 * 24 * 3600
_UNSET = object()


class SandboxServer:
    """The offline Stripe. `start()` serves in a background thread; `stop()` ends it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 data_path: str | Path | None = None, rate_limit: float | None = None,
                 latency_ms: float = 0, fail_rate: float = 0.0, drop_rate: float = 0.0,
                 search_delay_s: float = 0.0, webhook_urls: Iterable[str] = (),
                 rate_limit_code: str = "rate_limit", allow_remote_webhooks: bool = False,
                 ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sandbox serves on loopback only")
        # Nothing leaves this machine unless asked: webhook deliveries go to loopback only.
        self.allow_remote_webhooks = allow_remote_webhooks
        for url in webhook_urls:
            if not allow_remote_webhooks and not is_loopback_url(url):
                raise ValueError(remote_webhook_refusal(url))
        self.host = host
        self.port = port
        self.clock = SandboxClock()
        self.store = SandboxStore(data_path)
        self.test_key = "sk_test_uhadminOfflineSandbox" + "0" * 8
        # The signing secret for endpoints given at start (`--webhook URL`), as
        # `stripe listen` prints one for the URL it forwards to.
        self.webhook_secret = "whsec_" + secrets.token_hex(16)
        self.webhook_urls = tuple(webhook_urls)
        self._faults = FaultSettings()
        self._limiter = RateLimiter()
        self.set_faults(rate_limit=rate_limit, latency_ms=latency_ms, fail_rate=fail_rate,
                        drop_rate=drop_rate, rate_limit_code=rate_limit_code)
        self.webhooks = WebhookDispatcher(self._webhook_result)
        self.api = StripeApi(self.store, self.clock, lambda: self.url, self._on_event,
                             search_delay_s=search_delay_s,
                             allow_remote_webhooks=allow_remote_webhooks)
        self.store.on_reload = self.api.apply_external_changes
        self._initial_search_delay_s = search_delay_s
        self._hosted: HostedCheckout | None = None
        self._idempotency = IdempotencyKeys(self.store, self.clock)
        self._requests = RequestCounter()
        self._http: LoopbackHttpServer | None = None
        self._ticker_stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> SandboxServer:
        if self._http is not None:
            return self
        self._hosted = HostedCheckout(self)
        with self.store.lock:
            self.store.reopen()
        http = LoopbackHttpServer(self.host, self.port, self._handle)
        http.start()
        self._http = http
        self.port = http.port
        self.webhooks.start()
        self._ticker_stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="stripe-sandbox-clock",
                                        daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> None:
        if self._http is None:
            return
        self._ticker_stop.set()
        self._http.stop()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.webhooks.stop()
        self._http = None
        with self.store.lock:
            self.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def reset(self) -> None:
        """Forget every object, event and idempotency key (a fresh account), keep settings."""
        with self.store.transaction(write=True):
            self.store.clear()
            self.clock.reset()
            self.api.search_delay_s = self._initial_search_delay_s
            self.api.rebuild_indexes()
            self._idempotency.clear()
        self.set_faults(rate_limit=None, latency_ms=0, fail_rate=0.0, drop_rate=0.0,
                        rate_limit_code="rate_limit")
        self.reset_stats()

    # ----------------------------------------------------------------- settings and stats
    def set_faults(self, rate_limit: Any = _UNSET, latency_ms: Any = _UNSET,
                   fail_rate: Any = _UNSET, drop_rate: Any = _UNSET,
                   rate_limit_code: Any = _UNSET) -> None:
        """Change any fault at runtime; omitted ones stay as they are."""
        current = self._faults
        chosen = {"rate_limit": rate_limit, "latency_ms": latency_ms, "fail_rate": fail_rate,
                  "drop_rate": drop_rate, "rate_limit_code": rate_limit_code}
        values = {name: getattr(current, name) if value is _UNSET else value
                  for name, value in chosen.items()}
        if values["rate_limit"] is not None and values["rate_limit"] <= 0:
            raise ValueError("rate_limit must be positive (or None for unlimited)")
        for name in ("fail_rate", "drop_rate"):
            if not 0.0 <= values[name] <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if values["rate_limit_code"] not in ("rate_limit", "lock_timeout"):
            raise ValueError("rate_limit_code is 'rate_limit' or 'lock_timeout'")
        self._faults = FaultSettings(**values)
        if values["rate_limit"] != current.rate_limit or rate_limit is not _UNSET:
            self._limiter.configure(values["rate_limit"])

    @property
    def faults(self) -> FaultSettings:
        return self._faults

    @property
    def search_delay_s(self) -> float:
        return self.api.search_delay_s

    @search_delay_s.setter
    def search_delay_s(self, seconds: float) -> None:
        self.api.search_delay_s = seconds

    @property
    def stats(self) -> SandboxStats:
        return self._requests.snapshot()

    def reset_stats(self) -> None:
        self._requests.reset()

    # ----------------------------------------------------------------- events, webhooks, time
    def _on_event(self, event: dict[str, Any]) -> None:
        targets = [(url, self.webhook_secret) for url in self.webhook_urls]
        for endpoint in self.store.objects["webhook_endpoint"].values():
            if endpoint["status"] != "enabled":
                continue
            wanted = endpoint["enabled_events"]
            if not ("*" in wanted or event["type"] in wanted):
                continue
            if not self.allow_remote_webhooks and not is_loopback_url(endpoint["url"]):
                # Made by a process that allowed it, or before the rule: not sent from here.
                log.warning("not delivering %s to %s: not loopback", event["id"],
                            endpoint["url"])
                continue
            targets.append((endpoint["url"], endpoint["_secret"]))
        if targets:
            event["pending_webhooks"] = len(targets)
            self.store.put("event", event)
            for url, secret in targets:
                self.webhooks.submit(url, secret, event)

    def _webhook_result(self, event_id: str, ok: bool) -> None:
        if not ok:
            return
        with self.store.transaction(write=True):
            event = self.store.get("event", event_id)
            if event is not None and event["pending_webhooks"] > 0:
                self.store.put("event", dict(event, pending_webhooks=event["pending_webhooks"]
                                             - 1))

    def _tick(self) -> None:
        """Apply the sandbox clock even when no request comes in: expire checkout sessions,
        forget idempotency keys after 24 h and events after 30 days, as Stripe does."""
        while not self._ticker_stop.wait(0.25):
            try:
                with self.store.transaction(write_if=self._housekeeping_due):
                    self.api.expire_due_sessions()
                    self._forget_expired()
            except Exception:
                log.exception("sandbox clock tick failed")

    def _housekeeping_due(self) -> bool:
        """Whether a tick has anything to expire or forget (only then does it write)."""
        if self.api.sessions_due():
            return True
        now = self.clock.now()
        for kind, lifetime in (("idempotency", IDEMPOTENCY_TTL_S),
                               ("event", EVENT_RETENTION_S)):
            oldest = next(iter(self.store.objects[kind].values()), None)
            if oldest is not None and oldest["created"] + lifetime <= now:
                return True
        return False

    def _forget_expired(self) -> None:
        now = self.clock.now()
        # Both kinds sit in the store oldest first, so each sweep stops at the first keeper.
        for kind, field_name, lifetime in (("idempotency", "created", IDEMPOTENCY_TTL_S),
                                           ("event", "created", EVENT_RETENTION_S)):
            expired = []
            for object_id, obj in self.store.objects[kind].items():
                if obj[field_name] + lifetime > now:
                    break
                expired.append(object_id)
            for object_id in expired:
                if kind != "idempotency" or not self._idempotency.in_flight(object_id):
                    self.store.delete(kind, object_id)

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Tests: block until every queued webhook delivery has been attempted."""
        return self.webhooks.wait_idle(timeout)

    # ----------------------------------------------------------------- HTTP entry point
    async def _handle(self, method: str, target: str, headers: Headers,
                      body: bytes) -> tuple[Response, str]:
        request_id = new_id("req_", 14)
        split = urlsplit(target)
        template = split.path
        try:
            if split.path.startswith("/v1/"):
                response, template = await self._serve_api(method, split.path, split.query,
                                                           body, headers, request_id)
                response.headers.setdefault("Stripe-Version", API_VERSION)
            else:
                assert self._hosted is not None  # set by start(), before any request
                response, template = self._hosted.serve(method, split.path, split.query,
                                                        body, headers)
        except Exception:
            log.exception("sandbox crashed on %s %s", method, split.path)
            response = json_response(500, StripeApiError(
                500, "An unexpected error occurred in the offline sandbox.",
                type="api_error").body())
        self._requests.count(method, template, 0 if response.drop else response.status)
        return response, request_id

    async def _serve_api(self, method: str, path: str, query: str, body: bytes,
                         headers: Headers, request_id: str) -> tuple[Response, str]:
        route, args = match_route(method, path)
        template = route.template if route else path
        try:
            api_key = authenticate(headers.get("Authorization"))
            if not self._limiter.allow():
                return rate_limited_response(self._faults), template
            if route is None:
                raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}). "
                                     "The offline sandbox does not serve this endpoint; "
                                     "see `uhadmin sandbox` in the README for the ones it "
                                     "does.")
            params = decode_form(_utf8(body) if method == "POST" else query)
            if method == "POST" and query:
                params.update(decode_form(query))
        except StripeApiError as exc:
            return json_response(exc.status, exc.body(), exc.headers), template
        faults = self._faults
        if roll(faults.fail_rate):
            error = StripeApiError(500, "An unknown error occurred (injected by the offline "
                                   "sandbox's fail_rate).", type="api_error")
            return json_response(500, error.body()), template
        key = headers.get("Idempotency-Key") if method == "POST" else None
        request = ApiRequest(method, path, params, request_id, key, args, api_key=api_key)
        if key is None:
            await self._delay(faults)
            response = self._execute(request, route)
        else:
            response = await self._idempotency.serve(
                request, lambda: self._delay(faults), lambda: self._execute(request, route))
        if roll(faults.drop_rate):
            response.drop = True
        return response, template

    @staticmethod
    async def _delay(faults: FaultSettings) -> None:
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)

    def _execute(self, request: ApiRequest, route: Route) -> Response:
        try:
            # A GET writes only when a checkout session is past its expiry.
            with self.store.transaction(write=request.method != "GET",
                                        write_if=self.api.sessions_due):
                self.api.expire_due_sessions()
                result = getattr(self.api, route.handler)(request)
            return json_response(200, result)
        except StripeApiError as exc:
            response = json_response(exc.status, exc.body(), exc.headers)
            response.stored = exc.stored
            return response


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StripeApiError(400, "Invalid request body: it is not UTF-8 (a byte at "
                             f"offset {exc.start} cannot be decoded).", stored=False) from None


def serve_forever(server: SandboxServer, on_ready: Callable[[SandboxServer], None]) -> None:
    """Run until KeyboardInterrupt (the CLI's `sandbox serve`)."""
    server.start()
    on_ready(server)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


__all__ = ["SandboxServer", "SandboxStats"]
