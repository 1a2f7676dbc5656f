"""One sync run: claim batches, push them, write results per listing, report honestly."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from uhadmin.domain.changes import SyncChanged
from uhadmin.domain.stripe_account import StripeAccount
from uhadmin.domain.sync import (
    CancelToken,
    ConnectionState,
    SyncProgress,
    SyncReport,
    SyncStatus,
)
from uhadmin.errors import AccountMismatchError, ModeMismatchError, StripeUnavailableError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.stripe_account import AccountGuard
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.stripe_gateway.client import StripeGateway
from uhadmin.services.stripe_log_context import serving
from uhadmin.services.sync import holders
from uhadmin.services.sync.activity import ActivityFeed
from uhadmin.services.sync.dry_run import dry_run_report
from uhadmin.services.sync.outbox import Leftover, OutboxStore, ProblemsOf
from uhadmin.services.sync.planning import (
    PushOutcome,
    PushWork,
    plan_for,
)
from uhadmin.services.sync.push import StripePusher
from uhadmin.services.sync.results import write_results_in
from uhadmin.services.sync.sharing import SharedPace
from uhadmin.services.sync.tally import RunTally

log = logging.getLogger(__name__)

BATCH_SIZE = 100  # listings claimed per round trip to the database
BATCHES_IN_FLIGHT = 2  # the next batch is claimed while the current one is at Stripe
LEASE = timedelta(minutes=5)  # a crashed worker's claims free up after this
OTHERS_POLL_S = 0.5  # how often a run looks again at work other admins hold
# Results wait this long for company before one transaction writes them: a transaction's
# fixed cost (statements, commit) is ~4 ms of CPU and a sync fsync on SQLite, so one per
# listing halved an unpaced sync's throughput (bench/sync_cli_bench.py). A kill loses at
# most this much of Stripe's answers, which the next run looks up by the keys saved first.
RESULTS_GATHER_S = 0.1
RESULTS_WRITE_NOW_AT = 100  # this many waiting results are written at once
# Listings of a batch at Stripe at once: enough to keep the gateway's call slots busy, few
# enough that Cancel waits only for these (the rest of the batch never starts) (#11).
LISTINGS_AT_STRIPE = 20


class SyncService:
    """Pushes listings to Stripe through the outbox; see the package docstring."""

    def __init__(self, db: Database, bus: ChangeBus, catalog: CatalogGateway, *,
                 actor: str = "sync", batch_size: int = BATCH_SIZE,
                 lease: timedelta = LEASE, problems_of: ProblemsOf | None = None,
                 account_guard: AccountGuard | None = None) -> None:
        self._db = db
        self.account_guard = account_guard  # None: no account check (tests' own wiring)
        self._bus = bus
        self.catalog = catalog
        self.actor = actor
        self.batch_size = batch_size
        self.store = OutboxStore(db, lease=lease, problems_of=problems_of)
        self.pusher = StripePusher(catalog)
        # Several syncs on one catalog share the configured limit (one Stripe account).
        self.pace = SharedPace(db, catalog.gateway, catalog.gateway.rate_limit)
        self._catalog_id: str | None = None
        self._status = SyncStatus(ConnectionState.UNKNOWN, 0)
        self._status_callbacks: list[Callable[[SyncStatus], None]] = []
        self._running = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._unwritten: list[tuple[PushOutcome, str]] = []
        self.activity = ActivityFeed()

    @property
    def lease(self) -> timedelta:
        return self.store.lease

    @property
    def bus(self) -> ChangeBus:
        return self._bus

    # --- status for the GUI --------------------------------------------------------------
    @property
    def status(self) -> SyncStatus:
        return self._status

    def subscribe_status(self, callback: Callable[[SyncStatus], None]) -> Callable[[], None]:
        """Call `callback(SyncStatus)` whenever Stripe goes online/offline or the queue moves."""
        self._status_callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._status_callbacks:
                self._status_callbacks.remove(callback)

        return unsubscribe

    def set_status(self, state: ConnectionState, queued: int, message: str = "") -> None:
        status = SyncStatus(state, queued, message)
        if status == self._status:
            return
        self._status = status
        for callback in list(self._status_callbacks):
            try:
                callback(status)
            except Exception:
                log.exception("sync status subscriber %r failed", callback)

    _set_status = set_status  # the name AutoSync and older callers use

    @property
    def gateway(self) -> StripeGateway:
        """The Stripe connection (its `api_calls` and `stats` count every request)."""
        return self.catalog.gateway

    async def catalog_id(self) -> str:
        """This catalog's id (made once, kept in app_settings): it namespaces product ids."""
        if self._catalog_id is None:
            self._catalog_id = await self.store.catalog_id()
        return self._catalog_id

    async def queued(self) -> int:
        """Outbox rows not yet pushed (at most one per listing)."""
        return await self.store.queued()

    async def queued_listings(self, only: Collection[int] | None = None) -> int:
        """Listings with a change not yet pushed (among `only`, if given)."""
        return await self.store.queued_listings(only)

    # --- the Stripe account ----------------------------------------------------------------
    async def check_account(self) -> StripeAccount | None:
        """AccountMismatchError (status WRONG_ACCOUNT) when the key points at another
        account than the one this catalog was synced with; the account otherwise."""
        if self.account_guard is None:
            return None
        try:
            return await self.account_guard.ensure()
        except AccountMismatchError as error:
            self.set_status(ConnectionState.WRONG_ACCOUNT, await self.queued(), str(error))
            raise

    async def accounts(self) -> tuple[StripeAccount | None, StripeAccount | None]:
        """(the account this catalog was synced with, the one the key points at now)."""
        if self.account_guard is None:
            return None, None
        return await self.account_guard.recorded(), await self.account_guard.current()

    async def use_current_account(self, actor: str) -> StripeAccount | None:
        """Re-point the catalog at the key's account (a person chose it); syncing resumes."""
        if self.account_guard is None:
            return None
        account = await self.account_guard.use_current(actor)
        self.set_status(ConnectionState.UNKNOWN, await self.queued())
        return account

    # --- the run -------------------------------------------------------------------------
    async def run(self, *, limit: int | None = None, dry_run: bool = False,
                  progress: Callable[[SyncProgress], None] | None = None,
                  cancel: CancelToken | None = None, full_scan: bool = True,
                  listing_ids: Collection[int] | None = None,
                  wait_for_others: bool = True, initiator: str = "manual") -> SyncReport:
        """Push every pending change (at most `limit` listings). Raises SyncBusyError when
        another live process syncs this SQLite catalog, ModeMismatchError when Stripe
        answers in the other mode. Cancel with `cancel.cancel()` or by cancelling the
        task; what was not pushed stays queued. `full_scan=False` (AutoSync) looks for rows
        written outside uhadmin only among those whose version moved. `listing_ids` pushes
        only those listings (their failed changes are retried at once). With
        `wait_for_others` a run waits while other admins' syncs hold queued listings;
        either way the report counts what is left (`queued`, `held_elsewhere`).
        `initiator` ("manual", "background") names the run in `activity`, which tells every
        view about every run (one picture), and can cancel the running one."""
        if self._running.locked():
            self.activity.waiting(initiator)  # said, not silent: the view shows it
        async with self._running:
            cancel = cancel or CancelToken()
            self.activity.started(initiator, cancel)
            report = None
            try:
                report = await self._run_locked(
                    limit, dry_run, self.activity.relay(initiator, progress), cancel,
                    full_scan, listing_ids, wait_for_others)
                return report
            finally:
                self.activity.finished(initiator, report)

    async def _run_locked(self, limit: int | None, dry_run: bool,
                          progress: Callable[[SyncProgress], None], cancel: CancelToken,
                          full_scan: bool, listing_ids: Collection[int] | None,
                          wait_for_others: bool) -> SyncReport:
        holder = holders.new_holder()
        catalog_id = await self.catalog_id()
        if dry_run:
            return await dry_run_report(self.store, catalog_id, limit)
        try:
            await self.check_account()
        except StripeUnavailableError:  # nothing sent: every change stays queued, named
            left = await self.store.leftover(holder, listing_ids)
            self.set_status(ConnectionState.OFFLINE, queued := await self.queued(),
                            "Stripe is not answering; changes stay queued")
            return SyncReport(offline=True, queued=queued, failed=len(left.backing_off),
                              failures=left.backing_off, held_elsewhere=len(
                                  left.held_elsewhere),
                              waiting={**left.waiting, **left.held_elsewhere})
        sqlite = self._db.dialect == "sqlite"
        if sqlite:
            await self._db.run(functools.partial(
                holders.take_sqlite_lock, holder=holder, lease=self.lease), write=True)
        try:
            await self.store.release_dead_holders()
            only = frozenset(listing_ids) if listing_ids is not None else None
            if only:
                await self.store.retry_now(only)
            # serving(): tags the run's Stripe log entries with it.
            async with self.pace.share(holder):
                with serving("sync", sync_run=holder):
                    return await self._run(catalog_id, holder, limit, progress, cancel,
                                           full_scan, only, wait_for_others)
        except ModeMismatchError as error:
            self.set_status(ConnectionState.STOPPED, await self.queued(), str(error))
            raise
        finally:
            if sqlite:
                await asyncio.shield(self._db.run(functools.partial(
                    holders.release_sqlite_lock, holder=holder), write=True))


    async def _run(self, catalog_id: str, holder: str, limit: int | None,
                   progress: Callable[[SyncProgress], None] | None,
                   cancel: CancelToken | None, full_scan: bool,
                   only: frozenset[int] | None, wait_for_others: bool) -> SyncReport:
        calls_before = self.gateway.api_calls
        unchanged, _ = await self.store.scan_and_enqueue(
            catalog_id, full=full_scan, stop=lambda: cancel is not None and cancel.cancelled)
        total = await self.queued_listings(only)
        tally = RunTally(total if limit is None else min(total, limit), unchanged, progress)
        remaining = limit
        in_flight: list[asyncio.Task] = []
        idle_since: float | None = None

        def stopping() -> bool:
            return (tally.offline or (cancel is not None and cancel.cancelled)
                    or (remaining is not None and remaining <= 0))

        # One writer for the run, not one per batch in flight: each transaction has a fixed
        # cost (~1.3 ms of CPU on SQLite), and two writers wrote twice as many, half as full.
        writer = asyncio.ensure_future(self._write_now_and_then(holder, tally))
        try:
            while True:
                if not stopping() and len(in_flight) < BATCHES_IN_FLIGHT:
                    size = self.batch_size if remaining is None else min(self.batch_size,
                                                                          remaining)
                    batch = await self.store.claim(holder=holder, size=size,
                                                   catalog_id=catalog_id, only=only)
                    if batch:
                        idle_since = None
                        self.pace.set_busy(True)
                        if remaining is not None:
                            remaining -= len(batch)
                        in_flight.append(asyncio.ensure_future(
                            self._process_batch(batch, catalog_id, holder, tally, cancel)))
                        continue
                if in_flight:
                    finished, _ = await asyncio.wait(in_flight,
                                                     return_when=asyncio.FIRST_COMPLETED)
                    for task in finished:
                        in_flight.remove(task)
                        task.result()
                    continue
                self.pace.set_busy(False)  # nothing of ours at Stripe: no share of the limit
                if stopping() or not wait_for_others:
                    break
                # Nothing claimable. Rows the website wrote while this run pushed are
                # behind too: a quick scan (versions that moved) queues them. Listings
                # other admins hold may come back (edited meanwhile): wait for them
                # instead of reporting success with work left. Their leases bound it.
                if only is None:
                    await self.store.scan_and_enqueue(catalog_id, full=False,
                                                      pushed=tally.pushed)
                left = await self.store.leftover(holder, only)
                if not left.held_elsewhere and not left.waiting:
                    break
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > self.lease.total_seconds() + 5:
                    break  # every lease has run out by now: what is left is reported
                await asyncio.sleep(OTHERS_POLL_S)
        except BaseException:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await asyncio.shield(self._flush(holder))
            await asyncio.shield(self.store.release_all(holder))
            raise
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        if cancel is not None and cancel.cancelled:
            # Listings claimed but never started: back in the queue for the next run.
            await asyncio.shield(self.store.release_all(holder))
        left = await self.store.leftover(holder, only)
        return await self._report(tally, left, calls_before, cancel)

    async def _report(self, tally: RunTally, left: Leftover, calls_before: int,
                      cancel: CancelToken | None) -> SyncReport:
        queued = await self.queued()
        if tally.offline:
            self.set_status(ConnectionState.OFFLINE, queued,
                            "Stripe is not answering; changes stay queued")
        else:
            self.set_status(ConnectionState.ONLINE, queued)
        failures = {**left.backing_off, **tally.failures}
        counts: dict[str, Any] = {**tally.counts, "failed": len(failures)}
        return SyncReport(**counts, api_calls=self.gateway.api_calls - calls_before,
                          failures=failures, cancelled=cancel is not None and cancel.cancelled,
                          offline=tally.offline, queued=queued,
                          held_elsewhere=len(left.held_elsewhere),
                          waiting={**left.waiting, **left.held_elsewhere},
                          notes=tuple(tally.notes),
                          elapsed_s=time.monotonic() - tally.started)

    async def _process_batch(self, batch: list[PushWork], catalog_id: str, holder: str,
                             tally: RunTally, cancel: CancelToken | None = None) -> None:
        """Push each listing of a claimed batch (its keys were saved with the claim)
        concurrently; the run's writer writes the results every RESULTS_GATHER_S, and what
        is left when the batch ends is written then (a kill loses at most the calls in
        flight and the answers of that last moment, which the next run recovers without
        a second write)."""
        plans = {work.listing_id: plan_for(work) for work in batch}
        offline = asyncio.Event()
        at_stripe = asyncio.Semaphore(LISTINGS_AT_STRIPE)

        async def one(work: PushWork) -> None:
            async with at_stripe:
                if cancel is not None and cancel.cancelled:
                    return  # not started: the claim is released when the run ends
                await push(work)

        async def push(work: PushWork) -> None:
            if offline.is_set():
                outcome = PushOutcome(work.listing_id, work.version, "failed", offline=True,
                                      error="Stripe is offline")
            else:
                outcome = await self.pusher.push(work, plans[work.listing_id], catalog_id)
                if outcome.offline:
                    offline.set()
            self._unwritten.append((outcome, work.title))
            if len(self._unwritten) >= RESULTS_WRITE_NOW_AT:
                await asyncio.shield(self._flush(holder, tally))

        await asyncio.gather(*(one(work) for work in batch))
        await asyncio.shield(self._flush(holder, tally))

    async def _write_now_and_then(self, holder: str, tally: RunTally) -> None:
        while True:
            await asyncio.sleep(RESULTS_GATHER_S)
            await asyncio.shield(self._flush(holder, tally))

    async def _flush(self, holder: str, tally: RunTally | None = None) -> None:
        """Write every result not yet written in one transaction; results that arrive
        while one is being written go together in the next."""
        async with self._write_lock:
            items, self._unwritten = self._unwritten, []
            if not items:
                return
            outcomes = [outcome for outcome, _ in items]
            # Not synced to disk on SQLite (Database.session): a power cut that loses these
            # answers leaves their changes queued, and the next run finds what Stripe made
            # by the keys saved (durably) before sending. Commits waited up to 1 s for fsync
            # on a busy disk, holding up the next batch's claim behind them.
            await self._db.run(functools.partial(
                write_results_in, outcomes=outcomes, holder=holder, actor=self.actor),
                write=True, durable=False)
        if tally is not None:
            for outcome, title in items:
                tally.add(outcome, title)
        changed = {o.listing_id for o in outcomes if o.kind != "unchanged" or o.offline}
        if changed:
            self._bus.publish(SyncChanged(ids=frozenset(changed)))
