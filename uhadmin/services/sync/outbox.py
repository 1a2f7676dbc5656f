"""The outbox store: find what Stripe is behind on, claim it with leases, report what is left."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
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
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from uhadmin.domain.listing import SyncState
from uhadmin.domain.stripe_rule import STATUSES_STRIPE_HOLDS
from uhadmin.services.database import Database
from uhadmin.services.fingerprint import desired_product
from uhadmin.services.listing_rows import LISTING_COLUMNS, raw_column, row_problems
from uhadmin.services.listing_writes import queue_push, upsert_for, utcnow
from uhadmin.services.sync.holders import holder_is_dead, renew_sqlite_lock
from uhadmin.services.sync.planning import PushWork, operations_to_save, plan_for, work_for
from uhadmin.services.tables import (
    ListingRow,
    SettingRow,
    StripeChangeRow,
    StripeOperationRow,
)

LISTINGS = ListingRow.__table__
OUTBOX = StripeChangeRow.__table__
OPERATIONS = StripeOperationRow.__table__
SETTINGS = SettingRow.__table__

# Created by migration 0002; kept out of the shared declarative metadata on purpose.
CLAIMS = Table(
    "stripe_sync_claims", MetaData(),
    Column("listing_id", Integer, primary_key=True),
    Column("holder", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("pushed_revision", Integer),
)

CATALOG_ID_SETTING = "stripe_catalog_id"
# Listings a scan fingerprints between two looks at its Cancel (~20 ms of work).
SCAN_CHUNK = 1000

# The SQL twin of uhadmin.domain.stripe_rule.stripe_holds, for scans over many rows.
STRIPE_HOLDS = or_(LISTINGS.c.status.in_(sorted(STATUSES_STRIPE_HOLDS)),
                   LISTINGS.c.stripe_product_id.is_not(None),
                   LISTINGS.c.pushed_fingerprint.is_not(None))

# Finds the rules a listings row breaks ("field: rule").
ProblemsOf = Callable[[Any], tuple[str, ...]]


def problems_of_row(row: Any) -> tuple[str, ...]:
    """The rules of a staff edit this row breaks, as "field: rule" (empty when valid)."""
    return tuple(str(problem) for problem in row_problems(row))




def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class Leftover:
    """The changes still queued when a run ends, per listing and why."""

    held_elsewhere: dict[int, str]  # claimed by another worker with a live lease
    backing_off: dict[int, str]  # failed before; retried after the back-off
    waiting: dict[int, str]  # claimable but not pushed (offline, cancelled, --limit)

    @property
    def total(self) -> int:
        return len(self.held_elsewhere) + len(self.backing_off) + len(self.waiting)


class OutboxStore:
    """The sync's database steps; each runs in one short transaction in a worker thread."""

    def __init__(self, db: Database, *, lease: timedelta,
                 problems_of: ProblemsOf | None = None) -> None:
        self._db = db
        self.lease = lease
        self.problems_of = problems_of or problems_of_row

    @property
    def dialect(self) -> str:
        return self._db.dialect

    async def catalog_id(self) -> str:
        return await self._db.run(self._catalog_id_in, write=True)

    def _catalog_id_in(self, session: Session) -> str:
        existing = session.execute(
            select(SETTINGS.c.value).where(SETTINGS.c.key == CATALOG_ID_SETTING)
        ).scalar_one_or_none()
        if existing:
            return existing
        session.execute(upsert_for(self.dialect)(SETTINGS).values(
            key=CATALOG_ID_SETTING, value=uuid.uuid4().hex[:10]).on_conflict_do_nothing())
        return session.execute(
            select(SETTINGS.c.value).where(SETTINGS.c.key == CATALOG_ID_SETTING)
        ).scalar_one()

    async def queued(self) -> int:
        """Outbox rows not yet pushed (at most one per listing)."""
        return await self._db.run(lambda session: session.execute(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.done_at.is_(None))
        ).scalar_one())

    async def queued_listings(self, only: Collection[int] | None = None) -> int:
        def count(session: Session) -> int:
            query = (select(func.count(func.distinct(OUTBOX.c.listing_id)))
                     .where(OUTBOX.c.done_at.is_(None)))
            if only is not None:
                query = query.where(OUTBOX.c.listing_id.in_(list(only)))
            return session.execute(query).scalar_one()

        return await self._db.run(count)

    async def retry_now(self, only: frozenset[int]) -> None:
        """Lift the failure back-off of these listings' unclaimed changes (a person asked)."""
        await self._db.run(lambda session: session.execute(update(OUTBOX).where(
            OUTBOX.c.listing_id.in_(list(only)), OUTBOX.c.done_at.is_(None),
            OUTBOX.c.claimed_by.is_(None)).values(lease_until=None)), write=True)

    async def release_dead_holders(self) -> int:
        """Free the claims of sync processes that died on this host (kill -9, crash), so
        their listings are pushed now instead of after their lease. How many were freed."""
        holders = await self._db.run(lambda session: set(session.execute(
            select(OUTBOX.c.claimed_by).where(OUTBOX.c.done_at.is_(None),
                                              OUTBOX.c.claimed_by.is_not(None))
        ).scalars()) | set(session.execute(
            select(CLAIMS.c.holder).where(CLAIMS.c.holder.is_not(None))).scalars()))
        dead = sorted(holder for holder in holders if holder_is_dead(holder))
        for holder in dead:
            await self.release_all(holder)
        return len(dead)

    async def release_all(self, holder: str) -> None:
        def release(session: Session) -> None:
            session.execute(update(OUTBOX).where(
                OUTBOX.c.claimed_by == holder, OUTBOX.c.done_at.is_(None)
            ).values(claimed_by=None, lease_until=None))
            session.execute(update(CLAIMS).where(CLAIMS.c.holder == holder).values(
                holder=None, lease_until=None))

        await self._db.run(release, write=True)

    # --- scan ----------------------------------------------------------------------------
    async def scan_and_enqueue(self, catalog_id: str, *, full: bool,
                               pushed: Mapping[int, int] | None = None,
                               stop: Callable[[], bool] = lambda: False) -> tuple[int, int]:
        """Queue every listing Stripe is behind on that has no pending change (the rows
        the website wrote), except those `pushed` at their current version already (by
        this run: pushing them again could not help); how many listings Stripe already
        matches, and how many were queued. A scan that `stop` ends early (a Cancel)
        queues what it found so far."""
        await self.lift_holds_of_edited()
        behind, matching = await self._db.run(functools.partial(
            self._scan_in, catalog_id=catalog_id, full=full, stop=stop))
        if pushed:
            behind = {key: version for key, version in behind.items()
                      if pushed.get(key) != version}
        if behind:
            await self._db.run(functools.partial(self._enqueue_in, behind=behind), write=True)
        return matching, len(behind)

    async def lift_holds_of_edited(self) -> int:
        """Changes waiting out a failure (or held until an invalid row is edited) whose
        listing was written since, by the website too, are tried again at once: the write
        may be the fix (the write path does the same for uhadmin's own edits)."""
        edited = (select(LISTINGS.c.version).where(LISTINGS.c.id == OUTBOX.c.listing_id)
                  .scalar_subquery())
        held = and_(OUTBOX.c.done_at.is_(None), OUTBOX.c.claimed_by.is_(None),
                    OUTBOX.c.lease_until.is_not(None), OUTBOX.c.revision < edited)
        ids = await self._db.run(lambda session: list(session.execute(
            select(OUTBOX.c.id).where(held)).scalars()))
        if ids:
            await self._db.run(lambda session: session.execute(update(StripeChangeRow).where(
                OUTBOX.c.id.in_(ids), held).values(lease_until=None, attempts=0,
                                                   revision=edited)), write=True)
        return len(ids)

    def _scan_in(self, session: Session, *, catalog_id: str, full: bool,
                 stop: Callable[[], bool] = lambda: False) -> tuple[dict[int, int], int]:
        """Read-only. `full` fingerprints every listing that belongs in Stripe. Otherwise
        only those whose version moved since their last push: every writer bumps `version`
        (the table's contract), so the rest cannot differ, and a 100,000-row catalog costs
        one indexed query instead of seconds of hashing."""
        pending = set(session.execute(
            select(OUTBOX.c.listing_id).where(OUTBOX.c.done_at.is_(None))).scalars())
        query = select(
            LISTINGS.c.id, LISTINGS.c.title, LISTINGS.c.description,
            LISTINGS.c.price_minor, LISTINGS.c.currency, raw_column("image_urls"),
            LISTINGS.c.status, LISTINGS.c.version, LISTINGS.c.stripe_product_id,
            LISTINGS.c.pushed_fingerprint).where(STRIPE_HOLDS)
        if not full:
            query = query.outerjoin(CLAIMS, CLAIMS.c.listing_id == LISTINGS.c.id).where(or_(
                CLAIMS.c.pushed_revision.is_(None),
                CLAIMS.c.pushed_revision != LISTINGS.c.version))
        behind: dict[int, int] = {}
        matching = 0
        # A chunk at a time: a full scan of 100,000 listings takes seconds, a Cancel is
        # heard between chunks, and no single fetch holds the GIL for long (#11).
        for rows in session.execute(query).partitions(SCAN_CHUNK):
            if stop():
                break
            for row in rows:
                if row.id in pending:
                    continue
                if desired_product(row, catalog_id).fingerprint == row.pushed_fingerprint:
                    matching += 1
                else:
                    behind[row.id] = row.version
        if full:
            return behind, matching
        total = session.execute(select(func.count()).select_from(LISTINGS).where(
            STRIPE_HOLDS)).scalar_one()
        waiting = session.execute(
            select(func.count(func.distinct(OUTBOX.c.listing_id)))
            .select_from(OUTBOX.join(LISTINGS, LISTINGS.c.id == OUTBOX.c.listing_id))
            .where(OUTBOX.c.done_at.is_(None), STRIPE_HOLDS)).scalar_one()
        return behind, total - waiting - len(behind)

    @staticmethod
    def _enqueue_in(session: Session, *, behind: dict[int, int]) -> None:
        # Several workers may scan at once: the one-pending-row index folds their rows.
        queue_push(session, behind, only_if_idle=True)
        ids = sorted(behind)
        for start in range(0, len(ids), 500):
            session.execute(update(LISTINGS).where(
                LISTINGS.c.id.in_(ids[start:start + 500]),
                LISTINGS.c.sync_state != SyncState.FAILED.value
            ).values(sync_state=SyncState.PENDING.value))

    # --- claim ---------------------------------------------------------------------------
    async def claim(self, *, holder: str, size: int, catalog_id: str,
                    only: frozenset[int] | None) -> list[PushWork]:
        return await self._db.run(functools.partial(
            self._claim_in, holder=holder, size=size, catalog_id=catalog_id, only=only),
            write=True)

    def _claim_in(self, session: Session, *, holder: str, size: int, catalog_id: str,
                  only: frozenset[int] | None) -> list[PushWork]:
        now = utcnow()
        until = now + self.lease
        if self.dialect == "sqlite":
            renew_sqlite_lock(session, holder=holder, lease=self.lease)
        candidates = (
            select(OUTBOX.c.id, OUTBOX.c.listing_id)
            .where(OUTBOX.c.done_at.is_(None),
                   or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until < now))
            .order_by(OUTBOX.c.id).limit(size)
        )
        if only is not None:
            candidates = candidates.where(OUTBOX.c.listing_id.in_(list(only)))
        if self.dialect == "postgresql":
            # Another admin's sync skips the rows this one is claiming instead of waiting.
            candidates = candidates.with_for_update(skip_locked=True)
        rows = session.execute(candidates).all()
        listing_ids = sorted({row.listing_id for row in rows})
        if not listing_ids:
            return []
        # One lease per listing, taken atomically: an existing claim is taken over only
        # when its lease ran out. Sorted ids keep two claimers' lock order the same. One
        # cached statement run with many rows (a fresh VALUES list would compile anew).
        statement = upsert_for(self.dialect)(CLAIMS).on_conflict_do_update(
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
        session.execute(update(OUTBOX).where(OUTBOX.c.id.in_(
            [row.id for row in rows if row.listing_id in owned])).values(
            claimed_by=holder, lease_until=until))
        listing_rows = session.execute(select(*LISTING_COLUMNS).where(
            LISTINGS.c.id.in_(owned)).order_by(LISTINGS.c.id)).all()
        uncertain = self._uncertain_in(session, sorted(owned))
        works = [work_for(row, catalog_id, uncertain.get(row.id, frozenset()),
                          self.problems_of(row)) for row in listing_rows]
        self._save_keys_in(session, works, catalog_id, now)
        return works

    def _save_keys_in(self, session: Session, works: list[PushWork], catalog_id: str,
                      now: datetime) -> None:
        """Store the idempotency key of every call these pushes may send BEFORE the first
        send, so any retry (this run's, or the next run's after a crash) reuses them. In
        the claim's own transaction: committed before claim() returns, with one commit
        (and one fsync on SQLite) per batch instead of two."""
        values = [{"listing_id": work.listing_id, "revision": work.version,
                   "operation": work.operation(name),
                   "idempotency_key": work.key(catalog_id, name), "created_at": now}
                  for work in works for name in operations_to_save(work, plan_for(work))]
        if values:
            session.execute(upsert_for(self.dialect)(OPERATIONS).on_conflict_do_nothing(),
                            values)

    @staticmethod
    def _uncertain_in(session: Session, listing_ids: Sequence[int],
                      ) -> dict[int, frozenset[str]]:
        found: dict[int, set[str]] = {}
        for start in range(0, len(listing_ids), 500):
            chunk = listing_ids[start:start + 500]
            for listing_id, operation in session.execute(
                    select(OPERATIONS.c.listing_id, OPERATIONS.c.operation).where(
                        OPERATIONS.c.listing_id.in_(chunk),
                        OPERATIONS.c.completed_at.is_(None))):
                found.setdefault(listing_id, set()).add(operation)
        return {key: frozenset(value) for key, value in found.items()}

    # --- what is left --------------------------------------------------------------------
    async def leftover(self, holder: str, only: Collection[int] | None = None) -> Leftover:
        """Every pending change, sorted into held elsewhere / backing off / waiting."""
        def read(session: Session) -> Leftover:
            query = select(OUTBOX.c.listing_id, OUTBOX.c.claimed_by, OUTBOX.c.lease_until,
                           OUTBOX.c.last_error).where(OUTBOX.c.done_at.is_(None))
            if only is not None:
                query = query.where(OUTBOX.c.listing_id.in_(list(only)))
            now = utcnow()
            held: dict[int, str] = {}
            backing: dict[int, str] = {}
            waiting: dict[int, str] = {}
            for listing_id, claimed_by, lease_until, error in session.execute(query):
                until = _aware(lease_until)
                if claimed_by and claimed_by != holder and until and until > now:
                    held[listing_id] = (f"being pushed by another admin's sync ({claimed_by}, "
                                        f"lease until {until:%H:%M:%S} UTC)")
                elif until and until > now and not claimed_by:
                    backing[listing_id] = (f"failed, retried after {until:%H:%M:%S} UTC: "
                                           f"{error or 'no reason recorded'}")
                else:
                    waiting[listing_id] = ("queued: " + error) if error else "queued"
            return Leftover(held, backing, waiting)

        return await self._db.run(read)

    async def dry_run_work(self, catalog_id: str) -> list[PushWork]:
        def read(session: Session) -> list[PushWork]:
            rows = session.execute(select(*LISTING_COLUMNS).order_by(LISTINGS.c.id)).all()
            uncertain = self._uncertain_in(session, [row.id for row in rows])
            return [work_for(row, catalog_id, uncertain.get(row.id, frozenset()),
                             self.problems_of(row)) for row in rows]

        return await self._db.run(read)
