"""Offline review as one object: the replica of a catalog, its refresh, push and conflicts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from uhadmin.domain.changes import ListingsChanged
from uhadmin.domain.offline import OfflineOperation, OfflineStatus, OperationState, PushReport
from uhadmin.errors import UhadminError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database, DatabaseUnavailableError
from uhadmin.services.offline.offline_listings import OfflineListings
from uhadmin.services.offline.push import ListingWriter, OfflinePush
from uhadmin.services.offline.refresh import RefreshReport, refresh
from uhadmin.services.offline.replica import Replica
from uhadmin.services.offline.schema import catalog_label, replica_path
from uhadmin.services.offline.thumbnails import ThumbnailCache

log = logging.getLogger(__name__)

# How often the background refresh copies what changed while the catalog is reachable.
REFRESH_INTERVAL_S = 60.0


def open_replica(data_dir: Path, database_url: str) -> Replica:
    """The replica of this catalog in the user data folder (created empty the first time)."""
    return Replica(replica_path(data_dir, database_url), catalog=catalog_label(database_url))


class OfflineService:
    """The replica of one catalog and what is done with it.

    `catalog` and `listings` (the shared database and its ListingService) are None while
    the catalog is out of reach; refresh and push need them, everything else works on the
    copy alone.
    """

    def __init__(self, replica: Replica, bus: ChangeBus, *, catalog: Database | None = None,
                 listings: ListingWriter | None = None) -> None:
        self.replica = replica
        self.bus = bus
        self.catalog = catalog
        self.listings = listings
        self.offline_listings = OfflineListings(replica, bus)
        self.thumbnails = ThumbnailCache(replica, replica.path.with_suffix(".images"))
        self._background: asyncio.Task | None = None
        self._lock = asyncio.Lock()  # one refresh or push at a time

    def connect(self, catalog: Database, listings: ListingWriter) -> None:
        """The catalog is reachable (again): refresh and push can run."""
        self.catalog, self.listings = catalog, listings

    async def status(self) -> OfflineStatus:
        counts = await self.replica.counts()
        listings = sum((await self.replica.count_by_status()).values())
        return OfflineStatus(catalog=self.replica.catalog,
                             refreshed_at=await self.replica.refreshed_at(),
                             pending=counts[OperationState.PENDING],
                             conflicts=counts[OperationState.CONFLICT], listings=listings)

    async def conflicts(self) -> list[OfflineOperation]:
        return await self.replica.operations((OperationState.CONFLICT,))

    async def refresh(self) -> RefreshReport:
        """Copy what changed in the catalog since the last refresh."""
        catalog, _ = self._require_catalog()
        async with self._lock:
            return await refresh(catalog, self.replica)

    async def push(self) -> PushReport:
        """Merge every pending operation into the catalog, then refresh the copy."""
        catalog, listings = self._require_catalog()
        async with self._lock:
            touched = {op.listing_id for op in await self.replica.operations()}
            report = await OfflinePush(self.replica, listings).push()
            await refresh(catalog, self.replica, only=touched)
        self.bus.publish(ListingsChanged())
        return report

    async def resolve(self, operation_id: int, *, take: Literal["mine", "theirs"],
                      values: Mapping[str, Any] | None = None,
                      actor: str) -> OfflineOperation:
        """Settle one conflict (the catalog must be reachable to write "mine")."""
        catalog, listings = self._require_catalog()
        async with self._lock:
            operation = await OfflinePush(self.replica, listings).resolve(
                operation_id, take=take, values=values, actor=actor)
            await refresh(catalog, self.replica, only={operation.listing_id})
        self.bus.publish(ListingsChanged(ids=frozenset({operation.listing_id})))
        return operation

    async def cache_images(self) -> int:
        """Fetch the images of the copied listings not cached yet, the review queue first."""
        return await self.thumbnails.fetch(await self.replica.image_urls())

    async def catalog_answers(self) -> bool:
        """Whether the shared catalog answers a trivial query right now."""
        if self.catalog is None:
            return False
        try:
            await self.catalog.run(lambda session: session.execute(select(1)))
        except DatabaseUnavailableError:
            return False
        return True

    def _require_catalog(self) -> tuple[Database, ListingWriter]:
        if self.catalog is None or self.listings is None:
            raise UhadminError(f"the shared catalog {self.replica.catalog} is out of reach: "
                               "this needs it (the offline copy keeps your changes)")
        return self.catalog, self.listings

    # --- background refresh --------------------------------------------------------------
    def start_background(self, interval_s: float = REFRESH_INTERVAL_S) -> None:
        """Refresh now and then every `interval_s` while the catalog answers; a refresh
        that fails (catalog gone) is logged and tried again at the next tick."""
        if self._background is None or self._background.done():
            self._background = asyncio.ensure_future(self._refresh_forever(interval_s))

    async def _refresh_forever(self, interval_s: float) -> None:
        while True:
            try:
                await self.refresh()
                await self.cache_images()
            except UhadminError as error:
                log.info("offline copy not refreshed: %s", error)
            await asyncio.sleep(interval_s)

    async def stop_background(self) -> None:
        task, self._background = self._background, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        self.replica.close()
