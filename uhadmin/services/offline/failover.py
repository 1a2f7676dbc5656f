"""The GUI's listing service: the shared catalog while it answers, the offline copy when not."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from uhadmin.domain.bulk import BulkOutcome
from uhadmin.domain.listing import (
    AuditEntry,
    BulkResult,
    Listing,
    ListingChanges,
    ListingQuery,
    ListingStatus,
    Page,
)
from uhadmin.services.database import DatabaseUnavailableError
from uhadmin.services.offline.offline_listings import OfflineListings

log = logging.getLogger(__name__)

# Listings remembered as the reviewer last saw them online, so a save the dropped
# connection interrupted becomes an operation on exactly that version.
SEEN_LIMIT = 5000


class FailoverListings:
    """Calls the ListingService; when the catalog stops answering, switches to the copy.

    A save interrupted by the drop is recorded as an offline operation on the version the
    reviewer was editing: nothing typed is lost. `on_switch(offline)` tells the window.
    """

    def __init__(self, online: Any | None, offline: OfflineListings,
                 on_switch: Callable[[bool], None] | None = None) -> None:
        self.online = online
        self.offline = offline
        self.on_switch = on_switch or (lambda _offline: None)
        self._seen: dict[int, Listing] = {}

    @property
    def is_offline(self) -> bool:
        return self.online is None

    def reconnect(self, online: Any) -> None:
        """The catalog answers again: calls go to it from now on."""
        self.online = online
        self.on_switch(False)

    def _drop(self, error: DatabaseUnavailableError) -> None:
        log.warning("working offline from the copy: %s", error)
        self.online = None
        self.on_switch(True)

    def _remember(self, listings: Sequence[Listing]) -> None:
        for listing in listings:
            self._seen.pop(listing.id, None)
            self._seen[listing.id] = listing
        while len(self._seen) > SEEN_LIMIT:
            self._seen.pop(next(iter(self._seen)))

    async def _read(self, name: str, *args: Any) -> Any:
        if self.online is not None:
            try:
                return await getattr(self.online, name)(*args)
            except DatabaseUnavailableError as error:
                self._drop(error)
        return await getattr(self.offline, name)(*args)

    # --- reads ---------------------------------------------------------------------------
    async def get(self, listing_id: int) -> Listing:
        listing = await self._read("get", listing_id)
        self._remember([listing])
        return listing

    async def search(self, query: ListingQuery) -> Page[Listing]:
        page = await self._read("search", query)
        self._remember(page.items)
        return page

    async def count_by_status(self) -> dict[ListingStatus, int]:
        return await self._read("count_by_status")

    async def history(self, listing_id: int) -> list[AuditEntry]:
        return await self._read("history", listing_id)

    async def queued_changes(self) -> int:
        return await self._read("queued_changes")

    # --- writes --------------------------------------------------------------------------
    async def update(self, listing_id: int, changes: ListingChanges, *, expected_version: int,
                     actor: str, initiator: object | None = None) -> Listing:
        if self.online is not None:
            try:
                listing = await self.online.update(listing_id, changes,
                                                   expected_version=expected_version,
                                                   actor=actor, initiator=initiator)
                self._remember([listing])
                return listing
            except DatabaseUnavailableError as error:
                self._drop(error)
        return await self.offline.update(listing_id, changes, expected_version=expected_version,
                                         actor=actor, initiator=initiator,
                                         seen=self._seen.get(listing_id))

    async def change_status(self, listing_id: int, new_status: ListingStatus, *, actor: str,
                            expected_version: int | None = None, reason: str = "",
                            initiator: object | None = None) -> Listing:
        if self.online is not None:
            try:
                listing = await self.online.change_status(
                    listing_id, new_status, actor=actor, expected_version=expected_version,
                    reason=reason, initiator=initiator)
                self._remember([listing])
                return listing
            except DatabaseUnavailableError as error:
                self._drop(error)
        return await self.offline.change_status(
            listing_id, new_status, actor=actor, expected_version=expected_version,
            reason=reason, initiator=initiator, seen=self._seen.get(listing_id))

    async def change_status_many(self, listing_ids: Sequence[int], new_status: ListingStatus,
                                 *, actor: str, reason: str = "",
                                 initiator: object | None = None) -> BulkResult:
        if self.online is not None:
            try:
                return await self.online.change_status_many(
                    listing_ids, new_status, actor=actor, reason=reason, initiator=initiator)
            except DatabaseUnavailableError as error:
                # Batches already committed moved; the rest are refused online and
                # recorded offline, where a listing that already moved is a no-op merge.
                self._drop(error)
        return await self.offline.change_status_many(listing_ids, new_status, actor=actor,
                                                     reason=reason, initiator=initiator)

    async def change_status_matching(self, *args: Any, **kwargs: Any) -> BulkOutcome:
        return await self._online_only("change_status_matching", *args, **kwargs)

    async def revert(self, *args: Any, **kwargs: Any) -> BulkOutcome:
        return await self._online_only("revert", *args, **kwargs)

    async def _online_only(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Work over a whole filter, or read from the shared audit log, needs the catalog:
        the offline copy holds neither, so it says so (nothing changes)."""
        if self.online is None:
            raise DatabaseUnavailableError(
                "working offline: acting on every match and undo need the shared catalog; "
                "select the rows to change instead")
        return await self._write_online(name, *args, **kwargs)

    async def create(self, *args: Any, **kwargs: Any) -> Listing:
        return await self._write_online("create", *args, **kwargs)

    async def delete_draft(self, *args: Any, **kwargs: Any) -> None:
        return await self._write_online("delete_draft", *args, **kwargs)

    async def _write_online(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.online is not None:
            try:
                return await getattr(self.online, name)(*args, **kwargs)
            except DatabaseUnavailableError as error:
                self._drop(error)
                raise
        return await getattr(self.offline, name)(*args, **kwargs)
