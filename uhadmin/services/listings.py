"""The catalog's use cases: create, edit, review and find listings, audited and outboxed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from uhadmin.domain.bulk import BulkOutcome, BulkProgress, ListingVersion
from uhadmin.domain.changes import ListingsChanged
from uhadmin.domain.listing import (
    AuditEntry,
    BulkResult,
    Listing,
    ListingChanges,
    ListingQuery,
    ListingStatus,
    NewListing,
    Page,
    SyncState,
    check_reason,
)
from uhadmin.domain.sync import CancelToken
from uhadmin.errors import ConflictError, IllegalTransitionError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listing_bulk import BULK_BATCH_SIZE, run_in_batches
from uhadmin.services.listing_history import history_in, queued_changes_in
from uhadmin.services.listing_queries import (
    MAX_PAGE_SIZE,
    count_by_status_in,
    matching_ids_in,
    row_in,
    search_in,
)
from uhadmin.services.listing_rows import row_to_listing
from uhadmin.services.listing_status import (
    apply_status_in,
    change_status_batch_in,
    move_matching_batch_in,
    status_path,
)
from uhadmin.services.listing_undo import revert_batch_in
from uhadmin.services.listing_writes import (
    AuditNote,
    audit,
    delete_listing,
    insert_listing,
    published,
    write_listing,
)
from uhadmin.validation import validate_listing_changes, validate_new_listing

__all__ = ["BULK_BATCH_SIZE", "MAX_PAGE_SIZE", "ListingService"]

# Every row is read as untrusted input (the website writes them): see listing_rows.

# The fields ListingChanges may touch, in display order for audit details.
_EDITABLE_FIELDS = (
    "title", "description", "price_minor", "currency", "image_urls",
    "seller_contact", "category", "condition",
)
# The fields every write sets besides those it was asked to, and those a status change may
# set, as the change bus reports them.
_WRITE_FIELDS = frozenset({"version", "updated_at", "updated_by"})
_STATUS_FIELDS = _WRITE_FIELDS | {"status", "rejection_reason", "sync_state"}


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


class ListingService:
    """Listing use cases over the database; never calls Stripe (the outbox tells the sync).

    Every mutation validates first, then writes the listing, its audit row and (when Stripe
    is affected) its outbox row in one short transaction, then publishes a Change. Actions
    over many listings (a filter's matches, an undo) run in batches (listing_bulk).
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
        path = status_path(ListingStatus.DRAFT, new.status)
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
            done, refused = await self._db.run(functools.partial(
                change_status_batch_in, listing_ids=batch, new_status=new_status, actor=actor,
                reason=reason, now=_utcnow()), write=True)
            succeeded.extend(done)
            failed.update(refused)
        if succeeded:
            await self._publish({listing.id for listing in succeeded}, initiator,
                                listings=succeeded, fields=_STATUS_FIELDS)
        return BulkResult(succeeded=tuple(succeeded), failed=failed)

    async def change_status_matching(
        self, query: ListingQuery, new_status: ListingStatus, *, actor: str, reason: str = "",
        initiator: object | None = None,
        on_progress: Callable[[BulkProgress], Any] | None = None,
        cancel: CancelToken | None = None,
    ) -> BulkOutcome:
        """Move every listing the query's search and filters match (not a page of them),
        as they stand when it starts, in batches with progress; Cancel stops between
        batches. Listings that cannot move are skipped with a reason that counts well."""
        new_status = ListingStatus(new_status)
        check_reason(new_status, reason)
        ids = await self._db.run(
            lambda session: matching_ids_in(session, self._db.dialect, query))

        def work(session: Session, batch: Sequence[int],
                 now: datetime) -> tuple[list[ListingVersion], dict[int, str]]:
            return move_matching_batch_in(session, batch, new_status, actor=actor,
                                          reason=reason, now=now)

        return await run_in_batches(self._db, ids, work, on_progress=on_progress,
                                    cancel=cancel,
                                    publish=lambda changed: self._publish(changed, initiator,
                                                                          fields=_STATUS_FIELDS))

    async def revert(
        self, changes: Sequence[ListingVersion], *, actor: str, initiator: object | None = None,
        on_progress: Callable[[BulkProgress], Any] | None = None,
        cancel: CancelToken | None = None,
    ) -> BulkOutcome:
        """Undo recorded changes (each named by the version it wrote) from the audit log;
        a listing saved since is skipped and says by whom. Reverting what this returns
        is a redo."""
        targets = list({x.listing_id: x for x in changes}.values())

        def work(session: Session, batch: Sequence[ListingVersion],
                 now: datetime) -> tuple[list[ListingVersion], dict[int, str]]:
            return revert_batch_in(session, batch, actor=actor, now=now)

        return await run_in_batches(self._db, targets, work, on_progress=on_progress,
                                    cancel=cancel,
                                    publish=lambda changed: self._publish(changed, initiator))

    async def delete_draft(
        self, listing_id: int, *, actor: str, initiator: object | None = None
    ) -> None:
        """Delete a draft that never reached review or Stripe; anything else is refused."""
        await self._db.run(
            functools.partial(self._delete_draft_in, listing_id=listing_id, actor=actor),
            write=True,
        )
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
        await self._publish({entry["listing_id"] for entry in entries}, initiator)

    # --- queries ---------------------------------------------------------------------
    async def get(self, listing_id: int) -> Listing:
        """The listing with this id (NotFoundError if there is none)."""
        return await self._db.run(lambda session: row_to_listing(row_in(session, listing_id)))

    async def search(self, query: ListingQuery) -> Page[Listing]:
        """One page of listings: full-text search, filters, sort and paging in the database."""
        return await self._db.run(lambda session: search_in(session, self._db.dialect, query))

    async def count_by_status(self) -> dict[ListingStatus, int]:
        """How many listings each status holds (every status present, zeros included)."""
        return await self._db.run(count_by_status_in)

    async def history(self, listing_id: int) -> list[AuditEntry]:
        """Every recorded mutation of one listing, newest first."""
        return await self._db.run(lambda session: history_in(session, listing_id))

    async def queued_changes(self) -> int:
        """Outbox rows not yet pushed to Stripe (for "offline, N changes queued")."""
        return await self._db.run(queued_changes_in)

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
        listing = row_in(session, listing_id)
        for step in path:
            listing = apply_status_in(session, listing, step, actor=actor, reason="", now=now)
        return row_to_listing(listing)

    def _update_in(
        self, session: Session, *, listing_id: int, changes: ListingChanges,
        expected_version: int, actor: str,
    ) -> tuple[Listing, frozenset[str]]:
        """The listing after the edit and the fields it changed (none: nothing saved)."""
        before = row_in(session, listing_id)
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
        # The UPDATE returns the saved row: no second read.
        listing = row_to_listing(write_listing(session, before, values, actor=actor,
                                               action="update", details={"changes": changed},
                                               now=_utcnow()))
        moved = {"sync_state"} if listing.sync_state != current.sync_state else set()
        return listing, frozenset(values) | moved

    @staticmethod
    def _change_status_in(
        session: Session, *, listing_id: int, new_status: ListingStatus, actor: str,
        expected_version: int | None, reason: str,
    ) -> Listing:
        before = row_in(session, listing_id)
        if expected_version is not None and before.version != expected_version:
            raise ConflictError(listing_id, expected_version, before.version)
        return row_to_listing(apply_status_in(session, before, new_status, actor=actor,
                                              reason=reason, now=_utcnow()))

    def _delete_draft_in(self, session: Session, *, listing_id: int, actor: str) -> None:
        before = row_in(session, listing_id)
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

