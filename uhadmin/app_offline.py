"""The GUI's offline wiring: the catalog's copy, listings that fail over to it, the banner,
and the choice offered when the catalog is out of reach at start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtWidgets import QMainWindow

from uhadmin.config import Settings
from uhadmin.views.image_loader import ImageLoader
from uhadmin.views.offline_controller import OfflineController
from uhadmin.views.offline_start import CatalogUnreachableDialog

if TYPE_CHECKING:
    from uhadmin.bootstrap import Services
    from uhadmin.services.offline.failover import FailoverListings
    from uhadmin.services.offline.service import OfflineService

log = logging.getLogger("uhadmin.app")

# The first background refresh waits this long, so it never competes with the first page.
FIRST_REFRESH_DELAY_S = 5.0

T = TypeVar("T")


def _settle(future: asyncio.Future[T], value: T) -> None:
    """Give `future` its result, unless an earlier signal already did."""
    if not future.done():
        future.set_result(value)


@dataclass
class OfflineGui:
    """The copy, the listings the views call, and the controller behind the banner."""

    service: OfflineService
    failover: FailoverListings
    controller: OfflineController
    bus: Any
    first_refresh: asyncio.TimerHandle | None = None

    def close(self) -> None:
        if self.first_refresh is not None:
            self.first_refresh.cancel()
        self.controller.shutdown()
        self.service.close()

    async def aclose(self) -> None:
        if self.first_refresh is not None:
            self.first_refresh.cancel()
        self.controller.shutdown()
        await self.service.stop_background()
        self.service.close()


def wire_offline(window: QMainWindow, settings: Settings, services: Services | None, *,
                 on_services: Callable[[Services], None] | None = None,
                 build: Callable[[Settings], Services] | None = None) -> OfflineGui:
    """Wire offline review into `window`. With `services` the app works on the catalog and
    keeps the copy fresh in the background; without, it starts from the copy and retries;
    when the catalog answers, `on_services` receives the services built then."""
    from uhadmin.services.change_bus import ChangeBus
    from uhadmin.services.offline.failover import FailoverListings
    from uhadmin.services.offline.service import OfflineService, open_replica

    bus = services.bus if services is not None else ChangeBus()
    service = OfflineService(open_replica(settings.data_dir, settings.database_url), bus,
                             catalog=services.db if services is not None else None,
                             listings=services.listings if services is not None else None)
    failover = FailoverListings(services.listings if services is not None else None,
                                service.offline_listings)

    async def reconnect() -> bool:
        if service.listings is None:  # started without the catalog: build the services now
            try:
                built = await asyncio.to_thread(build or _build, settings)
            except Exception as error:  # still out of reach: keep working from the copy
                log.info("catalog still out of reach: %s", error)
                return False
            built.bus.subscribe(bus.publish)  # the views listen on the copy's bus
            service.connect(built.db, built.listings)
            if on_services is not None:
                on_services(built)
        elif not await service.catalog_answers():
            return False
        failover.reconnect(service.listings)
        service.start_background()
        return True

    controller = OfflineController(window, service, reconnect, actor=settings.actor)
    for loader in window.findChildren(ImageLoader):  # images cached for offline review
        loader.offline_folder = service.thumbnails.folder
    failover.on_switch = controller.set_offline
    parts = OfflineGui(service=service, failover=failover, controller=controller, bus=bus)
    if services is not None:
        parts.first_refresh = asyncio.get_running_loop().call_later(
            FIRST_REFRESH_DELAY_S, service.start_background)
    else:
        controller.set_offline(True)
    return parts


def _build(settings: Settings) -> Services:
    from uhadmin.bootstrap import build_services

    return build_services(settings)


async def choose_without_catalog(window: Any, settings: Settings, error: Exception) -> str:
    """Ask what to do while the catalog is out of reach: "offline", "retry" or "settings"
    (the window never ends as an empty shell); "closed" if the window was closed."""
    from uhadmin.services.change_bus import ChangeBus
    from uhadmin.services.offline.service import OfflineService, open_replica

    copy = OfflineService(open_replica(settings.data_dir, settings.database_url), ChangeBus())
    try:
        status = await copy.status()
    finally:
        copy.close()
    dialog = CatalogUnreachableDialog(str(error), status, parent=window)
    chosen: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    dialog.chosen.connect(lambda choice: _settle(chosen, choice))
    window.offline_choice = dialog  # tests and screenshots find it here
    dialog.open()
    try:
        while not chosen.done():
            if not window.isVisible():
                return "closed"
            await asyncio.wait({chosen}, timeout=0.2)
        return chosen.result()
    finally:
        window.offline_choice = None  # never a handle on a deleted dialog
        dialog.hide()
        dialog.deleteLater()


async def start_without_catalog(parts: Any, listings: Any, bus: Any, error: Exception,
                                catalog_back: Callable[[Services], None]) -> bool:
    """Offer the offline copy, a retry or the settings at start; False means "try the
    catalog again now". With the copy, `catalog_back` gets the services once it answers."""
    window = parts.window
    choice = await choose_without_catalog(window, parts.settings, error)
    if choice == "closed":
        from uhadmin.app import CatalogUnavailableError

        listings.fail(CatalogUnavailableError(f"uhadmin could not open the catalog: {error}"))
        return True
    if choice == "retry":
        return False
    if choice == "settings":
        dialog = window.open_settings()
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        dialog.finished.connect(lambda _result: _settle(closed, None))
        await closed
        return False  # then the same three choices again
    parts.offline = wire_offline(window, parts.settings, None, on_services=catalog_back)
    listings.attach(parts.offline.failover)
    bus.attach(parts.offline.bus)
    return True
