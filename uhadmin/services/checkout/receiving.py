"""Starting and stopping the receiver for the service, and its webhook endpoint on the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from uhadmin.errors import UhadminError
from uhadmin.services.checkout.webhooks import HANDLED_EVENTS

if TYPE_CHECKING:
    from uhadmin.services.checkout.service import CheckoutService

log = logging.getLogger(__name__)

SANDBOX_ENDPOINT_DESCRIPTION = "uhadmin checkout receiver"
SERVED_FILE = "checkout_serve.json"  # in the data folder while `checkout serve` runs


@dataclass(frozen=True)
class ServedReceiver:
    """The receiver of a running `uhadmin checkout serve`, as another command sees it: its
    pages take this command's sessions; it records their outcomes and webhooks itself."""

    url: str
    stripe_api_base: str | None = None  # the sandbox it hosts, when it hosts one
    running: bool = True
    registers_webhooks: bool = False  # the serving process registered its own endpoint

    def attach(self, handler: Any) -> None:
        """Nothing to attach: the serving process records what its pages see."""

    def start(self, loop: Any = None) -> ServedReceiver:
        return self

    def stop(self) -> None:
        """Not ours to stop."""

    def success_url(self, attempt_id: int) -> str:
        return (f"{self.url}/success?session_id={{CHECKOUT_SESSION_ID}}&attempt={attempt_id}"
                "&token={token}")

    def cancel_url(self, attempt_id: int) -> str:
        return f"{self.url}/cancel?attempt={attempt_id}&token={{token}}"


def announce_served(data_dir: Path, url: str, stripe_api_base: str | None) -> Path:
    """Tell other commands where `checkout serve` listens (removed when it stops)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SERVED_FILE
    path.write_text(json.dumps({"url": url, "stripe_api_base": stripe_api_base,
                                "pid": os.getpid()}), encoding="utf-8")
    return path


def find_served(data_dir: Path) -> ServedReceiver | None:
    """The running `checkout serve` of this data folder, if its process and port answer."""
    try:
        found = json.loads((data_dir / SERVED_FILE).read_text(encoding="utf-8"))
        url, pid = str(found["url"]), int(found["pid"])
        parts = urlsplit(url)
        os.kill(pid, 0)  # raises when that process is gone
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80),
                                      timeout=1):
            pass
    except (OSError, ValueError, KeyError, TypeError):
        return None
    base = found.get("stripe_api_base")
    return ServedReceiver(url=url, stripe_api_base=str(base) if base else None)


def forget_served(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class ReceiverLink:
    """The service's receiver (any object with the CheckoutReceiver methods), or none."""

    def __init__(self, receiver: Any | None, service: CheckoutService) -> None:
        self.receiver = receiver
        self._service = service
        self._endpoint_id: str | None = None
        if receiver is not None:
            receiver.attach(service)

    async def start(self, *, required: bool = False) -> Any:
        """Start the receiver; against the sandbox, also register its webhook endpoint there
        so events arrive signed with a known secret. Without a receiver: an error when
        `required`, else nothing."""
        receiver = self.receiver
        if receiver is None:
            if required:
                raise UhadminError("this app was built without a checkout receiver")
            return None
        receiver.start(asyncio.get_running_loop())
        if self._service.uses_sandbox and self._endpoint_id is None \
                and getattr(receiver, "registers_webhooks", True):
            gateway = self._service.require_gateway()
            # A sandbox that keeps its data may still hold the endpoint of a run that
            # crashed: deliveries to its dead port would only queue up retries.
            for stale in await gateway.list_webhook_endpoints():
                if stale.description == SANDBOX_ENDPOINT_DESCRIPTION:
                    await gateway.delete_webhook_endpoint(stale.id)
            endpoint = await gateway.create_webhook_endpoint(
                receiver.webhook_url, HANDLED_EVENTS, description=SANDBOX_ENDPOINT_DESCRIPTION)
            self._endpoint_id = endpoint.id
            receiver.add_webhook_secret(endpoint.secret)
        return receiver

    async def stop(self) -> None:
        """Stop the receiver and remove the sandbox webhook endpoint registered for it."""
        endpoint_id, self._endpoint_id = self._endpoint_id, None
        if endpoint_id is not None:
            try:
                await self._service.require_gateway().delete_webhook_endpoint(endpoint_id)
            except UhadminError as error:
                log.info("could not remove sandbox webhook endpoint: %s", error)
        if self.receiver is not None:
            self.receiver.stop()
