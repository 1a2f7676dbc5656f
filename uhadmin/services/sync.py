"""The Stripe sync engine: drain the outbox so every approved listing is in Stripe exactly once.

    sync = SyncService(db, bus, catalog, actor="alice")
    report = await sync.run(limit=None, dry_run=False, progress=callback, cancel=token)
    sync.status                       # SyncStatus(state, queued, message)
    sync.subscribe_status(callback)   # called with SyncStatus whenever online/offline changes
    auto = AutoSync(sync); auto.start(); auto.poke(); await auto.stop()

How one run works:
1. SQLite: take the catalog-wide sync lease in app_settings (one syncing process at a time;
   SyncBusyError says who holds it). PostgreSQL: no global lock, see 3.
2. Scan: every listing whose current fingerprint differs from `pushed_fingerprint` and has
   no pending outbox row gets one (rows the website wrote straight into the table).
3. Claim a batch: outbox rows `FOR UPDATE SKIP LOCKED` (PostgreSQL), plus a lease per
   listing in `stripe_sync_claims` taken with one atomic upsert, so each listing is pushed
   by one worker at a time; a lease expires if its holder dies.
4. Save the idempotency keys of every call the batch may make (stripe_operations), then
   send. Keys derive from (catalog, listing, revision, operation, content), so any retry,
   crash recovery or second worker reuses them.
5. Write results with compare-and-set: `pushed_revision` only moves forward, and
   sync_state becomes "synced" only if the listing still has the version that was pushed;
   an edit made meanwhile stays pending and is pushed next (in the same run).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Session

from uhadmin.domain.listing import ListingStatus, SyncState
from uhadmin.domain.sync import (
    CancelToken,
    ConnectionState,
    SyncProgress,
    SyncReport,
    SyncStatus,
)
from uhadmin.errors import (
    ModeMismatchError,
    StripeRefusedError,
    StripeUnavailableError,
    UhadminError,
)
from uhadmin.services.change_bus import Change, ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.fingerprint import DesiredProduct, desired_product, needs_stripe
from uhadmin.services.listing_rows import LISTING_COLUMNS, raw_column
from uhadmin.services.stripe_gateway.catalog import CatalogGateway, RemotePrice, RemoteProduct
from uhadmin.services.stripe_gateway.client import StripeGateway
from uhadmin.services.stripe_log_context import serving
from uhadmin.services.tables import (
    AuditRow,
    ListingRow,
    SettingRow,
    StripeChangeRow,
    StripeOperationRow,
)

log = logging.getLogger(__name__)

LISTINGS = ListingRow.__table__
OUTBOX = StripeChangeRow.__table__
OPERATIONS = StripeOperationRow.__table__
SETTINGS = SettingRow.__table__
AUDIT = AuditRow.__table__

# Created by migration 0002; kept out of the shared declarative metadata on purpose.
CLAIMS = Table(
    "stripe_sync_claims", MetaData(),
    Column("listing_id", Integer, primary_key=True),
    Column("holder", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("pushed_revision", Integer),
)

CATALOG_ID_SETTING = "stripe_catalog_id"
SQLITE_LOCK_SETTING = "stripe_sync_lock"

BATCH_SIZE = 100  # listings claimed per round trip to the database
BATCHES_IN_FLIGHT = 2  # the next batch is claimed while the current one is at Stripe
LEASE = timedelta(minutes=5)  # a crashed worker's claims free up after this
FAILED_RETRY_AFTER = timedelta(seconds=60)  # a refused change is not retried in the same run


class SyncBusyError(UhadminError):
    """Another process is syncing this SQLite catalog (SQLite allows one at a time)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _upsert(dialect: str):
    return pg_dialect.insert if dialect == "postgresql" else sqlite_dialect.insert


@dataclass
class _Work:
    """One claimed listing: what it is now, what Stripe had, what is uncertain."""

    listing_id: int
    version: int
    title: str
    desired: DesiredProduct
    fingerprint: str
    product_id: str | None
    price_id: str | None
    pushed_fingerprint: str | None
    pushed_price: tuple[int, str] | None
    pushed_active: bool | None
    needs_stripe: bool
    # Operations saved earlier for this listing that never completed: their outcome is
    # unknown (crash, 500, dropped reply), so recovery looks before it creates.
    uncertain: frozenset[str] = frozenset()

    def key(self, catalog_id: str, operation: str) -> str:
        return (f"uh-{catalog_id}-{self.listing_id}-r{self.version}-{operation}-"
                f"{self.fingerprint[:16]}")

    def operation(self, name: str) -> str:
        return f"{name}:{self.fingerprint[:16]}"


def plan_for(work: _Work) -> str:
    """What a push of this listing does: unchanged | not_published | create | price_change |
    archive | relist | update. Pure, so a dry run says exactly what a real run would."""
    if work.fingerprint == work.pushed_fingerprint:
        return "unchanged"
    if work.product_id is None:
        if not work.desired.active and not work.uncertain:
            return "not_published"
        return "create"
    if work.price_id is None or work.pushed_price != (work.desired.unit_amount,
                                                       work.desired.currency):
        return "price_change"
    if work.pushed_active and not work.desired.active:
        return "archive"
    if work.pushed_active is False and work.desired.active:
        return "relist"
    return "update"


_OPERATIONS_OF_PLAN = {
    "create": ("create",),
    "price_change": ("price_create", "price_default", "price_archive"),
    "archive": ("update",), "relist": ("update",), "update": ("update",),
}


@dataclass
class _Outcome:
    listing_id: int
    version: int
    kind: str  # created | updated | price_changed | archived | unchanged | not_published | failed
    fingerprint: str | None = None
    product_id: str | None = None
    price_id: str | None = None
    price: tuple[int, str] | None = None
    active: bool | None = None
    operations: dict[str, str | None] = field(default_factory=dict)  # operation -> result id
    error: str = ""
    note: str = ""
    offline: bool = False
    request_ids: tuple[str, ...] = ()  # Stripe's, for the audit row and the Stripe log


class SyncService:
    """Pushes listings to Stripe through the outbox; see the module docstring."""

    def __init__(self, db: Database, bus: ChangeBus, catalog: CatalogGateway, *,
                 actor: str = "sync", batch_size: int = BATCH_SIZE,
                 lease: timedelta = LEASE) -> None:
        self._db = db
        self._bus = bus
        self.catalog = catalog
        self.actor = actor
        self.batch_size = batch_size
        self.lease = lease
        self._catalog_id: str | None = None
        self._status = SyncStatus(ConnectionState.UNKNOWN, 0)
        self._status_callbacks: list[Callable[[SyncStatus], None]] = []
        self._running = asyncio.Lock()

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

    def _set_status(self, state: ConnectionState, queued: int, message: str = "") -> None:
        status = SyncStatus(state, queued, message)
        if status == self._status:
            return
        self._status = status
        for callback in list(self._status_callbacks):
            try:
                callback(status)
            except Exception:
                log.exception("sync status subscriber %r failed", callback)

    @property
    def gateway(self) -> StripeGateway:
        """The Stripe connection (its `api_calls` and `stats` count every request)."""
        return self.catalog.gateway

    # --- catalog id ----------------------------------------------------------------------
    async def catalog_id(self) -> str:
        """This catalog's id (made once, kept in app_settings): it namespaces product ids."""
        if self._catalog_id is None:
            self._catalog_id = await self._db.run(self._catalog_id_in, write=True)
        return self._catalog_id

    def _catalog_id_in(self, session: Session) -> str:
        existing = session.execute(
            select(SETTINGS.c.value).where(SETTINGS.c.key == CATALOG_ID_SETTING)
        ).scalar_one_or_none()
        if existing:
            return existing
        fresh = uuid.uuid4().hex[:10]
        session.execute(_upsert(self._db.dialect)(SETTINGS).values(
            key=CATALOG_ID_SETTING, value=fresh).on_conflict_do_nothing())
        return session.execute(
            select(SETTINGS.c.value).where(SETTINGS.c.key == CATALOG_ID_SETTING)
        ).scalar_one()

    async def queued(self) -> int:
        """Outbox rows not yet pushed."""
        return await self._db.run(lambda session: session.execute(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.done_at.is_(None))
        ).scalar_one())

    # --- the run -------------------------------------------------------------------------
    async def run(self, *, limit: int | None = None, dry_run: bool = False,
                  progress: Callable[[SyncProgress], None] | None = None,
                  cancel: CancelToken | None = None, full_scan: bool = True,
                  listing_ids: Collection[int] | None = None) -> SyncReport:
        """Push every pending change (at most `limit` listings). Raises SyncBusyError when
        another process syncs this SQLite catalog, ModeMismatchError when Stripe answers in
        the other mode. Cancel with `cancel.cancel()` or by cancelling the task; what was
        not pushed stays queued for the next run. `full_scan=False` (AutoSync) looks for
        rows written outside uhadmin only among those whose version moved. `listing_ids`
        pushes only those listings' changes (a selection, or a Retry of failures: their
        failed changes are tried again at once instead of after the failure back-off)."""
        async with self._running:
            holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
            catalog_id = await self.catalog_id()
            if dry_run:
                return await self._dry_run(catalog_id, limit)
            if self._db.dialect == "sqlite":
                await self._db.run(functools.partial(self._take_sqlite_lock, holder=holder),
                                   write=True)
            try:
                only = frozenset(listing_ids) if listing_ids is not None else None
                if only:
                    await self._db.run(functools.partial(self._retry_now_in, only=only),
                                       write=True)
                with serving("sync", sync_run=holder):  # tags its Stripe log entries
                    return await self._run(catalog_id, holder, limit, progress, cancel,
                                           full_scan, only)
            except ModeMismatchError as error:
                self._set_status(ConnectionState.STOPPED, await self.queued(), str(error))
                raise
            finally:
                if self._db.dialect == "sqlite":
                    await asyncio.shield(self._db.run(
                        functools.partial(self._release_sqlite_lock, holder=holder),
                        write=True))

    async def _run(self, catalog_id: str, holder: str, limit: int | None,
                   progress: Callable[[SyncProgress], None] | None,
                   cancel: CancelToken | None, full_scan: bool,
                   only: frozenset[int] | None = None) -> SyncReport:
        started = time.monotonic()
        calls_before = self.gateway.api_calls
        behind, unchanged_in_scan = await self._db.run(
            functools.partial(self._scan_in, catalog_id=catalog_id, full=full_scan))
        if behind:
            await self._db.run(functools.partial(self._enqueue_in, behind=behind), write=True)
        total = await self.queued_listings(only)
        if limit is not None:
            total = min(total, limit)
        counts = {"created": 0, "updated": 0, "price_changed": 0, "archived": 0,
                  "unchanged": unchanged_in_scan, "failed": 0}
        failures: dict[int, str] = {}
        notes: list[str] = []
        done = 0
        offline = False
        cancelled = False
        in_flight: list[asyncio.Task] = []
        remaining = limit

        def report_progress(outcome: _Outcome, title: str) -> None:
            nonlocal done
            done += 1
            if progress is None:
                return
            elapsed = max(time.monotonic() - started, 1e-6)
            rate = done / elapsed
            left = max(total - done, 0)
            try:
                progress(SyncProgress(done=done, total=max(total, done),
                                      current_listing_id=outcome.listing_id,
                                      current_title=title, rate_per_s=rate,
                                      eta_s=left / rate if rate > 0 else None))
            except Exception:
                log.exception("sync progress callback failed")

        def absorb(outcomes: list[_Outcome]) -> None:
            nonlocal offline
            for outcome in outcomes:
                if outcome.offline:
                    offline = True
                    continue
                if outcome.kind == "failed":
                    counts["failed"] += 1
                    failures[outcome.listing_id] = outcome.error
                elif outcome.kind == "not_published":
                    counts["unchanged"] += 1
                else:
                    counts[outcome.kind] += 1
                if outcome.note:
                    notes.append(f"listing {outcome.listing_id}: {outcome.note}")

        try:
            while True:
                stop = (offline or (cancel is not None and cancel.cancelled)
                        or (remaining is not None and remaining <= 0))
                if not stop and len(in_flight) < BATCHES_IN_FLIGHT:
                    size = self.batch_size if remaining is None else min(self.batch_size,
                                                                          remaining)
                    batch = await self._db.run(functools.partial(
                        self._claim_in, holder=holder, size=size, catalog_id=catalog_id,
                        only=only), write=True)
                    if batch:
                        if remaining is not None:
                            remaining -= len(batch)
                        in_flight.append(asyncio.ensure_future(self._process_batch(
                            batch, catalog_id, holder, report_progress)))
                        continue
                if not in_flight:
                    break
                finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    in_flight.remove(task)
                    absorb(task.result())
        except asyncio.CancelledError:
            cancelled = True
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await asyncio.shield(self._db.run(
                functools.partial(self._release_all_in, holder=holder), write=True))
            raise
        except BaseException:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await asyncio.shield(self._db.run(
                functools.partial(self._release_all_in, holder=holder), write=True))
            raise
        if cancel is not None and cancel.cancelled:
            cancelled = True
        queued = await self.queued()
        if offline:
            self._set_status(ConnectionState.OFFLINE, queued,
                             "Stripe is not answering; changes stay queued")
        else:
            self._set_status(ConnectionState.ONLINE, queued)
        return SyncReport(**counts, api_calls=self.gateway.api_calls - calls_before,
                          failures=failures, cancelled=cancelled, offline=offline,
                          queued=queued, notes=tuple(notes),
                          elapsed_s=time.monotonic() - started)

    async def queued_listings(self, only: Collection[int] | None = None) -> int:
        """Listings with a change not yet pushed (among `only`, if given)."""
        def count(session: Session) -> int:
            query = (select(func.count(func.distinct(OUTBOX.c.listing_id)))
                     .where(OUTBOX.c.done_at.is_(None)))
            if only is not None:
                query = query.where(OUTBOX.c.listing_id.in_(list(only)))
            return session.execute(query).scalar_one()

        return await self._db.run(count)

    @staticmethod
    def _retry_now_in(session: Session, *, only: frozenset[int]) -> None:
        """Lift the failure back-off of these listings' unclaimed changes (a person asked)."""
        session.execute(update(OUTBOX).where(
            OUTBOX.c.listing_id.in_(list(only)), OUTBOX.c.done_at.is_(None),
            OUTBOX.c.claimed_by.is_(None)).values(lease_until=None))

    async def _process_batch(self, batch: list[_Work], catalog_id: str, holder: str,
                             report_progress: Callable[[_Outcome, str], None],
                             ) -> list[_Outcome]:
        """Save the batch's keys, push each listing concurrently, write results together."""
        plans = {work.listing_id: plan_for(work) for work in batch}
        await self._db.run(functools.partial(self._save_keys_in, batch=batch, plans=plans),
                           write=True)
        outcomes: list[_Outcome] = []
        titles = {work.listing_id: work.title for work in batch}
        offline = asyncio.Event()

        async def one(work: _Work) -> _Outcome:
            if offline.is_set():
                return _Outcome(work.listing_id, work.version, "failed", offline=True,
                                error="Stripe is offline")
            outcome = await self._push(work, plans[work.listing_id], catalog_id)
            if outcome.offline:
                offline.set()
            else:
                report_progress(outcome, titles[work.listing_id])
            return outcome

        try:
            outcomes = list(await asyncio.gather(*(one(work) for work in batch)))
        finally:
            if outcomes:
                await asyncio.shield(self._db.run(functools.partial(
                    self._write_results_in, outcomes=outcomes, holder=holder), write=True))
        changed = {outcome.listing_id for outcome in outcomes
                   if outcome.kind != "unchanged" or outcome.offline}
        if changed:
            self._bus.publish(Change(kind="sync", ids=frozenset(changed)))
        return outcomes

    # --- one listing at Stripe -----------------------------------------------------------
    async def _push(self, work: _Work, plan: str, catalog_id: str) -> _Outcome:
        # Tags this push's Stripe log entries and keeps their Request-Ids for the audit row.
        request_ids: list[str] = []
        with serving(listing_id=work.listing_id, listing_revision=work.version,
                     request_ids=request_ids):
            outcome = await self._push_or_fail(work, plan, catalog_id)
        outcome.request_ids = tuple(request_ids)
        return outcome

    async def _push_or_fail(self, work: _Work, plan: str, catalog_id: str) -> _Outcome:
        try:
            return await self._push_plan(work, plan, catalog_id)
        except StripeUnavailableError as error:
            return _Outcome(work.listing_id, work.version, "failed", error=str(error),
                            offline=True)
        except StripeRefusedError as error:
            where = f" ({error.param})" if error.param else ""
            return _Outcome(work.listing_id, work.version, "failed",
                            error=_short(f"Stripe refused{where}: {error}"))
        except ModeMismatchError:
            raise

    async def _push_plan(self, work: _Work, plan: str, catalog_id: str) -> _Outcome:
        desired = work.desired
        done = _Outcome(work.listing_id, work.version, "unchanged", work.fingerprint,
                        work.product_id, work.price_id, work.pushed_price, work.pushed_active)
        if plan in ("unchanged", "not_published"):
            done.kind = plan
            if plan == "not_published":
                done.fingerprint = work.pushed_fingerprint
            return done
        product_id, price_id = work.product_id, work.price_id
        pushed_price, pushed_active = work.pushed_price, work.pushed_active
        if plan == "create":
            remote = None
            if work.uncertain:
                # An earlier attempt's outcome is unknown (or older than the 24 h a key
                # lives): look the product up by its custom id before creating anything.
                remote = await self.catalog.retrieve_product(desired.product_id)
            if remote is None:
                if not desired.active:
                    done.kind, done.fingerprint = "not_published", work.pushed_fingerprint
                    return done
                operation = work.operation("create")
                try:
                    remote = await self.catalog.create_product(
                        desired.product_id, desired.fields, desired.unit_amount,
                        desired.currency, key=work.key(catalog_id, "create"))
                except StripeRefusedError as error:
                    if error.code != "resource_already_exists":
                        raise
                    remote = await self.catalog.retrieve_product(desired.product_id)
                    if remote is None:
                        raise
                else:
                    return self._adopted(done, remote, "created", {operation: remote.id})
            if self._matches(remote, desired):
                return self._adopted(done, remote, "created", {})
            product_id, price_id = remote.id, remote.default_price_id
            pushed_active = remote.active
            pushed_price = ((remote.default_price.unit_amount, remote.default_price.currency)
                            if remote.default_price else None)
            plan = self._replan(price_id, pushed_price, pushed_active, desired)
        operations: dict[str, str | None] = {}
        note = ""
        assert product_id is not None
        if plan == "price_change":
            price = None
            lookup_key = (f"uh_{catalog_id}_{work.listing_id}_r{work.version}_"
                          f"{work.fingerprint[:12]}")
            if work.operation("price_create") in work.uncertain:
                price = await self.catalog.find_price_by_lookup_key(lookup_key)
            if price is None:
                price = await self.catalog.create_price(
                    product_id, desired.unit_amount, desired.currency, lookup_key=lookup_key,
                    metadata=desired.fields.metadata,
                    key=work.key(catalog_id, "price_create"))
            operations[work.operation("price_create")] = price.id
            remote = await self.catalog.update_product(
                product_id, desired.fields, active=desired.active, default_price=price.id,
                key=work.key(catalog_id, "price_default"))
            operations[work.operation("price_default")] = remote.id
            if price_id and price_id != price.id:
                try:
                    await self.catalog.archive_price(price_id,
                                                     key=work.key(catalog_id, "price_archive"))
                    operations[work.operation("price_archive")] = price_id
                except StripeRefusedError as error:
                    note = f"old price {price_id} left active: {error}"
            kind = "price_changed"
            price_id = price.id
        else:
            remote = await self.catalog.update_product(
                product_id, desired.fields, active=desired.active,
                key=work.key(catalog_id, "update"))
            operations[work.operation("update")] = remote.id
            kind = "archived" if (pushed_active is not False and not desired.active) \
                else "updated"
        if not desired.active and price_id:
            note = (note + "; " if note else "") + (
                f"product archived; its default price {price_id} stays active because "
                "Stripe refuses to archive a product's default price (checkout refuses the "
                "archived product anyway)")
        return _Outcome(work.listing_id, work.version, kind, work.fingerprint, product_id,
                        price_id, (desired.unit_amount, desired.currency), desired.active,
                        operations, note=note)

    @staticmethod
    def _replan(price_id: str | None, pushed_price: tuple[int, str] | None,
                pushed_active: bool | None, desired: DesiredProduct) -> str:
        if price_id is None or pushed_price != (desired.unit_amount, desired.currency):
            return "price_change"
        if pushed_active and not desired.active:
            return "archive"
        return "update"

    @staticmethod
    def _matches(remote: RemoteProduct, desired: DesiredProduct) -> bool:
        price: RemotePrice | None = remote.default_price
        return (remote.name == desired.fields.name
                and remote.description == desired.fields.description
                and tuple(remote.images) == tuple(desired.fields.images)
                and all(remote.metadata.get(k) == v for k, v in desired.fields.metadata.items())
                and remote.active == desired.active and price is not None
                and (price.unit_amount, price.currency) == (desired.unit_amount,
                                                            desired.currency))

    @staticmethod
    def _adopted(done: _Outcome, remote: RemoteProduct, kind: str,
                 operations: dict[str, str | None]) -> _Outcome:
        price = remote.default_price
        done.kind = kind
        done.product_id = remote.id
        done.price_id = remote.default_price_id
        done.price = (price.unit_amount, price.currency) if price else None
        done.active = remote.active
        done.operations = operations
        return done

    # --- dry run -------------------------------------------------------------------------
    async def _dry_run(self, catalog_id: str, limit: int | None) -> SyncReport:
        started = time.monotonic()
        works = await self._db.run(functools.partial(
            self._dry_run_in, catalog_id=catalog_id))
        counts = {"created": 0, "updated": 0, "price_changed": 0, "archived": 0,
                  "unchanged": 0, "failed": 0}
        considered = 0
        for work in works:
            plan = plan_for(work)
            if plan in ("unchanged", "not_published"):
                if work.needs_stripe:
                    counts["unchanged"] += 1
                continue
            if limit is not None and considered >= limit:
                continue
            considered += 1
            counts[{"create": "created", "price_change": "price_changed",
                    "archive": "archived", "relist": "updated",
                    "update": "updated"}[plan]] += 1
        return SyncReport(**counts, api_calls=0, dry_run=True,
                          queued=await self.queued(), elapsed_s=time.monotonic() - started)

    def _dry_run_in(self, session: Session, *, catalog_id: str) -> list[_Work]:
        rows = session.execute(select(*LISTING_COLUMNS).order_by(LISTINGS.c.id)).all()
        uncertain = self._uncertain_in(session, [row.id for row in rows])
        return [self._work(row, catalog_id, uncertain.get(row.id, frozenset()))
                for row in rows]

    # --- database steps (each runs in one short transaction in a worker thread) ----------
    def _take_sqlite_lock(self, session: Session, *, holder: str) -> None:
        now = _utcnow()
        current = session.execute(
            select(SETTINGS.c.value).where(SETTINGS.c.key == SQLITE_LOCK_SETTING)
        ).scalar_one_or_none()
        if current:
            try:
                held = json.loads(current)
                until = datetime.fromisoformat(held["until"])
            except (ValueError, KeyError, TypeError):
                held, until = {"holder": "?"}, now
            if held.get("holder") != holder and until > now:
                raise SyncBusyError(
                    f"another uhadmin process ({held.get('holder')}) is syncing this SQLite "
                    f"catalog until {until:%H:%M:%S} UTC at the latest; SQLite allows one "
                    "syncing process at a time (PostgreSQL allows several): try again "
                    "when it has finished")
        value = json.dumps({"holder": holder, "until": (now + self.lease).isoformat()})
        session.execute(_upsert("sqlite")(SETTINGS).values(
            key=SQLITE_LOCK_SETTING, value=value).on_conflict_do_update(
            index_elements=[SETTINGS.c.key], set_={"value": value}))

    def _renew_sqlite_lock_in(self, session: Session, *, holder: str) -> None:
        value = json.dumps({"holder": holder, "until": (_utcnow() + self.lease).isoformat()})
        session.execute(update(SETTINGS).where(
            SETTINGS.c.key == SQLITE_LOCK_SETTING,
            SETTINGS.c.value.like(f'{{"holder": "{holder}"%')).values(value=value))

    @staticmethod
    def _release_sqlite_lock(session: Session, *, holder: str) -> None:
        session.execute(delete(SETTINGS).where(
            SETTINGS.c.key == SQLITE_LOCK_SETTING,
            SETTINGS.c.value.like(f'{{"holder": "{holder}"%')))

    def _scan_in(self, session: Session, *, catalog_id: str, full: bool,
                 ) -> tuple[list[tuple[int, int]], int]:
        """Read-only: the listings Stripe is behind on that have no pending change yet
        (the rows the website wrote), as (listing id, version), and how many listings
        Stripe already matches.

        `full` fingerprints every listing that belongs in Stripe. Otherwise only those
        whose version moved since their last push (or never pushed) are fingerprinted:
        every writer bumps `version` (the table's contract), so the rest cannot differ,
        and a 100,000-row catalog costs one indexed query instead of seconds of hashing.
        """
        needs = or_(LISTINGS.c.status == ListingStatus.APPROVED.value,
                    LISTINGS.c.stripe_product_id.is_not(None),
                    LISTINGS.c.pushed_fingerprint.is_not(None))
        pending = set(session.execute(
            select(OUTBOX.c.listing_id).where(OUTBOX.c.done_at.is_(None)).distinct()
        ).scalars())
        query = select(
            LISTINGS.c.id, LISTINGS.c.title, LISTINGS.c.description,
            LISTINGS.c.price_minor, LISTINGS.c.currency, raw_column("image_urls"),
            LISTINGS.c.status, LISTINGS.c.version, LISTINGS.c.stripe_product_id,
            LISTINGS.c.pushed_fingerprint).where(needs)
        if not full:
            query = query.outerjoin(CLAIMS, CLAIMS.c.listing_id == LISTINGS.c.id).where(or_(
                CLAIMS.c.pushed_revision.is_(None),
                CLAIMS.c.pushed_revision != LISTINGS.c.version))
        behind: list[tuple[int, int]] = []
        matching = 0
        for row in session.execute(query):
            if row.id in pending:
                continue
            if desired_product(row, catalog_id).fingerprint == row.pushed_fingerprint:
                matching += 1
            else:
                behind.append((row.id, row.version))
        if full:
            return behind, matching
        total = session.execute(select(func.count()).select_from(LISTINGS).where(needs)
                                ).scalar_one()
        waiting = session.execute(
            select(func.count(func.distinct(OUTBOX.c.listing_id)))
            .select_from(OUTBOX.join(LISTINGS, LISTINGS.c.id == OUTBOX.c.listing_id))
            .where(OUTBOX.c.done_at.is_(None), needs)).scalar_one()
        return behind, total - waiting - len(behind)

    @staticmethod
    def _enqueue_in(session: Session, *, behind: list[tuple[int, int]]) -> None:
        """Queue what the scan found, in a short write transaction of its own."""
        now = _utcnow()
        pending = set(session.execute(
            select(OUTBOX.c.listing_id).where(OUTBOX.c.done_at.is_(None)).distinct()
        ).scalars())
        fresh = [(listing_id, version) for listing_id, version in behind
                 if listing_id not in pending]
        if not fresh:
            return
        session.execute(insert(OUTBOX), [
            {"listing_id": listing_id, "revision": version, "created_at": now}
            for listing_id, version in fresh])
        for start in range(0, len(fresh), 500):
            ids = [listing_id for listing_id, _ in fresh[start:start + 500]]
            session.execute(update(LISTINGS).where(
                LISTINGS.c.id.in_(ids), LISTINGS.c.sync_state != SyncState.FAILED.value
            ).values(sync_state=SyncState.PENDING.value))

    def _claim_in(self, session: Session, *, holder: str, size: int,
                  catalog_id: str, only: frozenset[int] | None = None) -> list[_Work]:
        now = _utcnow()
        until = now + self.lease
        if self._db.dialect == "sqlite":
            self._renew_sqlite_lock_in(session, holder=holder)
        candidates = (
            select(OUTBOX.c.id, OUTBOX.c.listing_id)
            .where(OUTBOX.c.done_at.is_(None),
                   or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until < now))
            .order_by(OUTBOX.c.id).limit(size * 3)
        )
        if only is not None:
            candidates = candidates.where(OUTBOX.c.listing_id.in_(list(only)))
        if self._db.dialect == "postgresql":
            # Another admin's sync skips the rows this one is claiming instead of waiting.
            candidates = candidates.with_for_update(skip_locked=True)
        rows = session.execute(candidates).all()
        listing_ids = sorted({row.listing_id for row in rows})[:size]
        if not listing_ids:
            return []
        # One lease per listing, taken atomically: an existing claim is taken over only
        # when its lease ran out. Sorted ids keep two claimers' lock order the same.
        # One cached statement run with many rows (a fresh 100-row VALUES list would be
        # compiled anew for every batch).
        statement = _upsert(self._db.dialect)(CLAIMS).on_conflict_do_update(
            index_elements=[CLAIMS.c.listing_id],
            set_={"holder": holder, "lease_until": until},
            where=or_(CLAIMS.c.lease_until.is_(None), CLAIMS.c.lease_until < now,
                      CLAIMS.c.holder == holder),
        ).returning(CLAIMS.c.listing_id)
        owned = set(session.execute(statement, [
            {"listing_id": listing_id, "holder": holder, "lease_until": until}
            for listing_id in listing_ids]).scalars())
        if not owned:
            return []
        change_ids = [row.id for row in rows if row.listing_id in owned]
        session.execute(update(OUTBOX).where(OUTBOX.c.id.in_(change_ids)).values(
            claimed_by=holder, lease_until=until))
        listing_rows = session.execute(
            select(*LISTING_COLUMNS).where(LISTINGS.c.id.in_(owned)).order_by(LISTINGS.c.id)).all()
        uncertain = self._uncertain_in(session, sorted(owned))
        return [self._work(row, catalog_id, uncertain.get(row.id, frozenset()))
                for row in listing_rows]

    @staticmethod
    def _uncertain_in(session: Session, listing_ids: Sequence[int]) -> dict[int, frozenset]:
        found: dict[int, set[str]] = {}
        for start in range(0, len(listing_ids), 500):
            chunk = listing_ids[start:start + 500]
            for listing_id, operation in session.execute(
                    select(OPERATIONS.c.listing_id, OPERATIONS.c.operation).where(
                        OPERATIONS.c.listing_id.in_(chunk),
                        OPERATIONS.c.completed_at.is_(None))):
                found.setdefault(listing_id, set()).add(operation)
        return {key: frozenset(value) for key, value in found.items()}

    @staticmethod
    def _work(row: Any, catalog_id: str, uncertain: frozenset) -> _Work:
        desired = desired_product(row, catalog_id)
        pushed_price = ((row.pushed_price_minor, row.pushed_currency)
                        if row.pushed_price_minor is not None and row.pushed_currency else None)
        return _Work(
            listing_id=row.id, version=row.version, title=row.title or "", desired=desired,
            fingerprint=desired.fingerprint, product_id=row.stripe_product_id,
            price_id=row.stripe_price_id, pushed_fingerprint=row.pushed_fingerprint,
            pushed_price=pushed_price, pushed_active=row.pushed_active,
            needs_stripe=needs_stripe(row), uncertain=uncertain,
        )

    def _save_keys_in(self, session: Session, *, batch: list[_Work],
                      plans: dict[int, str]) -> None:
        """Store every idempotency key the batch may use BEFORE the first send."""
        now = _utcnow()
        values = []
        catalog_id = self._catalog_id or ""
        for work in batch:
            for name in _OPERATIONS_OF_PLAN.get(plans[work.listing_id], ()):
                values.append({"listing_id": work.listing_id, "revision": work.version,
                               "operation": work.operation(name),
                               "idempotency_key": work.key(catalog_id, name),
                               "created_at": now})
            if plans[work.listing_id] == "create" and work.uncertain:
                # Recovery may turn into an update or a price change: keep those keys too.
                for name in ("update", "price_create", "price_default", "price_archive"):
                    values.append({"listing_id": work.listing_id, "revision": work.version,
                                   "operation": work.operation(name),
                                   "idempotency_key": work.key(catalog_id, name),
                                   "created_at": now})
        if values:
            session.execute(_upsert(self._db.dialect)(OPERATIONS).on_conflict_do_nothing(),
                            values)

    def _write_results_in(self, session: Session, *, outcomes: list[_Outcome],
                          holder: str) -> None:
        """One transaction for the whole batch, each statement run once with many rows."""
        now = _utcnow()
        pushed = [o for o in outcomes if not o.offline and o.kind != "failed"]
        failed = [o for o in outcomes if not o.offline and o.kind == "failed"]
        offline = [o for o in outcomes if o.offline]
        audit_rows: list[dict[str, Any]] = []
        mine = and_(OUTBOX.c.listing_id == bindparam("b_listing"),
                    OUTBOX.c.claimed_by == holder, OUTBOX.c.done_at.is_(None))
        if offline:
            # Not attempted or no answer: back in the queue as it was.
            session.execute(update(OUTBOX).where(mine).values(
                claimed_by=None, lease_until=None, last_error=bindparam("b_error"),
                attempts=OUTBOX.c.attempts + 1),
                [{"b_listing": o.listing_id, "b_error": _short(o.error)} for o in offline])
        if failed:
            session.execute(update(OUTBOX).where(mine).values(
                claimed_by=None, lease_until=now + FAILED_RETRY_AFTER,
                last_error=bindparam("b_error"), attempts=OUTBOX.c.attempts + 1),
                [{"b_listing": o.listing_id, "b_error": _short(o.error)} for o in failed])
            session.execute(update(LISTINGS).where(
                LISTINGS.c.id == bindparam("b_listing"),
                LISTINGS.c.version == bindparam("b_version"),
            ).values(sync_state=SyncState.FAILED.value, sync_error=bindparam("b_error")),
                [{"b_listing": o.listing_id, "b_version": o.version, "b_error": o.error}
                 for o in failed])
            audit_rows += [{"entity": "listing", "entity_id": str(o.listing_id),
                            "action": "sync_failed", "actor": self.actor, "at": now,
                            "details": {"revision": o.version, "error": o.error,
                                        "request_ids": list(o.request_ids)}}
                           for o in failed]
        if pushed:
            self._write_pushed_in(session, pushed, now, audit_rows)
        session.execute(update(CLAIMS).where(
            CLAIMS.c.listing_id.in_([o.listing_id for o in outcomes]),
            CLAIMS.c.holder == holder).values(holder=None, lease_until=None))
        if audit_rows:
            session.execute(insert(AUDIT), audit_rows)

    def _write_pushed_in(self, session: Session, pushed: list[_Outcome], now: datetime,
                         audit_rows: list[dict[str, Any]]) -> None:
        # Compare-and-set: a result for an older revision never overwrites a newer one.
        # The listing is written only if no newer revision's result landed, and
        # sync_state says "synced" only if nobody edited it since the pushed version.
        newer_landed = exists().where(CLAIMS.c.listing_id == LISTINGS.c.id,
                                      CLAIMS.c.pushed_revision > bindparam("b_version"))
        state = case((LISTINGS.c.version == bindparam("b_version"), bindparam("b_final")),
                     else_=SyncState.PENDING.value)
        published = [o for o in pushed if o.kind != "not_published"]
        if published:
            session.execute(update(LISTINGS).where(
                LISTINGS.c.id == bindparam("b_listing"), ~newer_landed
            ).values(
                sync_error="", sync_state=state,
                stripe_product_id=bindparam("b_product"), stripe_price_id=bindparam("b_price"),
                pushed_fingerprint=bindparam("b_fingerprint"),
                pushed_price_minor=bindparam("b_amount"), pushed_currency=bindparam("b_currency"),
                pushed_active=bindparam("b_active"), pushed_at=now,
            ), [{"b_listing": o.listing_id, "b_version": o.version,
                 "b_final": SyncState.SYNCED.value, "b_product": o.product_id,
                 "b_price": o.price_id, "b_fingerprint": o.fingerprint,
                 "b_amount": o.price[0] if o.price else None,
                 "b_currency": o.price[1] if o.price else None, "b_active": o.active}
                for o in published])
        unpublished = [o for o in pushed if o.kind == "not_published"]
        if unpublished:
            session.execute(update(LISTINGS).where(
                LISTINGS.c.id == bindparam("b_listing"), ~newer_landed
            ).values(sync_error="", sync_state=state),
                [{"b_listing": o.listing_id, "b_version": o.version,
                  "b_final": SyncState.NOT_PUBLISHED.value} for o in unpublished])
        session.execute(update(OUTBOX).where(
            OUTBOX.c.listing_id == bindparam("b_listing"),
            OUTBOX.c.revision <= bindparam("b_version"), OUTBOX.c.done_at.is_(None),
        ).values(done_at=now, lease_until=None),
            [{"b_listing": o.listing_id, "b_version": o.version} for o in pushed])
        results = [{"b_listing": o.listing_id, "b_version": o.version, "b_operation": name,
                    "b_result": result_id}
                   for o in pushed for name, result_id in o.operations.items()]
        if results:
            session.execute(update(OPERATIONS).where(
                OPERATIONS.c.listing_id == bindparam("b_listing"),
                OPERATIONS.c.revision == bindparam("b_version"),
                OPERATIONS.c.operation == bindparam("b_operation"),
            ).values(completed_at=now, result_id=bindparam("b_result")), results)
        # Keys saved for calls this push did not need (e.g. recovery found the product):
        # their outcome is known now, so recovery must not look for them later.
        session.execute(update(OPERATIONS).where(
            OPERATIONS.c.listing_id == bindparam("b_listing"),
            OPERATIONS.c.revision <= bindparam("b_version"),
            OPERATIONS.c.completed_at.is_(None),
        ).values(completed_at=now),
            [{"b_listing": o.listing_id, "b_version": o.version} for o in pushed])
        # Claims last, in every transaction that touches both: a claimer locks outbox rows
        # first and claims second, so the same order here cannot deadlock with it.
        session.execute(update(CLAIMS).where(
            CLAIMS.c.listing_id == bindparam("b_listing"),
            or_(CLAIMS.c.pushed_revision.is_(None),
                CLAIMS.c.pushed_revision < bindparam("b_version")),
        ).values(pushed_revision=bindparam("b_version")),
            [{"b_listing": o.listing_id, "b_version": o.version} for o in pushed])
        for outcome in pushed:
            if outcome.kind in ("unchanged", "not_published"):
                continue
            details: dict[str, Any] = {"result": outcome.kind, "revision": outcome.version,
                                       "product_id": outcome.product_id,
                                       "price_id": outcome.price_id,
                                       "request_ids": list(outcome.request_ids)}
            if outcome.note:
                details["note"] = outcome.note
            audit_rows.append({"entity": "listing", "entity_id": str(outcome.listing_id),
                               "action": "sync", "actor": self.actor, "at": now,
                               "details": details})

    @staticmethod
    def _release_all_in(session: Session, *, holder: str) -> None:
        session.execute(update(OUTBOX).where(
            OUTBOX.c.claimed_by == holder, OUTBOX.c.done_at.is_(None)
        ).values(claimed_by=None, lease_until=None))
        session.execute(update(CLAIMS).where(CLAIMS.c.holder == holder).values(
            holder=None, lease_until=None))


class AutoSync:
    """Background drain: syncs when changes are queued, probes with backoff while offline.

    `start()` from the running loop (the app's qasync loop); it listens to the change bus
    and syncs shortly after every listing edit (`poke()` does the same by hand). `stop()`
    cancels it. State changes reach `SyncService.subscribe_status` callbacks; a mode
    mismatch stops it for good (state STOPPED) until `start()` is called again.
    """

    def __init__(self, sync: SyncService, *, interval_s: float = 15.0,
                 min_backoff_s: float = 2.0, max_backoff_s: float = 300.0,
                 debounce_s: float = 0.5,
                 on_report: Callable[[SyncReport], None] | None = None) -> None:
        self.sync = sync
        self.interval_s = interval_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.debounce_s = debounce_s  # edits arriving together are pushed together
        self.on_report = on_report
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task:
        if not self.running:
            self._wake = asyncio.Event()
            if self._unsubscribe is None:
                self._unsubscribe = self.sync._bus.subscribe(self._on_change)
            self._task = asyncio.ensure_future(self._loop())
        assert self._task is not None
        return self._task

    def _on_change(self, change: Change) -> None:
        if change.kind == "listing":
            self.poke()

    def poke(self) -> None:
        """Sync soon (e.g. after an edit), without waiting for the interval."""
        self._wake.set()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        backoff = self.min_backoff_s
        while True:
            delay = self.interval_s
            # Cleared before looking at the queue: a poke that arrives while this round
            # runs wakes the next one instead of being lost.
            self._wake.clear()
            try:
                queued = await self.sync.queued()
                if self.sync.status.state != ConnectionState.ONLINE:
                    if not await self.sync.gateway.probe():
                        self.sync._set_status(ConnectionState.OFFLINE, queued,
                                              "Stripe is not answering; changes stay queued")
                        delay, backoff = backoff, min(backoff * 2, self.max_backoff_s)
                        queued = 0  # nothing to try until the next probe
                    else:
                        self.sync._set_status(ConnectionState.ONLINE, queued)
                if self.sync.status.state == ConnectionState.ONLINE:
                    # Every round, not only with a queue: the quick scan also finds rows
                    # the website wrote (one indexed query when nothing moved).
                    report = await self.sync.run(full_scan=False)
                    if self.on_report is not None:
                        self.on_report(report)
                    if report.offline:
                        delay, backoff = backoff, min(backoff * 2, self.max_backoff_s)
                    else:
                        backoff = self.min_backoff_s
            except asyncio.CancelledError:
                raise
            except ModeMismatchError as error:
                self.sync._set_status(ConnectionState.STOPPED, await self.sync.queued(),
                                      str(error))
                log.error("auto sync stopped: %s", error)
                return
            except SyncBusyError as error:
                log.info("auto sync skipped: %s", error)
            except UhadminError as error:
                log.warning("auto sync failed: %s", error)
            except Exception:
                log.exception("auto sync crashed; retrying later")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # lands in the same loop step as the wake-up, and stop() then waited forever.
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                continue
            await asyncio.sleep(self.debounce_s)
