"""The one write path for listings: version check and bump, audit row, Stripe outbox.

Every change to a listing (an edit, a status change, a delete, a reconcile fix, an adopt,
and whatever bulk, undo or offline replay comes later) calls one of `insert_listing`,
`write_listing` (for many at once, `WriteBatch`) or `delete_listing` inside the caller's
transaction. They check the version the caller read (optimistic locking), bump it, write
the audit row, ask the one rule in `uhadmin.domain.stripe_rule` whether Stripe needs the
change, and queue at most one pending outbox row per listing (the schema enforces it:
ux_stripe_changes_one_pending). The sync writes its own bookkeeping columns without a new
version, but its audit rows and queued changes go through `audit` and `queue_push` here
too: nothing else inserts into those tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, delete, insert, select, update
from sqlalchemy.orm import Session

from uhadmin.domain.listing import SyncState
from uhadmin.domain.stripe_rule import stripe_needs_change
from uhadmin.errors import ConflictError, NotFoundError
from uhadmin.services.dml_result import inserted_id, rowcount
from uhadmin.services.listing_rows import LISTING_COLUMNS
from uhadmin.services.tables import AuditRow, ListingRow, StripeChangeRow

LISTINGS = ListingRow.__table__
AUDIT = AuditRow.__table__
OUTBOX = StripeChangeRow.__table__


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditNote:
    """One audit row to write: what happened to which listing, and the details."""

    listing_id: int
    action: str
    details: Mapping[str, Any]


def published(row: Any) -> bool:
    """Whether this listing row was ever pushed to Stripe (it has a product there)."""
    return row.stripe_product_id is not None or row.pushed_fingerprint is not None


def audit(session: Session, notes: Iterable[AuditNote], *, actor: str,
          at: datetime | None = None) -> None:
    """Write audit rows (one statement for many)."""
    when = at or utcnow()
    rows = [{"entity": "listing", "entity_id": str(note.listing_id), "action": note.action,
             "actor": actor, "at": when, "details": dict(note.details)} for note in notes]
    if rows:
        session.execute(insert(AUDIT), rows)


def upsert_for(dialect: str):
    """The INSERT construct of `dialect` ("sqlite" or "postgresql") that has ON CONFLICT.

    Imported here: the PostgreSQL dialect package alone costs a quarter of the start of
    `uhadmin listings list`, which writes nothing, and ~50 ms of `uhadmin sync` on SQLite;
    the one in use is loaded already."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def _upsert(session: Session):
    return upsert_for(session.get_bind().dialect.name)


def queue_push(session: Session, revisions: Mapping[int, int], *, now: datetime | None = None,
               only_if_idle: bool = False) -> None:
    """Queue a push of each listing at the given revision, at most one pending row per
    listing: a listing already queued keeps its row, which now carries the newer revision
    (a worker pushing the older one leaves it pending, so the edit is pushed next).
    `only_if_idle` (the sync's scan) leaves listings that are queued already alone."""
    if not revisions:
        return
    when = now or utcnow()
    rows = [{"listing_id": listing_id, "revision": revision, "created_at": when}
            for listing_id, revision in sorted(revisions.items())]
    statement = _upsert(session)(OUTBOX)
    pending = OUTBOX.c.done_at.is_(None)
    if only_if_idle:
        statement = statement.on_conflict_do_nothing(index_elements=[OUTBOX.c.listing_id],
                                                     index_where=pending)
    else:
        newer = case((statement.excluded.revision > OUTBOX.c.revision,
                      statement.excluded.revision), else_=OUTBOX.c.revision)
        statement = statement.on_conflict_do_update(
            index_elements=[OUTBOX.c.listing_id], index_where=pending,
            set_={"revision": newer, "attempts": 0, "last_error": "",
                  # A change waiting out a failure back-off is tried again at once: the
                  # edit may be its fix. A claimed one keeps its worker's lease.
                  "lease_until": case((OUTBOX.c.claimed_by.is_(None), None),
                                      else_=OUTBOX.c.lease_until)})
    session.execute(statement, rows)


def insert_listing(session: Session, values: Mapping[str, Any], *, actor: str, action: str,
                   details: Mapping[str, Any], now: datetime | None = None) -> int:
    """Insert a listing at version 1, audited, queued if Stripe needs it; its id."""
    when = now or utcnow()
    row = {**values, "version": 1, "created_at": when, "updated_at": when,
           "created_by": actor, "updated_by": actor}
    needs = stripe_needs_change(row["status"], row["status"], published=bool(
        row.get("stripe_product_id") or row.get("pushed_fingerprint")))
    row["sync_state"] = (SyncState.PENDING if needs else SyncState.NOT_PUBLISHED).value
    listing_id = inserted_id(session.execute(insert(LISTINGS).values(**row)))
    if needs:
        queue_push(session, {listing_id: 1}, now=when)
    audit(session, [AuditNote(listing_id, action, details)], actor=actor, at=when)
    return listing_id


def write_listing(session: Session, before: Any, values: Mapping[str, Any], *, actor: str,
                  action: str, details: Mapping[str, Any], now: datetime | None = None,
                  ) -> Any:
    """Save `values` over `before` (a listings row read in this transaction) if nobody
    saved in between (ConflictError otherwise); audit it; queue it if Stripe needs it.
    The row as written (every column of LISTING_COLUMNS; `.version` is the new version),
    returned by the UPDATE itself rather than read again."""
    batch = WriteBatch(session, actor=actor, now=now)
    written = batch.write(before, values, action=action, details=details)
    batch.flush()
    return written


class WriteBatch:
    """Many `write_listing`s in one transaction, for bulk work: each listing's UPDATE runs
    at once (its optimistic lock decides there), while the queue entries and audit rows of
    them all go out together in `flush`, one statement each rather than two per listing.
    A write refused with ConflictError leaves nothing behind, as a single one does."""

    def __init__(self, session: Session, *, actor: str, now: datetime | None = None) -> None:
        self.session, self.actor, self.now = session, actor, now or utcnow()
        self._revisions: dict[int, int] = {}
        self._notes: list[AuditNote] = []

    def write(self, before: Any, values: Mapping[str, Any], *, action: str,
              details: Mapping[str, Any]) -> Any:
        """As `write_listing`; the queue entry and audit row wait for `flush`."""
        new_status = values.get("status", before.status)
        was_published = published(before) or bool(values.get("stripe_product_id"))
        # A writer that records what Stripe now holds (a pushed fingerprint) says Stripe
        # has exactly this result already: nothing to queue.
        needs = stripe_needs_change(before.status, new_status, published=was_published,
                                    stripe_matches=values.get("pushed_fingerprint") is not None)
        new_version = before.version + 1
        row = {**values, "version": new_version, "updated_at": self.now,
               "updated_by": self.actor}
        if needs and "sync_state" not in values:
            row["sync_state"] = SyncState.PENDING.value
        # The UPDATE is the first write of each listing, so a refused one leaves nothing
        # half-written (bulk changes rely on this to keep going).
        written = self.session.execute(update(LISTINGS).where(
            LISTINGS.c.id == before.id, LISTINGS.c.version == before.version).values(**row)
            .returning(*LISTING_COLUMNS)).one_or_none()
        if written is None:
            raise _conflict(self.session, before)
        if needs:
            self._revisions[before.id] = new_version
        # The version names this change for an undo (uhadmin.services.listing_undo).
        self._notes.append(AuditNote(before.id, action, {**details, "version": new_version}))
        return written

    def flush(self) -> None:
        """Write the queue entries and audit rows of every write so far."""
        queue_push(self.session, self._revisions, now=self.now)
        audit(self.session, self._notes, actor=self.actor, at=self.now)
        self._revisions, self._notes = {}, []


def delete_listing(session: Session, before: Any, *, actor: str, details: Mapping[str, Any],
                   now: datetime | None = None) -> None:
    """Delete a listing Stripe never saw, if nobody saved it in between; audited."""
    result = session.execute(delete(LISTINGS).where(
        LISTINGS.c.id == before.id, LISTINGS.c.version == before.version))
    if rowcount(result) != 1:
        raise _conflict(session, before)
    audit(session, [AuditNote(before.id, "delete", details)], actor=actor, at=now)


def _conflict(session: Session, before: Any) -> Exception:
    actual = session.execute(
        select(LISTINGS.c.version).where(LISTINGS.c.id == before.id)).scalar_one_or_none()
    if actual is None:
        return NotFoundError(f"listing {before.id} does not exist")
    return ConflictError(before.id, before.version, actual)
