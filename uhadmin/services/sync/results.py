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
    run = session.connection().execute  # Core statements: the ORM layer adds nothing here
    if offline:
        # Not attempted or no answer: back in the queue as it was.
        run(_S.requeue, [{"b_listing": o.listing_id, "b_holder": holder, "b_until": None,
                          "b_error": short(o.error)} for o in offline])
    if failed:
        ids = [o.listing_id for o in failed]
        attempts: dict[int, int] = {row.listing_id: row.attempts for row in run(
            select(OUTBOX.c.listing_id, OUTBOX.c.attempts).where(
                OUTBOX.c.listing_id.in_(ids), OUTBOX.c.done_at.is_(None)))}
        known: dict[int, str] = {row.id: row.sync_error for row in run(
            select(LISTINGS.c.id, LISTINGS.c.sync_error).where(
                LISTINGS.c.id.in_(ids), LISTINGS.c.sync_state == SyncState.FAILED.value))}
        # Not retried in the same run; then back off (invalid rows wait for an edit).
        # The row carries the revision tried, so only a later write lifts the hold.
        run(_S.requeue_failed, [
            {"b_listing": o.listing_id, "b_holder": holder, "b_error": short(o.error),
             "b_version": o.version,
             "b_until": now + hold_after_failure(o.error, (attempts.get(o.listing_id) or 0) + 1)}
            for o in failed])
        run(_S.listing_failed, [{"b_listing": o.listing_id, "b_version": o.version,
                                 "b_error": o.error} for o in failed])
        # One history entry per distinct failure, not one per retry of the same one.
        notes += [AuditNote(o.listing_id, "sync_failed",
                            {"revision": o.version, "error": o.error,
                             "request_ids": list(o.request_ids)}) for o in failed
                  if known.get(o.listing_id) != o.error]
    if pushed:
        _write_pushed_in(run, pushed, holder, now, notes)
    unanswered = offline + failed
    if unanswered:  # the pushed ones' claims were released with their pushed revision
        run(_S.release_claim, [{"b_listing": o.listing_id, "b_holder": holder}
                               for o in unanswered])
    audit(session, notes, actor=actor, at=now)


def _write_pushed_in(run: Any, pushed: list[PushOutcome], holder: str, now: datetime,
                     notes: list[AuditNote]) -> None:
    published = [o for o in pushed if o.kind != "not_published"]
    if published:
        run(_S.listing_pushed, [
            {"b_listing": o.listing_id, "b_version": o.version,
             "b_final": SyncState.SYNCED.value, "b_product": o.product_id,
             "b_price": o.price_id, "b_fingerprint": o.fingerprint,
             "b_amount": o.price[0] if o.price else None,
             "b_currency": o.price[1] if o.price else None, "b_active": o.active,
             "b_now": now} for o in published])
    unpublished = [o for o in pushed if o.kind == "not_published"]
    if unpublished:
        run(_S.listing_unpublished, [
            {"b_listing": o.listing_id, "b_version": o.version,
             "b_final": SyncState.NOT_PUBLISHED.value} for o in unpublished])
    revisions = [{"b_listing": o.listing_id, "b_version": o.version, "b_now": now,
                  "b_holder": holder} for o in pushed]
    run(_S.outbox_done, revisions)
    results = [{"b_listing": o.listing_id, "b_version": o.version, "b_operation": name,
                "b_result": result_id, "b_now": now}
               for o in pushed for name, result_id in o.operations.items()]
    if results:
        run(_S.operation_done, results)
    # Keys saved for calls this push did not need (e.g. recovery found the product):
    # their outcome is known now, so recovery must not look for them later.
    run(_S.operations_settled, revisions)
    # Claims last, in every transaction that touches both: a claimer locks outbox rows
    # first and claims second, so the same order here cannot deadlock with it.
    run(_S.claim_pushed, [{"b_listing": o.listing_id, "b_version": o.version,
                           "b_holder": holder} for o in pushed])
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


class _Statements:
    """Every statement the writer runs, built once: building and keying them again for
    each transaction cost more CPU than running them (a sync writes several a second)."""

    def __init__(self) -> None:
        mine = and_(OUTBOX.c.listing_id == bindparam("b_listing"),
                    OUTBOX.c.claimed_by == bindparam("b_holder"), OUTBOX.c.done_at.is_(None))
        self.requeue = update(OUTBOX).where(mine).values(
            claimed_by=None, lease_until=bindparam("b_until", type_=OUTBOX.c.lease_until.type),
            last_error=bindparam("b_error"), attempts=OUTBOX.c.attempts + 1)
        tried = case((OUTBOX.c.revision < bindparam("b_version"), bindparam("b_version")),
                     else_=OUTBOX.c.revision)
        self.requeue_failed = update(OUTBOX).where(mine).values(
            claimed_by=None, lease_until=bindparam("b_until", type_=OUTBOX.c.lease_until.type),
            revision=tried, last_error=bindparam("b_error"), attempts=OUTBOX.c.attempts + 1)
        self.listing_failed = update(LISTINGS).where(
            LISTINGS.c.id == bindparam("b_listing"),
            LISTINGS.c.version == bindparam("b_version"),
        ).values(sync_state=SyncState.FAILED.value, sync_error=bindparam("b_error"))
        self.release_claim = update(CLAIMS).where(
            CLAIMS.c.listing_id == bindparam("b_listing"),
            CLAIMS.c.holder == bindparam("b_holder")).values(holder=None, lease_until=None)
        # Compare-and-set: a result for an older revision never overwrites a newer one.
        # The listing is written only if no newer revision's result landed, and
        # sync_state says "synced" only if nobody edited it since the pushed version.
        newer_landed = exists().where(CLAIMS.c.listing_id == LISTINGS.c.id,
                                      CLAIMS.c.pushed_revision > bindparam("b_version"))
        state = case((LISTINGS.c.version == bindparam("b_version"), bindparam("b_final")),
                     else_=SyncState.PENDING.value)
        self.listing_pushed = update(LISTINGS).where(
            LISTINGS.c.id == bindparam("b_listing"), ~newer_landed
        ).values(
            sync_error="", sync_state=state,
            stripe_product_id=bindparam("b_product"), stripe_price_id=bindparam("b_price"),
            pushed_fingerprint=bindparam("b_fingerprint"),
            pushed_price_minor=bindparam("b_amount"), pushed_currency=bindparam("b_currency"),
            pushed_active=bindparam("b_active"),
            pushed_at=bindparam("b_now", type_=LISTINGS.c.pushed_at.type))
        self.listing_unpublished = update(LISTINGS).where(
            LISTINGS.c.id == bindparam("b_listing"), ~newer_landed
        ).values(sync_error="", sync_state=state)
        # The pushed revision's change is done; one that now carries a newer revision
        # (edited while at Stripe) stays pending and is handed back at once, so this run or
        # another pushes it next. One statement for both (a statement per row costs CPU):
        # every CASE reads the row as it was.
        pushed_change = OUTBOX.c.revision <= bindparam("b_version")
        self.outbox_done = update(OUTBOX).where(
            OUTBOX.c.listing_id == bindparam("b_listing"), OUTBOX.c.done_at.is_(None),
            or_(pushed_change, OUTBOX.c.claimed_by == bindparam("b_holder")),
        ).values(
            done_at=case((pushed_change, bindparam("b_now", type_=OUTBOX.c.done_at.type)),
                         else_=OUTBOX.c.done_at),
            claimed_by=case((pushed_change, OUTBOX.c.claimed_by), else_=None),
            lease_until=None)
        self.operation_done = update(OPERATIONS).where(
            OPERATIONS.c.listing_id == bindparam("b_listing"),
            OPERATIONS.c.revision == bindparam("b_version"),
            OPERATIONS.c.operation == bindparam("b_operation"),
        ).values(completed_at=bindparam("b_now", type_=OPERATIONS.c.completed_at.type),
                 result_id=bindparam("b_result"))
        self.operations_settled = update(OPERATIONS).where(
            OPERATIONS.c.listing_id == bindparam("b_listing"),
            OPERATIONS.c.revision <= bindparam("b_version"),
            OPERATIONS.c.completed_at.is_(None),
        ).values(completed_at=bindparam("b_now", type_=OPERATIONS.c.completed_at.type))
        # The newest pushed revision, and this holder's claim released, in one statement.
        newer = or_(CLAIMS.c.pushed_revision.is_(None),
                    CLAIMS.c.pushed_revision < bindparam("b_version"))
        held = CLAIMS.c.holder == bindparam("b_holder")
        self.claim_pushed = update(CLAIMS).where(
            CLAIMS.c.listing_id == bindparam("b_listing"), or_(newer, held),
        ).values(pushed_revision=case((newer, bindparam("b_version")),
                                      else_=CLAIMS.c.pushed_revision),
                 holder=case((held, None), else_=CLAIMS.c.holder),
                 lease_until=case((held, None), else_=CLAIMS.c.lease_until))


_S = _Statements()
