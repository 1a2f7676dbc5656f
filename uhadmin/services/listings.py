"""The catalog's use cases: create, edit, review and find listings, audited and outboxed."""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from uhadmin.domain.changes import ListingsChanged
from uhadmin.domain.listing import (
    ALLOWED_TRANSITIONS,
    AuditEntry,
    BulkResult,
    Listing,
    ListingChanges,
    ListingQuery,
    ListingStatus,
    NewListing,
    Page,
    SortKey,
    SyncState,
    check_reason,
    check_transition,
)
from uhadmin.errors import (
    ConflictError,
    IllegalTransitionError,
    NotFoundError,
    UhadminError,
    ValidationError,
)
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listing_rows import LISTING_COLUMNS, row_to_listing, stored_time
from uhadmin.services.listing_writes import (
    AuditNote,
    audit,
    delete_listing,
    insert_listing,
    published,
    write_listing,
)
from uhadmin.services.needs_fixing import may_need_fixing
from uhadmin.services.search import text_search
from uhadmin.services.tables import AuditRow, ListingRow, StripeChangeRow
from uhadmin.validation import validate_listing_changes, validate_new_listing

LISTINGS = ListingRow.__table__
AUDIT = AuditRow.__table__
OUTBOX = StripeChangeRow.__table__

# Every row is read as untrusted input (the website writes them): see listing_rows.

# The fields every write sets besides those it was asked to, and those a status change may
# set, as the change bus reports them.
_WRITE_FIELDS = frozenset({"version", "updated_at", "updated_by"})
_STATUS_FIELDS = _WRITE_FIELDS | {"status", "rejection_reason", "sync_state"}
# The fields ListingChanges may touch, in display order for audit details.
_EDITABLE_FIELDS = (
    "title", "description", "price_minor", "currency", "image_urls",
    "seller_contact", "category", "condition",
)

_SORT_COLUMNS = {
    SortKey.ID: LISTINGS.c.id,
    # lower(): people expect "apple" next to "Apple"; ix_listings_title indexes exactly this.
    SortKey.TITLE: func.lower(LISTINGS.c.title),
    SortKey.PRICE: LISTINGS.c.price_minor,
    SortKey.STATUS: LISTINGS.c.status,
    SortKey.SYNC_STATE: LISTINGS.c.sync_state,
    SortKey.UPDATED: LISTINGS.c.updated_at,
    SortKey.CREATED: LISTINGS.c.created_at,
}

# Searches matching at most this many listings page over their ids (see _search_in).
FEW_MATCHES = 1000

# A page never carries more than this many listings, whatever the caller asks.
MAX_PAGE_SIZE = 1000

# change_status_many commits in batches this large: one fsync per batch instead of per
# listing, while no write transaction stays open long enough to stall other writers.
BULK_BATCH_SIZE = 200


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _listing_snapshot(listing: Listing) -> dict[str, Any]:
    return {
        "title": listing.title,
        "price_minor": listing.price_minor,
        "currency": listing.currency,
        "status": str(listing.status),
        "description": listing.description,
        "image_urls": list(listing.image_urls),
        "seller_contact": listing.seller_contact,
        "category": listing.category,
        "condition": listing.condition,
    }


def _status_path(start: ListingStatus, goal: ListingStatus) -> list[ListingStatus]:
    """The shortest walk through the state machine from `start` to `goal` (excluding start)."""
    if start == goal:
        return []
    came_from: dict[ListingStatus, ListingStatus] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for following in sorted(ALLOWED_TRANSITIONS[current]):
            if following in came_from or following == start:
                continue
            came_from[following] = current
            if following == goal:
                path = []
                while following != start:
                    path.append(following)
                    following = came_from[following]
                return path[::-1]
            queue.append(following)
    raise IllegalTransitionError(f"status: a new listing cannot become {goal} from {start}")


def _order(query: ListingQuery) -> tuple[Any, Any]:
    sort_column = _SORT_COLUMNS[SortKey(query.sort)]
    # The id tiebreak runs in the same direction so one index serves both keys and equal
    # prices never swap places between pages.
    if query.descending:
        return sort_column.desc(), LISTINGS.c.id.desc()
    return sort_column.asc(), LISTINGS.c.id.asc()


class ListingService:
    """Listing use cases over the database; never calls Stripe (the outbox tells the sync).

    Every mutation validates first, then writes the listing, its audit row and (when Stripe
    is affected) its outbox row in one short transaction, then publishes a Change.
    """

    def __init__(self, db: Database, bus: ChangeBus, *, default_currency: str = "usd") -> None:
        self._db = db
        self._bus = bus
        self._default_currency = default_currency.lower()

    # --- mutations -------------------------------------------------------------------
    async def create(
        self, new: NewListing, *, actor: str, initiator: object | None = None
    ) -> Listing:
        """Insert a draft, then walk the state machine to `new.status`, each step audited."""
        new = replace(new, currency=(new.currency or self._default_currency).lower())
        validate_new_listing(new)
        path = _status_path(ListingStatus.DRAFT, new.status)
        listing = await self._db.run(
            functools.partial(self._create_in, new=new, path=path, actor=actor), write=True
        )
        await self._publish({listing.id}, initiator, listings=[listing])
        return listing

    async def update(
        self,
        listing_id: int,
        changes: ListingChanges,
        *,
        expected_version: int,
        actor: str,
        initiator: object | None = None,
    ) -> Listing:
        """Apply a partial edit to the version the person saw; ConflictError if it moved on."""
        if changes.currency is not None:
            changes = replace(changes, currency=changes.currency.lower())
        validate_listing_changes(changes)
        listing, fields = await self._db.run(
            functools.partial(
                self._update_in, listing_id=listing_id, changes=changes,
                expected_version=expected_version, actor=actor,
            ),
            write=True,
        )
        if fields:
            await self._publish({listing.id}, initiator, listings=[listing],
                                fields=fields | _WRITE_FIELDS)
        return listing

    async def change_status(
        self,
        listing_id: int,
        new_status: ListingStatus,
        *,
        actor: str,
        expected_version: int | None = None,
        reason: str = "",
        initiator: object | None = None,
    ) -> Listing:
        """Move one listing through the state machine (IllegalTransitionError if not allowed)."""
        new_status = ListingStatus(new_status)
        listing = await self._db.run(
            functools.partial(
                self._change_status_in, listing_id=listing_id, new_status=new_status,
                actor=actor, expected_version=expected_version, reason=reason,
            ),
            write=True,
        )
        await self._publish({listing.id}, initiator, listings=[listing],
                            fields=_STATUS_FIELDS)
        return listing

    async def change_status_many(
        self,
        listing_ids: Sequence[int],
        new_status: ListingStatus,
        *,
        actor: str,
        reason: str = "",
        initiator: object | None = None,
    ) -> BulkResult:
        """Move many listings; each one that cannot move is reported, the others still move."""
        new_status = ListingStatus(new_status)
        check_reason(new_status, reason)  # refuse the whole batch up front, not per listing
        unique_ids = list(dict.fromkeys(listing_ids))
        succeeded: list[Listing] = []
        failed: dict[int, str] = {}
        for start in range(0, len(unique_ids), BULK_BATCH_SIZE):
            batch = unique_ids[start:start + BULK_BATCH_SIZE]
            done, refused = await self._db.run(
                functools.partial(
                    self._change_status_batch_in, listing_ids=batch, new_status=new_status,
                    actor=actor, reason=reason,
                ),
                write=True,
            )
            succeeded.extend(done)
            failed.update(refused)
        if succeeded:
            await self._publish({listing.id for listing in succeeded}, initiator,
                                listings=succeeded, fields=_STATUS_FIELDS)
        return BulkResult(succeeded=tuple(succeeded), failed=failed)

    async def delete_draft(
        self, listing_id: int, *, actor: str, initiator: object | None = None
    ) -> None:
        """Delete a draft that never reached review or Stripe; anything else is refused."""
        await self._db.run(
            functools.partial(self._delete_draft_in, listing_id=listing_id, actor=actor),
            write=True,
        )
        # Only a draft Stripe never saw is deleted: the Stripe queue stays as it was.
        await self._publish({listing_id}, initiator, queue_moved=False)

    async def record_outcomes(
        self, entries: Sequence[Mapping[str, Any]], *, initiator: object | None = None,
    ) -> None:
        """Audit what became of changes that were not (or not wholly) written, such as
        offline operations that met a conflict, so every outcome is in the history; one
        transaction for all. Each entry: listing_id, action, details, actor."""
        if not entries:
            return
        by_actor: dict[str, list[AuditNote]] = {}
        for entry in entries:
            by_actor.setdefault(entry["actor"], []).append(
                AuditNote(entry["listing_id"], entry["action"], entry["details"]))

        def write(session: Session) -> None:
            for actor, notes in by_actor.items():
                audit(session, notes, actor=actor)

        await self._db.run(write, write=True)
        # Audit rows only: the Stripe queue stays as it was.
        await self._publish({entry["listing_id"] for entry in entries}, initiator,
                            queue_moved=False)

    # --- queries ---------------------------------------------------------------------
    async def get(self, listing_id: int) -> Listing:
        """The listing with this id (NotFoundError if there is none)."""
        return await self._db.run(functools.partial(self._get_in, listing_id=listing_id))

    async def search(self, query: ListingQuery) -> Page[Listing]:
        """One page of listings: full-text search, filters, sort and paging in the database."""
        return await self._db.run(functools.partial(self._search_in, query=query))

    async def count_by_status(self) -> dict[ListingStatus, int]:
        """How many listings each status holds (every status present, zeros included)."""
        return await self._db.run(self._count_by_status_in)

    async def history(self, listing_id: int) -> list[AuditEntry]:
        """Every recorded mutation of one listing, newest first."""
        return await self._db.run(functools.partial(self._history_in, listing_id=listing_id))

    async def queued_changes(self) -> int:
        """Outbox rows not yet pushed to Stripe (for "offline, N changes queued")."""
        return await self._db.run(self._queued_changes_in)

    # --- work inside one transaction (worker thread) ---------------------------------
    async def _publish(self, ids: Iterable[int], initiator: object | None, *,
                       listings: Sequence[Listing] = (), fields: frozenset[str] = frozenset(),
                       queue_moved: bool | None = None) -> None:
        """Tell the bus, with the saved listings and the Stripe queue's new length if a
        saved listing now waits in it (counted once here rather than by every view)."""
        if queue_moved is None:
            queue_moved = not listings or any(
                listing.sync_state is SyncState.PENDING for listing in listings)
        queued = await self.queued_changes() if queue_moved and self._bus.listened else None
        self._bus.publish(ListingsChanged(
            ids=frozenset(ids), fields=fields, listings=tuple(listings),
            queue_moved=queue_moved, queued=queued, initiator=initiator))

    @staticmethod
    def _get_in(session: Session, *, listing_id: int) -> Listing:
        return row_to_listing(ListingService._row_in(session, listing_id))

    @staticmethod
    def _row_in(session: Session, listing_id: int) -> Any:
        row = session.execute(
            select(*LISTING_COLUMNS).where(LISTINGS.c.id == listing_id)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"listing {listing_id} does not exist")
        return row

    def _write_in(
        self, session: Session, before: Any, values: dict[str, Any], *, actor: str,
        action: str, details: dict[str, Any], now: datetime,
    ) -> Listing:
        """Save `values` over `before` through the one write path; the listing after it
        (as the UPDATE returned it: no second read)."""
        return row_to_listing(write_listing(session, before, values, actor=actor,
                                            action=action, details=details, now=now))

    def _create_in(
        self, session: Session, *, new: NewListing, path: list[ListingStatus], actor: str
    ) -> Listing:
        now = _utcnow()
        fields = {
            "title": new.title, "description": new.description,
            "price_minor": new.price_minor, "currency": new.currency,
            "image_urls": list(new.image_urls), "seller_contact": new.seller_contact,
            "category": new.category, "condition": new.condition,
        }
        values = {**fields, "status": ListingStatus.DRAFT.value}
        listing_id = insert_listing(session, values, actor=actor, action="create",
                                    details={"fields": values}, now=now)
        listing = row_to_listing(self._row_in(session, listing_id))
        for step in path:
            listing = self._apply_status_in(session, self._row_in(session, listing_id), step,
                                            actor=actor, reason="", now=now)
        return listing

    def _update_in(
        self, session: Session, *, listing_id: int, changes: ListingChanges,
        expected_version: int, actor: str,
    ) -> tuple[Listing, frozenset[str]]:
        """The listing after the edit and the fields it changed (none: nothing saved)."""
        before = self._row_in(session, listing_id)
        if before.version != expected_version:
            raise ConflictError(listing_id, expected_version, before.version)
        current = row_to_listing(before)
        # Checked again against the stored listing: a new price must suit the stored
        # currency, and the other way round.
        validate_listing_changes(changes, current=current)
        values: dict[str, Any] = {}
        changed: dict[str, list[Any]] = {}
        for name in _EDITABLE_FIELDS:
            new_value = getattr(changes, name)
            if new_value is None:
                continue
            old_value = getattr(current, name)
            if name == "image_urls":
                new_value, old_value = list(new_value), list(old_value)
            if new_value != old_value:
                values[name] = new_value
                changed[name] = [old_value, new_value]
        if not values:
            return current, frozenset()  # nothing to save: no new version, audit or push
        listing = self._write_in(session, before, values, actor=actor, action="update",
                                 details={"changes": changed}, now=_utcnow())
        moved = {"sync_state"} if listing.sync_state != current.sync_state else set()
        return listing, frozenset(values) | moved

    def _apply_status_in(
        self, session: Session, before: Any, new_status: ListingStatus, *, actor: str,
        reason: str, now: datetime,
    ) -> Listing:
        check_transition(ListingStatus(before.status), new_status)
        check_reason(new_status, reason)
        values: dict[str, Any] = {"status": new_status.value}
        if new_status == ListingStatus.REJECTED:
            values["rejection_reason"] = reason
        details = {"from": before.status, "to": new_status.value}
        if reason:
            details["reason"] = reason
        return self._write_in(session, before, values, actor=actor, action="status",
                              details=details, now=now)

    def _change_status_in(
        self, session: Session, *, listing_id: int, new_status: ListingStatus, actor: str,
        expected_version: int | None, reason: str,
    ) -> Listing:
        before = self._row_in(session, listing_id)
        if expected_version is not None and before.version != expected_version:
            raise ConflictError(listing_id, expected_version, before.version)
        return self._apply_status_in(session, before, new_status, actor=actor, reason=reason,
                                     now=_utcnow())

    def _change_status_batch_in(
        self, session: Session, *, listing_ids: list[int], new_status: ListingStatus,
        actor: str, reason: str,
    ) -> tuple[list[Listing], dict[int, str]]:
        now = _utcnow()
        done: list[Listing] = []
        refused: dict[int, str] = {}
        for listing_id in listing_ids:
            try:
                before = self._row_in(session, listing_id)
                done.append(self._apply_status_in(session, before, new_status, actor=actor,
                                                  reason=reason, now=now))
            except UhadminError as exc:
                refused[listing_id] = str(exc)
        return done, refused

    def _delete_draft_in(self, session: Session, *, listing_id: int, actor: str) -> None:
        before = self._row_in(session, listing_id)
        if before.status != ListingStatus.DRAFT:
            raise IllegalTransitionError(
                f"listing {listing_id} is {before.status}: only a draft can be deleted "
                "(archive or reject it instead)"
            )
        if published(before):
            raise IllegalTransitionError(
                f"listing {listing_id} was published to Stripe once and cannot be deleted"
            )
        delete_listing(session, before, actor=actor,
                       details={"fields": _listing_snapshot(row_to_listing(before))})

    def _search_in(self, session: Session, *, query: ListingQuery) -> Page[Listing]:
        if query.offset < 0:
            raise ValidationError.single("offset", "must be 0 or more")
        if query.limit < 0:
            raise ValidationError.single("limit", "must be 0 or more")
        limit = min(query.limit, MAX_PAGE_SIZE)
        conditions: list[ColumnElement[bool]] = []
        filtered = False
        if query.statuses:
            conditions.append(LISTINGS.c.status.in_(sorted(s.value for s in query.statuses)))
            filtered = True
        if query.sync_states:
            conditions.append(
                LISTINGS.c.sync_state.in_(sorted(s.value for s in query.sync_states)))
            filtered = True
        page_conditions = list(conditions)
        search = text_search(session, self._db.dialect, query.search)
        if search is not None:
            conditions.append(search.condition)
            page_conditions.append(search.page_condition)
        if query.needs_fixing:
            return self._needs_fixing_page_in(session, query, conditions, limit)
        if search is not None and search.matches is not None and not filtered:
            total = search.matches  # the FTS index counted them already
        else:
            total = session.execute(
                select(func.count()).select_from(LISTINGS).where(*conditions)
            ).scalar_one()
        items: tuple[Listing, ...] = ()
        if limit and query.offset < total:
            if search is not None and total <= FEW_MATCHES:
                # Few matches: hand the page query their ids. Otherwise a planner that
                # cannot estimate a prefix search (PostgreSQL guesses 2,000 rows for
                # "zepp:*") walks the whole sort index for 12 rows: 50 ms instead of 1.
                matching_ids = session.execute(
                    select(LISTINGS.c.id).where(*conditions)).scalars().all()
                page_conditions = [LISTINGS.c.id.in_(matching_ids)]
            page_query: Select = (
                select(*LISTING_COLUMNS).where(*page_conditions).order_by(*_order(query))
                .offset(query.offset).limit(limit)
            )
            items = tuple(row_to_listing(row) for row in session.execute(page_query))
        return Page(items=items, total=total, offset=query.offset)

    def _needs_fixing_page_in(self, session: Session, query: ListingQuery,
                              conditions: list[Any], limit: int) -> Page[Listing]:
        """Listings that break a rule: the database narrows them down (may_need_fixing),
        the rules themselves decide, and the page is cut from what is left, in order."""
        candidates = session.execute(
            select(*LISTING_COLUMNS)
            .where(*conditions, may_need_fixing(self._db.dialect))
            .order_by(*_order(query)))
        broken = [listing for listing in map(row_to_listing, candidates) if listing.needs_fixing]
        items = tuple(broken[query.offset:query.offset + limit])
        return Page(items=items, total=len(broken), offset=query.offset)

    @staticmethod
    def _count_by_status_in(session: Session) -> dict[ListingStatus, int]:
        counts = {status: 0 for status in ListingStatus}
        for status, count in session.execute(
            select(LISTINGS.c.status, func.count()).group_by(LISTINGS.c.status)
        ):
            if status in counts:  # a status outside the workflow is no column of the counts
                counts[ListingStatus(status)] = count
        return counts

    @staticmethod
    def _history_in(session: Session, *, listing_id: int) -> list[AuditEntry]:
        rows = session.execute(
            select(AUDIT)
            .where(AUDIT.c.entity == "listing", AUDIT.c.entity_id == str(listing_id))
            .order_by(AUDIT.c.at.desc(), AUDIT.c.id.desc())
        )
        return [
            AuditEntry(id=row.id, entity=row.entity, entity_id=row.entity_id,
                       action=row.action, actor=row.actor, at=stored_time(row.at, "audit_log.at"),
                       details=dict(row.details or {}))
            for row in rows
        ]

    @staticmethod
    def _queued_changes_in(session: Session) -> int:
        return session.execute(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.done_at.is_(None))
        ).scalar_one()

