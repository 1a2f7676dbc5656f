"""Write what Stripe answered back into the catalog: compare-and-set, outbox, claims, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, or_, select, update
from sqlalchemy.orm import Session

from uhadmin.domain.listing import SyncState
from uhadmin.domain.sync_failures import hold_after_failure
from uhadmin.services.listing_writes import AuditNote, audit, utcnow
from uhadmin.services.sync.outbox import CLAIMS, LISTINGS, OPERATIONS, OUTBOX
from uhadmin.services.sync.planning import PushOutcome


def short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def write_results_in(session: Session, *, outcomes: list[PushOutcome], holder: str,
                     actor: str) -> None:
    """One transaction for the outcomes at hand, each statement run once with many rows."""
    now = utcnow()
    pushed = [o for o in outcomes if not o.offline and o.kind != "failed"]
    failed = [o for o in outcomes if not o.offline and o.kind == "failed"]
    offline = [o for o in outcomes if o.offline]
    notes: list[AuditNote] = []
    mine = and_(OUTBOX.c.listing_id == bindparam("b_listing"),
                OUTBOX.c.claimed_by == holder, OUTBOX.c.done_at.is_(None))
    if offline:
        # Not attempted or no answer: back in the queue as it was.
        session.execute(update(OUTBOX).where(mine).values(
            claimed_by=None, lease_until=None, last_error=bindparam("b_error"),
            attempts=OUTBOX.c.attempts + 1),
            [{"b_listing": o.listing_id, "b_error": short(o.error)} for o in offline])
    if failed:
        ids = [o.listing_id for o in failed]
        attempts = dict(session.execute(select(OUTBOX.c.listing_id, OUTBOX.c.attempts).where(
            OUTBOX.c.listing_id.in_(ids), OUTBOX.c.done_at.is_(None))).all())
        known = dict(session.execute(select(LISTINGS.c.id, LISTINGS.c.sync_error).where(
            LISTINGS.c.id.in_(ids), LISTINGS.c.sync_state == SyncState.FAILED.value)).all())
        # Not retried in the same run; then back off (invalid rows wait for an edit).
        # The row carries the revision tried, so only a later write lifts the hold.
        tried = case((OUTBOX.c.revision < bindparam("b_version"), bindparam("b_version")),
                     else_=OUTBOX.c.revision)
        session.execute(update(OUTBOX).where(mine).values(
            claimed_by=None, lease_until=bindparam("b_until"), revision=tried,
            last_error=bindparam("b_error"), attempts=OUTBOX.c.attempts + 1),
            [{"b_listing": o.listing_id, "b_error": short(o.error), "b_version": o.version,
              "b_until": now + hold_after_failure(o.error, (attempts.get(o.listing_id) or 0)
                                                  + 1)} for o in failed])
        session.execute(update(LISTINGS).where(
            LISTINGS.c.id == bindparam("b_listing"),
            LISTINGS.c.version == bindparam("b_version"),
        ).values(sync_state=SyncState.FAILED.value, sync_error=bindparam("b_error")),
            [{"b_listing": o.listing_id, "b_version": o.version, "b_error": o.error}
             for o in failed])
        # One history entry per distinct failure, not one per retry of the same one.
        notes += [AuditNote(o.listing_id, "sync_failed",
                            {"revision": o.version, "error": o.error,
                             "request_ids": list(o.request_ids)}) for o in failed
                  if known.get(o.listing_id) != o.error]
    if pushed:
        _write_pushed_in(session, pushed, now, notes)
        # A change whose row now carries a newer revision (edited while at Stripe) stays
        # pending: hand it back at once so this run or another pushes it next.
        session.execute(update(OUTBOX).where(mine).values(claimed_by=None, lease_until=None),
                        [{"b_listing": o.listing_id} for o in pushed])
    session.execute(update(CLAIMS).where(
        CLAIMS.c.listing_id.in_([o.listing_id for o in outcomes]),
        CLAIMS.c.holder == holder).values(holder=None, lease_until=None))
    audit(session, notes, actor=actor, at=now)


def _write_pushed_in(session: Session, pushed: list[PushOutcome], now: datetime,
                     notes: list[AuditNote]) -> None:
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
        notes.append(AuditNote(outcome.listing_id, "sync", details))
