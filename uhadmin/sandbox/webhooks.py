"""Webhook delivery: signs each event as Stripe does and POSTs it from a background thread."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# A few quick retries: enough for a receiver that is starting up, short enough for tests.
RETRY_DELAYS_S = (0.2, 1.0, 3.0)


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`, Stripe's scheme."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{stamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def is_loopback_url(url: str) -> bool:
    """Whether `url` names this machine: localhost, 127.0.0.0/8 or ::1. Other names are not
    looked up (a lookup is already traffic, and a name may change what it points to)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def remote_webhook_refusal(url: str) -> str:
    return (f"The offline sandbox delivers webhooks only to this machine (localhost, "
            f"127.0.0.0/8, ::1), not to {url}. Start it with `uhadmin sandbox serve "
            "--allow-remote-webhooks` to deliver elsewhere.")


@dataclass(frozen=True)
class Delivery:
    url: str
    secret: str
    event_id: str
    payload: bytes


class WebhookDispatcher:
    """A queue and one worker thread, so a request never waits for a receiver."""

    def __init__(self, on_result: Callable[[str, bool], None]) -> None:
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._on_result = on_result
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            # Pending retries are abandoned: a stopped Stripe delivers nothing more.
            self._stopping.set()
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def submit(self, url: str, secret: str, event: dict[str, Any]) -> None:
        payload = json.dumps(event, indent=2).encode()
        self._queue.put(Delivery(url, secret, event["id"], payload))

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return self.idle()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                if delivery is None:
                    return
                if self._stopping.is_set():
                    continue
                ok = self._deliver(delivery)
                if ok:
                    self.delivered += 1
                else:
                    self.failed += 1
                self._on_result(delivery.event_id, ok)
            except Exception:  # a broken receiver must never kill the worker
                log.exception("webhook delivery crashed")
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery) -> bool:
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS_S)):
            if delay and self._stopping.wait(delay):
                return False
            request = urllib.request.Request(
                delivery.url, data=delivery.payload, method="POST",
                headers={"Content-Type": "application/json; charset=utf-8",
                         "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                         "Stripe-Signature": signature_header(delivery.payload,
                                                              delivery.secret)})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if 200 <= response.status < 300:
                        return True
            except urllib.error.HTTPError as exc:
                log.info("webhook %s -> %s (attempt %d)", delivery.url, exc.code, attempt + 1)
            except OSError as exc:
                log.info("webhook %s unreachable: %s (attempt %d)", delivery.url, exc,
                         attempt + 1)
        return False
