"""The service calls the views make, as Protocols: views are type-checked, import no service."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from uhadmin.domain import (
    AuditEntry,
    BulkResult,
    CancelToken,
    Listing,
    ListingChanges,
    ListingQuery,
    ListingStatus,
    NewListing,
    Page,
    SyncProgress,
    SyncReport,
    SyncStatus,
)
from uhadmin.domain.bulk import BulkOutcome, BulkProgress, ListingVersion
from uhadmin.domain.changes import Change
from uhadmin.domain.stripe_account import StripeAccount
from uhadmin.domain.sync import SyncActivity


class ChangeSource(Protocol):
    """The change bus (or the stand-in the app holds while the services start)."""

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]: ...


class ListingReader(Protocol):
    """What a view reads about listings."""

    async def get(self, listing_id: int) -> Listing: ...

    async def search(self, query: ListingQuery) -> Page[Listing]: ...

    async def count_by_status(self) -> dict[ListingStatus, int]: ...

    async def history(self, listing_id: int) -> list[AuditEntry]: ...

    async def queued_changes(self) -> int: ...


class ListingWriter(ListingReader, Protocol):
    """The listing service as the Listings and Review tabs and the listing dialog use it:
    every write names its actor and the view that asked (`initiator`), so that view can
    skip the echo of its own change on the bus."""

    async def create(self, new: NewListing, *, actor: str,
                     initiator: object | None = None) -> Listing: ...

    async def update(self, listing_id: int, changes: ListingChanges, *,
                     expected_version: int, actor: str,
                     initiator: object | None = None) -> Listing: ...

    async def change_status(self, listing_id: int, new_status: ListingStatus, *, actor: str,
                            expected_version: int | None = None, reason: str = "",
                            initiator: object | None = None) -> Listing: ...

    async def change_status_many(self, listing_ids: Sequence[int], new_status: ListingStatus,
                                 *, actor: str, reason: str = "",
                                 initiator: object | None = None) -> BulkResult: ...

    async def delete_draft(self, listing_id: int, *, actor: str,
                           initiator: object | None = None) -> None: ...

    async def change_status_matching(
        self, query: ListingQuery, new_status: ListingStatus, *, actor: str, reason: str = "",
        initiator: object | None = None,
        on_progress: Callable[[BulkProgress], Any] | None = None,
        cancel: CancelToken | None = None) -> BulkOutcome: ...

    async def revert(
        self, changes: Sequence[ListingVersion], *, actor: str, initiator: object | None = None,
        on_progress: Callable[[BulkProgress], Any] | None = None,
        cancel: CancelToken | None = None) -> BulkOutcome: ...


class SyncActivityPort(Protocol):
    """Every sync run's start, progress and report (background or manual), and its Cancel."""

    def subscribe(self, callback: Callable[[SyncActivity], None]) -> Callable[[], None]: ...

    def cancel_running(self) -> bool: ...


class SyncPort(Protocol):
    """The sync service as the Sync tab runs it and sees its state and queue."""

    actor: str

    @property
    def status(self) -> SyncStatus: ...

    @property
    def activity(self) -> SyncActivityPort: ...

    async def run(self, *, progress: Callable[[SyncProgress], None] | None = None,
                  cancel: CancelToken | None = None,
                  listing_ids: Collection[int] | None = None,
                  initiator: str = "manual") -> SyncReport: ...

    async def use_current_account(self, actor: str) -> StripeAccount | None: ...

    async def queued(self) -> int: ...

    def subscribe_status(self, callback: Callable[[SyncStatus], None]
                         ) -> Callable[[], None]: ...
