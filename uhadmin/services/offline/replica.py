"""The replica file: open it, read the mirrored catalog, and keep the offline operations."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from uhadmin.domain.listing import AuditEntry, Listing, ListingQuery, ListingStatus, Page, SortKey
from uhadmin.domain.offline import (
    FieldConflict,
    OfflineOperation,
    OperationKind,
    OperationState,
)
from uhadmin.errors import NotFoundError
from uhadmin.services.database import Database
from uhadmin.services.dml_result import inserted_id, rowcount
from uhadmin.services.listing_queries import MAX_PAGE_SIZE
from uhadmin.services.listing_rows import row_to_listing, stored_time
from uhadmin.services.offline.schema import HISTORY, MIRROR, OPERATIONS, STATE, metadata

_SORT_COLUMNS = {
    SortKey.ID: MIRROR.c.id,
    SortKey.TITLE: func.lower(MIRROR.c.title),
    SortKey.PRICE: MIRROR.c.price_minor,
    SortKey.STATUS: MIRROR.c.status,
    SortKey.SYNC_STATE: MIRROR.c.sync_state,
    SortKey.UPDATED: MIRROR.c.updated_at,
    SortKey.CREATED: MIRROR.c.created_at,
}

UNSETTLED = (OperationState.PENDING, OperationState.CONFLICT)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _to_operation(row: Any) -> OfflineOperation:
    return OfflineOperation(
        id=row.id, listing_id=row.listing_id, kind=OperationKind(row.kind),
        base_version=row.base_version, base=dict(row.base), changes=dict(row.changes),
        actor=row.actor, created_at=stored_time(row.created_at, "operations.created_at"),
        state=OperationState(row.state),
        conflicts=tuple(FieldConflict(**item) for item in row.conflicts or ()),
        note=row.note or "",
    )


class Replica:
    """A local SQLite copy of one catalog and the operations made on it while offline.

    Each write is one short committed transaction, so an operation the reviewer was told
    is saved survives a crash of the app.
    """

    def __init__(self, path: Path, *, catalog: str) -> None:
        self.path = path
        self.catalog = catalog
        self.db = Database(f"sqlite:///{path}")
        metadata.create_all(self.db.engine)

    def close(self) -> None:
        self.db.close()

    # --- state ---------------------------------------------------------------------------
    async def state(self) -> dict[str, str]:
        return await self.db.run(self._state_in)

    @staticmethod
    def _state_in(session: Session) -> dict[str, str]:
        return dict(session.execute(select(STATE.c.key, STATE.c.value)).all())

    @staticmethod
    def set_state_in(session: Session, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            if rowcount(session.execute(update(STATE).where(STATE.c.key == key)
                                        .values(value=value))) == 0:
                session.execute(insert(STATE).values(key=key, value=value))

    async def refreshed_at(self) -> datetime | None:
        value = (await self.state()).get("refreshed_at")
        return datetime.fromisoformat(value) if value else None

    # --- the mirrored catalog ------------------------------------------------------------
    async def get(self, listing_id: int) -> Listing:
        return await self.db.run(functools.partial(self._get_in, listing_id=listing_id))

    @staticmethod
    def _get_in(session: Session, *, listing_id: int) -> Listing:
        row = session.execute(select(MIRROR).where(MIRROR.c.id == listing_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"listing {listing_id} is not in the offline copy")
        return row_to_listing(row)

    async def search(self, query: ListingQuery) -> Page[Listing]:
        return await self.db.run(functools.partial(self._search_in, query=query))

    @staticmethod
    def _search_in(session: Session, *, query: ListingQuery) -> Page[Listing]:
        conditions: list[ColumnElement[bool]] = []
        if query.statuses:
            conditions.append(MIRROR.c.status.in_(sorted(s.value for s in query.statuses)))
        if query.sync_states:
            conditions.append(MIRROR.c.sync_state.in_(sorted(s.value for s in query.sync_states)))
        for word in query.search.split():
            # A plain substring match: the copy has no full-text index, and offline
            # review works on a few thousand listings a person can read.
            pattern = f"%{word.replace('%', '').replace('_', '')}%"
            conditions.append(or_(MIRROR.c.title.ilike(pattern),
                                  MIRROR.c.description.ilike(pattern)))
        total = session.execute(
            select(func.count()).select_from(MIRROR).where(*conditions)).scalar_one()
        column = _SORT_COLUMNS[SortKey(query.sort)]
        order = ((column.desc(), MIRROR.c.id.desc()) if query.descending
                 else (column.asc(), MIRROR.c.id.asc()))
        rows = session.execute(select(MIRROR).where(*conditions).order_by(*order)
                               .offset(max(query.offset, 0))
                               .limit(min(max(query.limit, 0), MAX_PAGE_SIZE)))
        return Page(items=tuple(row_to_listing(row) for row in rows), total=total,
                    offset=query.offset)

    async def count_by_status(self) -> dict[ListingStatus, int]:
        return await self.db.run(self._count_by_status_in)

    @staticmethod
    def _count_by_status_in(session: Session) -> dict[ListingStatus, int]:
        counts = {status: 0 for status in ListingStatus}
        for status, count in session.execute(
                select(MIRROR.c.status, func.count()).group_by(MIRROR.c.status)):
            counts[ListingStatus(status)] = count
        return counts

    async def history(self, listing_id: int) -> list[AuditEntry]:
        return await self.db.run(functools.partial(self._history_in, listing_id=listing_id))

    @staticmethod
    def _history_in(session: Session, *, listing_id: int) -> list[AuditEntry]:
        rows = session.execute(select(HISTORY).where(HISTORY.c.listing_id == listing_id)
                               .order_by(HISTORY.c.at.desc(), HISTORY.c.id.desc()))
        return [AuditEntry(id=row.id, entity="listing", entity_id=str(row.listing_id),
                           action=row.action, actor=row.actor or "",
                           at=stored_time(row.at, "history.at"),
                           details=dict(row.details or {}))
                for row in rows]

    async def image_urls(self) -> list[str]:
        """Every copied listing's image URLs, those awaiting review first."""
        def read(session: Session) -> list[str]:
            waiting_first = case((MIRROR.c.status == ListingStatus.PENDING_REVIEW.value, 0),
                                 else_=1)
            urls: list[str] = []
            for images in session.execute(select(MIRROR.c.image_urls).order_by(
                    waiting_first, MIRROR.c.updated_at.desc())).scalars():
                if isinstance(images, list):
                    urls += [url for url in images if isinstance(url, str)]
            return urls

        return await self.db.run(read)

    # --- operations ----------------------------------------------------------------------
    async def add_operation(self, *, listing_id: int, kind: OperationKind, base_version: int,
                            base: Mapping[str, Any], changes: Mapping[str, Any],
                            actor: str) -> OfflineOperation:
        """Store one offline change durably (committed before this returns)."""
        values: dict[str, Any] = dict(
            listing_id=listing_id, kind=kind.value, base_version=base_version,
            base=dict(base), changes=dict(changes), actor=actor,
            created_at=_utcnow(), state=OperationState.PENDING.value, conflicts=[], note="")

        def write(session: Session) -> OfflineOperation:
            new_id = inserted_id(session.execute(insert(OPERATIONS).values(**values)))
            return _to_operation(session.execute(
                select(OPERATIONS).where(OPERATIONS.c.id == new_id)).one())

        return await self.db.run(write, write=True)

    async def operations(self, states: Iterable[OperationState] = UNSETTLED,
                         listing_ids: Iterable[int] | None = None) -> list[OfflineOperation]:
        """Operations in these states, oldest first (optionally of these listings only)."""
        wanted = sorted(state.value for state in states)
        ids = None if listing_ids is None else sorted(set(listing_ids))

        def read(session: Session) -> list[OfflineOperation]:
            query = select(OPERATIONS).where(OPERATIONS.c.state.in_(wanted))
            if ids is not None:
                query = query.where(OPERATIONS.c.listing_id.in_(ids))
            return [_to_operation(row) for row in session.execute(query.order_by(OPERATIONS.c.id))]

        return await self.db.run(read)

    async def operation(self, operation_id: int) -> OfflineOperation:
        def read(session: Session) -> OfflineOperation:
            row = session.execute(select(OPERATIONS).where(
                OPERATIONS.c.id == operation_id)).one_or_none()
            if row is None:
                raise NotFoundError(f"offline operation {operation_id} does not exist")
            return _to_operation(row)

        return await self.db.run(read)

    async def settle(self, operation_id: int, state: OperationState, *,
                     conflicts: tuple[FieldConflict, ...] = (), note: str = "") -> None:
        """Record what became of an operation (conflicts stay until a person resolves)."""
        await self.settle_many([(operation_id, state, conflicts, note)])

    async def settle_many(self, outcomes: Sequence[tuple[int, OperationState,
                                                         tuple[FieldConflict, ...], str]]
                          ) -> None:
        """settle() for many operations in one transaction."""
        now = _utcnow()
        rows = [{"b_id": operation_id, "state": state.value,
                 "conflicts": [asdict(c) for c in conflicts], "note": note,
                 "settled_at": None if state in UNSETTLED else now}
                for operation_id, state, conflicts, note in outcomes]
        if rows:
            await self.db.run(lambda session: session.execute(
                update(OPERATIONS).where(OPERATIONS.c.id == bindparam("b_id")), rows),
                write=True)

    async def counts(self) -> dict[OperationState, int]:
        def read(session: Session) -> dict[OperationState, int]:
            counts = {state: 0 for state in OperationState}
            for state, count in session.execute(select(
                    OPERATIONS.c.state, func.count()).group_by(OPERATIONS.c.state)):
                counts[OperationState(state)] = count
            return counts

        return await self.db.run(read)
