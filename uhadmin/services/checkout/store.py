"""Checkout attempts in the database: insert, read, and atomic outcome transitions with audit.

A transition reads the row under a write lock (BEGIN IMMEDIATE on SQLite, FOR UPDATE on
PostgreSQL), applies a pure rule from `domain.checkout_rules` to what is stored NOW, and
writes only when the rule changed something. So the webhook and the success page may both
arrive, in either order: the first writes one change and one audit row, the second finds
nothing to do. Each written change is broadcast as a CheckoutAttemptChanged.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from uhadmin.domain.changes import CheckoutAttemptChanged
from uhadmin.domain.checkout import CheckoutAttempt, CheckoutLine, Outcome
from uhadmin.domain.checkout_rules import audit_details, recorded_fields
from uhadmin.errors import NotFoundError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listing_rows import parse_time, stored_time
from uhadmin.services.tables import AuditRow, CheckoutAttemptRow, WebhookEventRow

Rule = Callable[[CheckoutAttempt], CheckoutAttempt]
# How a webhook names its attempt: ("session", session id) or ("intent", id, attempt key).
EventTarget = tuple[str, ...]


def attempt_from_row(row: CheckoutAttemptRow) -> CheckoutAttempt:
    lines = tuple(
        CheckoutLine(listing_id=int(item["listing_id"]), quantity=int(item["quantity"]),
                     title=str(item.get("title", "")), price_id=str(item.get("price_id", "")),
                     unit_amount=int(item.get("unit_amount", 0)),
                     currency=str(item.get("currency", row.currency)))
        for item in (row.line_items or []))
    return CheckoutAttempt(
        id=row.id, attempt_key=row.attempt_key, session_id=row.session_id, url=row.url,
        lines=lines, amount_total=row.amount_total, currency=row.currency, tester=row.tester,
        livemode=bool(row.livemode),
        created_at=stored_time(row.created_at, "checkout_attempts.created_at"),
        expires_at=parse_time(row.expires_at), status=row.status,
        payment_status=row.payment_status, outcome=Outcome(row.outcome),
        decline_code=row.decline_code or "", decline_message=row.decline_message or "",
        payment_intent_id=row.payment_intent_id, updated_at=parse_time(row.updated_at),
        card_brand=row.card_brand or "", card_last4=row.card_last4 or "",
        three_d_secure=row.three_d_secure)


class AttemptStore:
    """Reads and writes `checkout_attempts` (and their audit rows) in the database's worker."""

    def __init__(self, db: Database, bus: ChangeBus, *, actor: str,
                 clock: Callable[[], datetime]) -> None:
        self._db = db
        self._bus = bus
        self._actor = actor
        self._clock = clock

    def publish(self, attempt_id: int, initiator: object | None) -> None:
        self._bus.publish(CheckoutAttemptChanged(attempt_id, initiator=initiator))

    # ----------------------------------------------------------------- writes
    async def insert(self, *, key: str, lines: Iterable[CheckoutLine], tester: str,
                     expires_at: datetime) -> CheckoutAttempt:
        """A "creating" row, or the existing one when `key` is resumed."""
        return await self._db.run(functools.partial(
            self._insert_in, key=key, lines=tuple(lines), tester=tester, now=self._clock(),
            expires_at=expires_at), write=True)

    async def delete(self, attempt_id: int) -> None:
        def remove(session: Session) -> None:
            session.execute(delete(CheckoutAttemptRow).where(
                CheckoutAttemptRow.id == attempt_id))

        await self._db.run(remove, write=True)

    async def transition(self, attempt_id: int, rule: Rule, *, source: str,
                         initiator: object | None = None) -> CheckoutAttempt:
        """Apply `rule` to the stored attempt atomically; broadcast only a real change."""
        before, after = await self._db.run(functools.partial(
            self._transition_in, attempt_id=attempt_id, rule=rule, source=source,
            now=self._clock()), write=True)
        if after is not before:
            self.publish(after.id, initiator)
        return after

    async def apply_event(self, *, event_id: str, event_type: str,
                          target: EventTarget | None, rule: Rule | None) -> str:
        """Remember the event id and apply `rule` to its attempt, in one transaction:
        "processed", "duplicate" or "ignored"."""
        result, changed = await self._db.run(functools.partial(
            self._apply_event_in, event_id=event_id, event_type=event_type, target=target,
            rule=rule, now=self._clock()), write=True)
        if changed is not None:
            self.publish(changed.id, None)
        return result

    # ----------------------------------------------------------------- reads
    async def get(self, ref: int | str) -> CheckoutAttempt:
        """An attempt by id (int) or Checkout Session id (str); NotFoundError otherwise."""
        return await self._db.run(functools.partial(self._get_in, ref=ref))

    async def by_key(self, key: str) -> CheckoutAttempt | None:
        def find(session: Session) -> CheckoutAttempt | None:
            row = session.execute(select(CheckoutAttemptRow).where(
                CheckoutAttemptRow.attempt_key == key)).scalar_one_or_none()
            return None if row is None else attempt_from_row(row)

        return await self._db.run(find)

    async def list(self, *, tester: str | None, outcome: Outcome | None,
                   limit: int) -> list[CheckoutAttempt]:
        query = select(CheckoutAttemptRow)
        if tester is not None:
            query = query.where(CheckoutAttemptRow.tester == tester)
        if outcome is not None:
            query = query.where(CheckoutAttemptRow.outcome == str(outcome))
        query = query.order_by(CheckoutAttemptRow.created_at.desc(),
                               CheckoutAttemptRow.id.desc()).limit(limit)
        return await self._select(query)

    async def open_of(self, tester: str) -> builtins.list[CheckoutAttempt]:
        """`tester`'s attempts whose session is open."""
        return await self._select(select(CheckoutAttemptRow).where(
            CheckoutAttemptRow.tester == tester, CheckoutAttemptRow.status == "open",
            CheckoutAttemptRow.session_id.is_not(None)).order_by(CheckoutAttemptRow.id))

    async def unfinished(self, tester: str | None) -> builtins.list[CheckoutAttempt]:
        """Attempts still open or declined (of `tester`, or everyone's)."""
        query = select(CheckoutAttemptRow).where(CheckoutAttemptRow.outcome.in_(
            [str(Outcome.OPEN), str(Outcome.DECLINED)]))
        if tester is not None:
            query = query.where(CheckoutAttemptRow.tester == tester)
        return await self._select(query.order_by(CheckoutAttemptRow.id))

    async def _select(self, query: Any) -> builtins.list[CheckoutAttempt]:
        def run(session: Session) -> list[CheckoutAttempt]:
            return [attempt_from_row(row) for row in session.execute(query).scalars()]

        return await self._db.run(run)

    # ----------------------------------------------------------------- in the worker thread
    @staticmethod
    def _insert_in(session: Session, *, key: str, lines: tuple[CheckoutLine, ...],
                   tester: str, now: datetime, expires_at: datetime) -> CheckoutAttempt:
        existing = session.execute(select(CheckoutAttemptRow).where(
            CheckoutAttemptRow.attempt_key == key)).scalar_one_or_none()
        if existing is not None:  # resuming an attempt whose create never answered
            return attempt_from_row(existing)
        items: builtins.list[dict[str, Any]] = [
            {"listing_id": line.listing_id, "quantity": line.quantity,
             "title": line.title, "price_id": line.price_id,
             "unit_amount": line.unit_amount, "currency": line.currency}
            for line in lines]
        row = CheckoutAttemptRow(
            attempt_key=key, line_items=items, currency=items[0]["currency"],
            amount_total=sum(item["unit_amount"] * item["quantity"] for item in items),
            tester=tester, livemode=False, created_at=now, expires_at=expires_at,
            status="creating", payment_status="unpaid", outcome=str(Outcome.OPEN),
            decline_code="", decline_message="", updated_at=now, card_brand="",
            card_last4="")
        session.add(row)
        session.flush()
        return attempt_from_row(row)

    @staticmethod
    def _row_in(session: Session, ref: int | str, *,
                lock: bool = False) -> CheckoutAttemptRow | None:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return session.get(CheckoutAttemptRow, ref, with_for_update=lock)
        query = select(CheckoutAttemptRow).where(CheckoutAttemptRow.session_id == str(ref))
        return session.execute(query.with_for_update() if lock else query
                               ).scalar_one_or_none()

    @classmethod
    def _get_in(cls, session: Session, *, ref: int | str) -> CheckoutAttempt:
        row = cls._row_in(session, ref)
        if row is None:
            what = f"attempt {ref}" if isinstance(ref, int) else f"session {ref}"
            raise NotFoundError(f"checkout {what} is not one of this app's attempts")
        return attempt_from_row(row)

    def _write_in(self, session: Session, row: CheckoutAttemptRow, rule: Rule, *,
                  source: str, now: datetime) -> tuple[CheckoutAttempt, CheckoutAttempt]:
        """(before, after); `after is before` when the rule changed nothing."""
        before = attempt_from_row(row)
        fields = recorded_fields(rule(before))
        if fields == recorded_fields(before):
            return before, before
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = now
        session.flush()
        after = attempt_from_row(row)
        details = audit_details(before, after, source)
        if details is not None:
            session.add(AuditRow(entity="checkout_attempt", entity_id=str(row.id),
                                 action=f"outcome_{after.outcome}", actor=self._actor, at=now,
                                 details=details))
        return before, after

    def _transition_in(self, session: Session, *, attempt_id: int, rule: Rule, source: str,
                       now: datetime) -> tuple[CheckoutAttempt, CheckoutAttempt]:
        row = self._row_in(session, attempt_id, lock=True)
        if row is None:
            raise NotFoundError(f"checkout attempt {attempt_id} does not exist")
        return self._write_in(session, row, rule, source=source, now=now)

    @classmethod
    def _row_for_target_in(cls, session: Session,
                           target: EventTarget) -> CheckoutAttemptRow | None:
        if target[0] == "session":
            return cls._row_in(session, target[1], lock=True)
        raw_id, key = target[1], target[2]
        if not raw_id.isdigit() or len(raw_id) > 12:
            return None
        row = session.get(CheckoutAttemptRow, int(raw_id), with_for_update=True)
        # The key must match too: attempt numbers repeat across databases sharing one account.
        return row if row is not None and row.attempt_key == key else None

    def _apply_event_in(self, session: Session, *, event_id: str, event_type: str,
                        target: EventTarget | None, rule: Rule | None,
                        now: datetime) -> tuple[str, CheckoutAttempt | None]:
        if session.get(WebhookEventRow, event_id) is not None:
            return "duplicate", None
        try:
            with session.begin_nested():  # a savepoint: losing the race must not doom the rest
                session.add(WebhookEventRow(event_id=event_id, type=event_type[:100],
                                            received_at=now))
        except IntegrityError:  # the same event delivered twice at once: the other one won
            return "duplicate", None
        row = self._row_for_target_in(session, target) if target is not None else None
        if row is None or rule is None:
            return "ignored", None  # not a lab event, or a session of another app
        before, after = self._write_in(session, row, rule, source=f"webhook {event_type}",
                                       now=now)
        return "processed", (None if after is before else after)

