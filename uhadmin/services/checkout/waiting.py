"""Waiting for one attempt's outcome (the CLI's --wait): listen, poll Stripe, see the page served.

The wait learns from three sources: the ChangeBus (the receiver's pages and webhooks record
outcomes at once), a poll of Stripe every few seconds (an expiry or payment made elsewhere,
e.g. `uhadmin checkout expire` from a second terminal, sends no webhook to this receiver),
and, once the outcome is final, the receiver saying it has delivered that attempt's success
or cancel page. Only then (or after a short grace, when no page is coming) may the caller
stop the receiver: the browser must never be left on a dead address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from uhadmin.domain.changes import Change, CheckoutAttemptChanged
from uhadmin.domain.checkout import CheckoutAttempt
from uhadmin.errors import UhadminError
from uhadmin.services.change_bus import ChangeBus

log = logging.getLogger(__name__)

POLL_EVERY_S = 3.0
# After the outcome, how long to keep serving for a browser that has not loaded its page
# yet (a redirect in flight, or a buyer about to press Back after an expiry elsewhere).
PAGE_GRACE_S = 5.0


@dataclass(frozen=True)
class WaitResult:
    """How a wait ended: the attempt as recorded, and whether its page reached a browser."""

    attempt: CheckoutAttempt
    page_delivered: bool
    interrupted: bool = False


class PagesDelivered:
    """Which attempts' success or cancel page the receiver has delivered (on the loop)."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}

    def _event(self, attempt_id: int) -> asyncio.Event:
        return self._events.setdefault(attempt_id, asyncio.Event())

    def delivered(self, attempt_id: int) -> None:
        self._event(attempt_id).set()

    def was_delivered(self, attempt_id: int) -> bool:
        return self._event(attempt_id).is_set()

    async def wait(self, attempt_id: int) -> None:
        await self._event(attempt_id).wait()


async def wait_for_outcome(
        attempt_id: int, *, get: Callable[[int], Awaitable[CheckoutAttempt]],
        refresh: Callable[[int], Awaitable[CheckoutAttempt]], bus: ChangeBus,
        pages: PagesDelivered | None, stop: asyncio.Event | None = None,
        poll_every: float = POLL_EVERY_S, page_grace: float = PAGE_GRACE_S,
        on_outcome: Callable[[CheckoutAttempt], None] | None = None) -> WaitResult:
    """Wait until the attempt is paid, canceled or expired (a decline may be retried, so it
    does not end the wait), tell `on_outcome`, then wait for its page to be delivered (at
    most `page_grace`). `stop` being set (Ctrl+C) ends the wait at once, leaving the attempt
    as it is."""
    changed = asyncio.Event()

    def on_change(change: Change) -> None:
        if isinstance(change, CheckoutAttemptChanged) and change.attempt_id in (None,
                                                                                attempt_id):
            changed.set()

    stop = stop or asyncio.Event()
    unsubscribe = bus.subscribe(on_change)
    try:
        attempt = await get(attempt_id)
        while not attempt.outcome.is_final:
            changed.clear()
            if await _first_of(changed.wait(), stop.wait(), within=poll_every) == 1:
                return WaitResult(await get(attempt_id), page_delivered=False,
                                  interrupted=True)
            if changed.is_set():
                attempt = await get(attempt_id)
                continue
            try:
                attempt = await refresh(attempt_id)
            except UhadminError as error:  # offline for a moment: keep listening
                log.info("polling Stripe for attempt %s failed: %s", attempt_id, error)
                attempt = await get(attempt_id)
        if on_outcome is not None:
            on_outcome(attempt)
        if pages is None:
            return WaitResult(attempt, page_delivered=False)
        if not pages.was_delivered(attempt_id):
            await _first_of(pages.wait(attempt_id), stop.wait(), within=page_grace)
        return WaitResult(await get(attempt_id), page_delivered=pages.was_delivered(attempt_id),
                          interrupted=stop.is_set())
    finally:
        unsubscribe()


async def _first_of(*waits: Awaitable[object], within: float) -> int | None:
    """Wait for the first of `waits` (at most `within` s): its index, or None if none
    finished. The others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, timeout=within,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    return next((index for index, task in enumerate(tasks) if task in done), None)
