"""The listing use cases over the replica: read the copy, record changes as operations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from uhadmin.domain.changes import ListingsChanged
from uhadmin.domain.listing import (
    AuditEntry,
    BulkResult,
    Listing,
    ListingChanges,
    ListingQuery,
    ListingStatus,
    Page,
    check_transition,
)
from uhadmin.domain.offline import EDITABLE_FIELDS, OperationKind, comparable, overlay, snapshot
from uhadmin.errors import ConflictError, UhadminError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.offline.replica import Replica
from uhadmin.validation import validate_listing_changes


class OfflineListings:
    """Stands in for the ListingService while the catalog is out of reach.

    Reads come from the copy with the reviewer's own unsent changes on top; edits and
    status changes are validated as usual and stored as operations with the version and
    values the reviewer saw, to be merged back by OfflinePush.
    """

    def __init__(self, replica: Replica, bus: ChangeBus) -> None:
        self.replica = replica
        self._bus = bus

    # --- reads ---------------------------------------------------------------------------
    async def get(self, listing_id: int) -> Listing:
        listing = await self.replica.get(listing_id)
        return overlay(listing, await self.replica.operations(listing_ids=[listing_id]))

    async def search(self, query: ListingQuery) -> Page[Listing]:
        page = await self.replica.search(query)
        operations = await self.replica.operations(listing_ids=[item.id for item in page.items])
        items = [overlay(item, operations) for item in page.items]
        if query.statuses:
            # A listing approved offline leaves the review queue at once, as it would online.
            shown = [item for item in items if item.status in query.statuses]
            return replace(page, items=tuple(shown), total=page.total - (len(items) - len(shown)))
        return replace(page, items=tuple(items))

    async def count_by_status(self) -> dict[ListingStatus, int]:
        return await self.replica.count_by_status()

    async def history(self, listing_id: int) -> list[AuditEntry]:
        """The copied history, newest first, after this reviewer's unsent changes."""
        unsent = [
            AuditEntry(id=-operation.id, entity="listing", entity_id=str(listing_id),
                       action=f"offline_{operation.kind.value} ({operation.state.value})",
                       actor=operation.actor, at=operation.created_at,
                       details={"changes": dict(operation.changes)})
            for operation in await self.replica.operations(listing_ids=[listing_id])
        ]
        return sorted(unsent, key=lambda entry: entry.at, reverse=True) + \
            await self.replica.history(listing_id)

    async def queued_changes(self) -> int:
        """Offline operations waiting for the catalog (Stripe hears of them after that)."""
        return len(await self.replica.operations())

    # --- changes, recorded as operations -------------------------------------------------
    async def update(self, listing_id: int, changes: ListingChanges, *, expected_version: int,
                     actor: str, initiator: object | None = None,
                     seen: Listing | None = None) -> Listing:
        """Record an edit of the version the reviewer saw (`seen`, when the copy is older
        than what they saw online; else the copy with their earlier changes)."""
        if changes.currency is not None:
            changes = replace(changes, currency=changes.currency.lower())
        current = seen if seen is not None and seen.id == listing_id else \
            await self.get(listing_id)
        if current.version != expected_version:
            raise ConflictError(listing_id, expected_version, current.version)
        validate_listing_changes(changes, current=current)
        edited = {}
        for name in EDITABLE_FIELDS:
            value = getattr(changes, name)
            if value is not None and comparable(value) != comparable(getattr(current, name)):
                edited[name] = list(value) if name == "image_urls" else value
        if not edited:
            return current
        await self.replica.add_operation(
            listing_id=listing_id, kind=OperationKind.EDIT, base_version=current.version,
            base=snapshot(current), changes=edited, actor=actor)
        return self._published(current, edited, initiator)

    async def change_status(self, listing_id: int, new_status: ListingStatus, *, actor: str,
                            expected_version: int | None = None, reason: str = "",
                            initiator: object | None = None,
                            seen: Listing | None = None) -> Listing:
        new_status = ListingStatus(new_status)
        current = seen if seen is not None and seen.id == listing_id else \
            await self.get(listing_id)
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(listing_id, expected_version, current.version)
        check_transition(current.status, new_status)
        changes = {"status": new_status.value, "reason": reason}
        await self.replica.add_operation(
            listing_id=listing_id, kind=OperationKind.STATUS, base_version=current.version,
            base=snapshot(current), changes=changes, actor=actor)
        values: dict[str, object] = {"status": new_status}
        if new_status is ListingStatus.REJECTED:
            values["rejection_reason"] = reason
        return self._published(current, values, initiator)

    async def change_status_many(self, listing_ids: Sequence[int], new_status: ListingStatus,
                                 *, actor: str, reason: str = "",
                                 initiator: object | None = None) -> BulkResult:
        done: list[Listing] = []
        failed: dict[int, str] = {}
        for listing_id in dict.fromkeys(listing_ids):
            try:
                done.append(await self.change_status(listing_id, new_status, actor=actor,
                                                     reason=reason, initiator=initiator))
            except UhadminError as error:
                failed[listing_id] = str(error)
        return BulkResult(succeeded=tuple(done), failed=failed)

    async def create(self, *_args: object, **_kwargs: object) -> Listing:
        raise UhadminError("adding a listing needs the shared catalog: it is offline now; "
                           "reviews and edits of existing listings work offline")

    async def delete_draft(self, *_args: object, **_kwargs: object) -> None:
        raise UhadminError("deleting a draft needs the shared catalog: it is offline now")

    def _published(self, listing: Listing, values: dict, initiator: object | None) -> Listing:
        if "image_urls" in values:
            values = {**values, "image_urls": tuple(values["image_urls"])}
        listing = replace(listing, **values)
        # The offline queue grows by this operation: views read its length again.
        self._bus.publish(ListingsChanged(ids=frozenset({listing.id}),
                                          fields=frozenset(values) | {"version"},
                                          listings=(listing,), initiator=initiator))
        return listing
