"""View-tier fixtures: the app's qasync loop over pytest-qt's QApplication, the services built
by the app's composition root on a temporary SQLite catalog, temporary QSettings, and
settings with an in-memory key store."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from keyring.backends import fail
from PySide6.QtCore import QSettings

from uhadmin.bootstrap import Services, build_services
from uhadmin.config import KeyStore, PreferencesStore, Settings, load_settings
from uhadmin.domain import Listing, ListingStatus, NewListing
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.views.event_loop import QtEventLoop

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]


@pytest.fixture(autouse=True)
def _garbage_collected_on_the_main_thread() -> Iterator[None]:
    """Python may run its cycle collector on any thread, e.g. a database worker; a Qt object
    destroyed there warns "Timers cannot be stopped from another thread". The app collects
    on the GUI thread only (uhadmin.app), and so do these tests."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@pytest.fixture
def qt_loop(qapp) -> Iterator[QtEventLoop]:
    """The app's event loop (qasync's, see uhadmin.views.event_loop) on the test's QApplication."""
    loop = QtEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def run(qt_loop: QtEventLoop) -> Runner:
    """Drive a coroutine to completion on the Qt-integrated loop (Qt events keep flowing)."""

    def runner(coroutine: Coroutine[Any, Any, T]) -> T:
        return qt_loop.run_until_complete(asyncio.wait_for(coroutine, timeout=20))

    return runner


@pytest.fixture
def services(app_settings: Settings, sqlite_database: Database) -> Iterator[Services]:
    """The app's own composition root on the test catalog (its Stripe side is built only
    if a test asks for it)."""
    built = build_services(app_settings, upgrade=False, db=sqlite_database)
    yield built
    built.close()


@pytest.fixture
def change_bus(services: Services) -> ChangeBus:
    return services.bus


@pytest.fixture
def listings(services: Services) -> ListingService:
    return services.listings


@pytest.fixture
def make_listing(listings: ListingService, run: Runner) -> Callable[..., Listing]:
    """Create a listing through the service and walk it to `status`."""
    paths = {
        ListingStatus.DRAFT: (),
        ListingStatus.PENDING_REVIEW: (ListingStatus.PENDING_REVIEW,),
        ListingStatus.APPROVED: (ListingStatus.PENDING_REVIEW, ListingStatus.APPROVED),
        ListingStatus.REJECTED: (ListingStatus.PENDING_REVIEW, ListingStatus.REJECTED),
        ListingStatus.ARCHIVED: (ListingStatus.PENDING_REVIEW, ListingStatus.APPROVED,
                                 ListingStatus.ARCHIVED),
    }

    def make(title: str = "Calculus textbook", price_minor: int = 4500,
             status: ListingStatus = ListingStatus.DRAFT, **fields: Any) -> Listing:
        async def create() -> Listing:
            listing = await listings.create(
                NewListing(title=title, price_minor=price_minor, currency="usd", **fields),
                actor="seller@hawaii.edu")
            for step in paths[status]:
                listing = await listings.change_status(
                    listing.id, step, actor="tester",
                    reason="not allowed" if step == ListingStatus.REJECTED else "")
            return listing

        return run(create())

    return make


@pytest.fixture
def key_store() -> KeyStore:
    """The in-memory fallback a headless box gets (never a file)."""
    return KeyStore(backend=fail.Keyring())


@pytest.fixture
def preferences(tmp_path: Path) -> PreferencesStore:
    return PreferencesStore(tmp_path / "config" / "preferences.json")


@pytest.fixture
def app_settings(sqlite_database: Database, key_store: KeyStore,
                 preferences: PreferencesStore) -> Settings:
    return load_settings({"database_url": sqlite_database.url, "actor": "reviewer@hawaii.edu"},
                         environ={}, keys=key_store, preferences=preferences)


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat)


async def window_idle(window: Any) -> None:
    """Wait until the window and each of its tabs has no task running."""
    for tab in window.tabs_by_key.values():
        await tab.tasks.wait_idle()
    await window.undo_history.tasks.wait_idle()
    await window.tasks.wait_idle()


@pytest.fixture
def make_window(qtbot, app_settings, listings, change_bus, key_store, preferences, qsettings,
                run):
    """A shown, started MainWindow on the test catalog; closed (tasks cancelled) at the end."""
    from uhadmin.views.main_window import MainWindow

    def make(settings: Settings | None = None) -> MainWindow:
        window = MainWindow(settings=settings or app_settings, listings=listings,
                            bus=change_bus, keys=key_store, preferences=preferences,
                            qsettings=qsettings)
        qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
        window.show()
        window.start()
        run(window_idle(window))
        return window

    return make


@pytest.fixture
def idle_window() -> Callable[[Any], Coroutine[Any, Any, None]]:
    """`await idle_window(window)` inside a test's own running coroutine."""
    return window_idle


@pytest.fixture
def settle_window(run: Runner) -> Callable[[Any], None]:
    """Run the loop until the window and its tabs are idle."""
    return lambda window: run(window_idle(window))
