"""The Stripe request log: batches what the gateway records, answers queries, keeps it bounded.

    log = StripeLogService(db, retention=Retention())
    gateway.recorder = log.record         # every HTTP attempt at Stripe, from the event loop
    receiver.on_webhook = log.record_webhook   # every webhook event, from the receiver thread
    await log.page(StripeLogFilter(listing_id=7), before_id=None, limit=200)
    await log.entry(42)
    await log.flush(); await log.aclose()

`record` only appends to a list (the sync's hot path pays nothing more); a flush a moment
later turns the batch into rows and inserts it in one short transaction on a database worker
thread. Every few hundred entries (or minutes) pruning deletes what retention no longer keeps,
a few hundred rows per transaction, so no writer waits on it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from uhadmin.domain.stripe_log import (
    RESPONSE_EXCERPT_CHARS,
    Retention,
    StripeLogEntry,
    StripeLogFilter,
)
from uhadmin.errors import NotFoundError
from uhadmin.services import stripe_log_store as store
from uhadmin.services.database import Database

log = logging.getLogger(__name__)

# A batch waits this long for company before it is written: a sync's ~100 requests share
# one transaction (each costs ~0.5 ms of CPU however small, and a commit's fsync holds
# SQLite's writer lock), and an entry shows up in the GUI within half a second. It is also
# what a killed process can lose of the log (never catalog data: that is its own commit).
FLUSH_DELAY_S = 0.5
# A batch this large is written at once rather than waiting for the delay.
FLUSH_NOW_AT = 500
SHAPE_SLICE = 50  # rows shaped between two turns of the event loop (~3 ms)
PRUNE_BATCH = 500
PRUNE_EVERY_ENTRIES = 1_000
PRUNE_EVERY_S = 300.0
PAGE_LIMIT_MAX = 1_000


class StripeLogService:
    """The Stripe log over the catalog database (both backends)."""

    def __init__(self, db: Database, *, retention: Retention | None = None,
                 clock: Any = None) -> None:
        self._db = db
        self.retention = retention or Retention()
        self._now = clock or (lambda: datetime.now(UTC))
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._written_since_prune = 0
        # The first flush of a process prunes: a short-lived CLI run keeps the log bounded too.
        self._last_prune = float("-inf")
        self._flushing = asyncio.Lock()

    # --- recording ---------------------------------------------------------------------
    def record(self, raw: dict[str, Any]) -> None:
        """Queue one raw exchange (from the gateway's HTTP client, on the event loop)."""
        with self._lock:
            self._pending.append(raw)
            # One flush waits for the delay and one more starts when the batch is full,
            # not one per entry past that: those each woke up to find nothing left to write.
            now = len(self._pending) == FLUSH_NOW_AT
            if self._scheduled and not now:
                return
            self._scheduled = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: the next flush (or aclose) writes it
            with self._lock:
                self._scheduled = False
            return
        loop.call_later(0 if now else FLUSH_DELAY_S, self._start_flush, loop)

    def _start_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop.is_closed():
            return
        task = loop.create_task(self._flush_quietly())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_quietly(self) -> None:
        try:
            await self.flush()
        except Exception:  # a log that cannot be written never breaks a sync or checkout
            log.warning("Stripe log: a batch could not be written", exc_info=True)

    async def flush(self) -> int:
        """Write everything queued so far; returns how many entries were written."""
        async with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
                self._scheduled = False
            if not batch:
                return 0
            await asyncio.shield(self._shape_and_write(batch))
            self._written_since_prune += len(batch)
        if (self._written_since_prune >= PRUNE_EVERY_ENTRIES
                or time.monotonic() - self._last_prune >= PRUNE_EVERY_S):
            await self.prune()
        return len(batch)

    async def _shape_and_write(self, batch: list[dict[str, Any]]) -> None:
        # Rows are shaped here, between the loop's other work, a slice at a time: on a
        # database thread this Python work held the GIL against the loop's own socket
        # calls, which then waited for it (bench/stripe_log_bench.py).
        rows: list[dict[str, Any]] = []
        for start in range(0, len(batch), SHAPE_SLICE):
            rows += [store.row_from_exchange(raw) for raw in batch[start:start + SHAPE_SLICE]]
            await asyncio.sleep(0)
        # Not fsynced (SQLite): a log entry is a record of a call, not catalog data, and a
        # kill loses the queued ones anyway; the next durable commit syncs these with it.
        await self._db.run(functools.partial(store.insert_rows, rows=rows), write=True,
                           durable=False)

    def record_webhook(self, *, event_id: str | None, event_type: str | None, verified: bool,
                       effect: str, attempt_id: int | None = None,
                       listing_id: int | None = None, object_id: str | None = None,
                       payload_excerpt: str = "") -> None:
        """Write one webhook event received, at once (blocking: call it off the event loop,
        as the receiver's own thread does)."""
        row = store.row_from_webhook(
            at=self._now(), event_id=event_id, event_type=event_type, verified=verified,
            effect=effect, attempt_id=attempt_id, listing_id=listing_id, object_id=object_id,
            payload_excerpt=payload_excerpt)
        with self._db.session(write=True) as session:
            store.insert_rows(session, [row])

    def record_payload(self, payload: bytes, *, verified: bool, effect: str) -> None:
        """Record one webhook delivery from its raw body (the receiver's thread); a log
        that cannot be written is logged and the delivery goes on."""
        try:
            event = _json_object(payload)
            # A forged body may hold anything where Stripe puts objects.
            data = event.get("data")
            found = data.get("object") if isinstance(data, dict) else None
            obj: dict[str, Any] = found if isinstance(found, dict) else {}
            found = obj.get("metadata")
            metadata: dict[str, Any] = found if isinstance(found, dict) else {}
            attempt = str(metadata.get("uhadmin_attempt_id") or "")
            listing = str(metadata.get("listing_id") or "")
            if verified and obj.get("object"):
                states = ", ".join(f"{name}={obj[name]}" for name in (
                    "status", "payment_status") if obj.get(name))
                effect = f"{effect}: {obj.get('object')} {obj.get('id', '')} {states}".strip()
            self.record_webhook(
                event_id=_str_or_none(event.get("id")), event_type=_str_or_none(
                    event.get("type")), verified=verified, effect=effect,
                attempt_id=int(attempt) if attempt.isdigit() else None,
                listing_id=int(listing) if listing.isdigit() else None,
                object_id=_str_or_none(obj.get("id")),
                payload_excerpt=payload[:RESPONSE_EXCERPT_CHARS].decode("utf-8", "replace"))
        except Exception:
            log.warning("Stripe log: a webhook event could not be recorded", exc_info=True)

    async def aclose(self) -> None:
        """Write what is still queued; the pending flush tasks finish first."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._flush_quietly()

    # --- retention ---------------------------------------------------------------------
    async def prune(self) -> int:
        """Delete what retention no longer keeps, PRUNE_BATCH rows per short transaction."""
        cutoff = self._now() - timedelta(days=self.retention.days)
        # The surplus boundary is found once: entries written meanwhile only come after it.
        boundary, stale = await self._db.run(functools.partial(
            store.prune_targets, cutoff=cutoff, keep=self.retention.entries))
        removed = 0
        while boundary is not None or stale:
            gone = await self._db.run(functools.partial(
                store.prune_batch, cutoff=cutoff, boundary=boundary, batch=PRUNE_BATCH),
                write=True)
            removed += gone
            if gone < PRUNE_BATCH:
                break
            await asyncio.sleep(0)  # let other work in between batches
        self._written_since_prune = 0
        self._last_prune = time.monotonic()
        return removed

    # --- reading -----------------------------------------------------------------------
    async def page(self, where: StripeLogFilter | None = None, *, before_id: int | None = None,
                   after_id: int | None = None, limit: int = 200) -> list[StripeLogEntry]:
        """Entries matching `where`, newest first (keyset paging by id)."""
        limit = max(1, min(limit, PAGE_LIMIT_MAX))
        return await self._db.run(functools.partial(
            store.select_page, where=where or StripeLogFilter(), before_id=before_id,
            after_id=after_id, limit=limit))

    async def entry(self, entry_id: int) -> StripeLogEntry:
        """One entry with its response excerpt; NotFoundError naming the id."""
        found = await self._db.run(functools.partial(store.select_entry, entry_id=entry_id))
        if found is None:
            raise NotFoundError(f"no Stripe log entry {entry_id}")
        return found

    async def count(self) -> int:
        return await self._db.run(store.count_entries)


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        found = json.loads(payload)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None

