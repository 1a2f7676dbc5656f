"""A listing's recorded history and the Stripe queue's length, read inside a transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from uhadmin.domain.listing import AuditEntry
from uhadmin.services.listing_rows import parse_time
from uhadmin.services.tables import AuditRow, StripeChangeRow

AUDIT = AuditRow.__table__
OUTBOX = StripeChangeRow.__table__


def history_in(session: Session, listing_id: int) -> list[AuditEntry]:
    rows = session.execute(
        select(AUDIT)
        .where(AUDIT.c.entity == "listing", AUDIT.c.entity_id == str(listing_id))
        .order_by(AUDIT.c.at.desc(), AUDIT.c.id.desc()))
    return [AuditEntry(id=row.id, entity=row.entity, entity_id=row.entity_id,
                       action=row.action, actor=row.actor,
                       # An unreadable time (rows are untrusted) sorts first, not a crash.
                       at=parse_time(row.at) or datetime.min.replace(tzinfo=UTC),
                       details=dict(row.details or {}))
            for row in rows]


def queued_changes_in(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(OUTBOX).where(OUTBOX.c.done_at.is_(None))
    ).scalar_one()
