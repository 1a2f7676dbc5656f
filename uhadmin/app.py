"""The GUI composition root: settings and services built once, handed to the main window."""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from uhadmin.config import (
    KeyStore,
    PreferencesStore,
    Settings,
    catalog_file_problem,
    default_database_url,
    load_settings,
)
from uhadmin.errors import ConfigError, UhadminError
from uhadmin.views.gc_timer import MainThreadGarbageCollector
from uhadmin.views.main_window import MainWindow
from uhadmin.views.messages import UnexpectedErrorHook, show_message
from uhadmin.views.starting import CatalogUnavailableError, StartingBus, StartingListings

if TYPE_CHECKING:
    from uhadmin.bootstrap import Services

# The stand-ins are imported from here by app_offline and the tests.
__all__ = ["CatalogUnavailableError", "GuiParts", "StartingBus", "StartingListings",
           "build_gui", "open_gui", "run_gui"]

log = logging.getLogger("uhadmin.app")

# Stripe's dashboard, for links from a listing to its product and price.
DASHBOARD = {"test": "https://dashboard.stripe.com/test", "live": "https://dashboard.stripe.com"}


@dataclass
class GuiParts:
    """The main window and what it runs on, so the app, the screenshot command and the
    bench share one wiring. `services` is None when they failed to start."""

    settings: Settings
    services: Services | None
    keys: KeyStore
    preferences: PreferencesStore
    window: MainWindow
    hook: UnexpectedErrorHook
    collector: MainThreadGarbageCollector
    # open_gui builds the Stripe side in a worker thread after the first page, then adds
    # the Sync, Reconcile and Checkout lab tabs; this task does it (None: done already).
    stripe_ready: asyncio.Task | None = None
    offline: Any = None  # app_offline.OfflineGui: the catalog's copy and the banner

    async def wait_stripe(self) -> None:
        """Wait until the Stripe tabs are in the window (tests, the bench, screenshots)."""
        if self.stripe_ready is not None:
            await asyncio.shield(self.stripe_ready)

    def close(self) -> None:
        if self.stripe_ready is not None and not self.stripe_ready.done():
            self.stripe_ready.cancel()
        self.window.close()  # saves the layout and cancels every task of the window
        self.window.shutdown()
        self.hook.uninstall()
        self.collector.stop()
        if self.offline is not None:
            self.offline.close()
        if self.services is not None:
            self.services.close()

    async def aclose(self) -> None:
        """close(), from the running loop: also stops background sync and the checkout
        receiver and closes Stripe connections before the database."""
        services, self.services = self.services, None
        offline, self.offline = self.offline, None
        if offline is not None:
            await offline.aclose()
        # Closing the last window would quit the application and stop the loop this runs
        # on before the services are closed; the caller decides when the app ends.
        app = QApplication.instance()
        quits = isinstance(app, QApplication) and app.quitOnLastWindowClosed()
        if quits:
            QApplication.setQuitOnLastWindowClosed(False)
        try:
            self.close()
        finally:
            if quits:
                QApplication.setQuitOnLastWindowClosed(True)
        if services is not None:
            await services.aclose()


# The GUI thread shares the GIL with the database and sandbox threads. Each time Qt calls
# into Python (a timer, a socket, a cell to paint) the GUI thread must get the GIL back, and
# behind a busy worker that takes up to the switch interval: at Python's 5 ms, a burst of
# such calls stalled the window; at 1 ms the longest stall beside a spinning worker halved
# (#11, bench/gui_bench.py).
GUI_SWITCH_INTERVAL_S = 0.001


def ensure_application() -> QApplication:
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("uhadmin")
    app.setOrganizationName("uhadmin")
    app.setApplicationDisplayName("uhadmin")
    return app


def _make_window(settings: Settings, keys: KeyStore, preferences: PreferencesStore,
                 qsettings: QSettings | None, listings: Any, bus: Any
                 ) -> tuple[MainWindow, UnexpectedErrorHook, MainThreadGarbageCollector]:
    app = ensure_application()
    window = MainWindow(settings=settings, listings=listings, bus=bus, keys=keys,
                        preferences=preferences,
                        qsettings=qsettings if qsettings is not None else QSettings(),
                        dashboard_base=DASHBOARD.get(settings.mode))
    hook = UnexpectedErrorHook(lambda: window)
    hook.install()
    progress = window.progress  # long work on show: full collections wait for its end
    return window, hook, MainThreadGarbageCollector(app, busy=lambda: not progress.isHidden())


def build_gui(*, settings: Settings, keys: KeyStore, preferences: PreferencesStore,
              qsettings: QSettings | None = None, services: Services | None = None,
              auto_sync: bool = False) -> GuiParts:
    """Wire already-built (or built here, synchronously) services into a main window; the
    caller shows it and runs the loop. The app itself uses `open_gui`, which paints first.
    `auto_sync` starts background sync (needs the event loop set; stop it with aclose)."""
    from uhadmin.bootstrap import build_services

    services = services if services is not None else build_services(settings)
    try:
        window, hook, collector = _make_window(settings, keys, preferences, qsettings,
                                               services.listings, services.bus)
        attach_services(window, services, keys, auto_sync=auto_sync)
    except BaseException:
        services.close()
        raise
    return GuiParts(settings=settings, services=services, keys=keys, preferences=preferences,
                    window=window, hook=hook, collector=collector)


def attach_services(window: MainWindow, services: Services, keys: KeyStore, *,
                    auto_sync: bool = True) -> None:
    """Add the tabs that need Stripe (Sync, Reconcile, Checkout lab), enable the Sync
    action, let the sync service drive the connection state, hand the checkout lab the
    system browser, and give Settings its "Test connection"."""
    # Imported here: they join after the first page, so their ~40 ms of imports do not
    # delay the window's first paint.
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QDesktopServices

    from uhadmin.views.checkout_tab import CheckoutTab
    from uhadmin.views.reconcile_tab import ReconcileTab
    from uhadmin.views.stripe_log_tab import StripeLogTab
    from uhadmin.views.sync_tab import SyncTab, apply_sync_status

    sync_tab = SyncTab(services.sync, services.listings, services.bus)
    reconcile_tab = ReconcileTab(services.reconcile)
    checkout_tab = CheckoutTab(services.checkout, services.listings, services.bus,
                               actor=services.settings.actor)
    window.add_tab(sync_tab, "S&ync", key="sync")
    window.add_tab(reconcile_tab, "Re&concile", key="reconcile")
    window.add_tab(checkout_tab, "&Checkout lab", key="checkout", menu_title="C&heckout")
    log_tab = StripeLogTab(services.stripe_log)
    window.add_tab(log_tab, "Stripe &log", key="stripe_log")
    connect_stripe_log_links(window, log_tab, checkout_tab)
    # The Sync menu holds what syncs and compares, whichever tab is in front.
    window.sync_menu.addActions(sync_tab.menu_entries())
    window.sync_menu.addSeparator()
    window.sync_menu.addAction(reconcile_tab.check_action)
    window.enable_sync(sync_tab.start_sync, "Push every queued change to Stripe "
                                            "(Ctrl+Shift+S); progress shows below")
    window.listings_tab.selection_changed.connect(sync_tab.set_selection)
    window.listings_tab.detail.set_repair(services.reconcile.repair)
    sync_tab.connection_changed.connect(
        lambda status: apply_sync_status(window.connection, status))
    apply_sync_status(window.connection, services.sync.status)
    services.checkout.set_opener(lambda url: QDesktopServices.openUrl(QUrl(url)))

    from uhadmin.bootstrap import check_stripe_connection

    async def tester(key: str | None, api_base: str | None) -> str:
        return await check_stripe_connection(key, api_base, keys=keys, services=services)

    window.connection_tester = tester
    if auto_sync:
        services.auto_sync.start()


def connect_stripe_log_links(window: MainWindow, log_tab: Any, checkout_tab: Any) -> None:
    """A listing's or checkout attempt's history row opens the Stripe log at its calls."""

    def open_calls(**which: Any) -> None:
        log_tab.show_calls(**which)
        window.tab_widget.setCurrentWidget(log_tab)

    window.listings_tab.detail.stripe_calls_requested.connect(
        lambda listing_id, revision: open_calls(listing_id=listing_id, revision=revision))
    checkout_tab.stripe_calls_requested.connect(
        lambda attempt_id: open_calls(attempt_id=attempt_id))


def _build_services(settings: Settings) -> Services:
    # Imported here, in the worker thread: the service layer's imports (SQLAlchemy, the
    # Stripe SDK, alembic) are most of the start-up time.
    from uhadmin.bootstrap import build_services

    return build_services(settings)


async def open_gui(*, settings: Settings, keys: KeyStore, preferences: PreferencesStore,
                   qsettings: QSettings | None = None, auto_sync: bool = True) -> GuiParts:
    """Show the main window at once, then start the services in a worker thread and hand
    them to it (with background sync unless `auto_sync` is False); its first queries wait
    for them. Returns when the services are up (or failed, which the window then says).
    Close with `await parts.aclose()`."""
    listings, bus = StartingListings(), StartingBus()
    window, hook, collector = _make_window(settings, keys, preferences, qsettings, listings,
                                           bus)
    window.show()
    window.start()
    window.statusBar().showMessage("Opening the catalog…")
    parts = GuiParts(settings=settings, services=None, keys=keys, preferences=preferences,
                     window=window, hook=hook, collector=collector)
    while True:
        try:
            services = await asyncio.to_thread(_build_services, settings)
            break
        except Exception as exc:  # any failure to start is shown, never a silent exit
            log.exception("the services did not start")
            window.statusBar().clearMessage()
            from uhadmin.app_offline import start_without_catalog

            def catalog_back(services: Services) -> None:  # after working from the copy
                parts.services = services
                parts.stripe_ready = asyncio.ensure_future(
                    _attach_stripe_side(window, services, keys, auto_sync))

            if await start_without_catalog(parts, listings, bus, exc, catalog_back):
                return parts
    if not window.isVisible():  # closed while the services started
        services.close()
        return parts
    parts.services = services
    from uhadmin.app_offline import wire_offline

    parts.offline = wire_offline(window, settings, services)
    listings.attach(parts.offline.failover)
    bus.attach(services.bus)
    window.statusBar().clearMessage()
    # The Stripe SDK's import and the sandbox's start take about a second: off the GUI
    # thread, after the first page has been asked for, so they never delay it.
    parts.stripe_ready = asyncio.ensure_future(
        _attach_stripe_side(window, services, keys, auto_sync))
    return parts


async def _attach_stripe_side(window: MainWindow, services: Services, keys: KeyStore,
                              auto_sync: bool) -> None:
    # After the first page and the review queue have loaded: the import holds the GIL for
    # most of its second and would slow those queries' threads.
    for tab in list(window.tabs_by_key.values()):
        await tab.tasks.wait_idle()
    try:
        await asyncio.to_thread(_start_stripe_side, services)
    except Exception as exc:  # shown, never a silent half-started app
        log.exception("the Stripe side did not start")
        show_message(window, "uhadmin cannot reach Stripe",
                     f"Sync and the checkout lab are unavailable: {exc}\n\nCheck the Stripe "
                     "key and API base in Settings (Ctrl+,) and start uhadmin again.",
                     icon=QMessageBox.Icon.Warning)
        return
    if window.isVisible():
        attach_services(window, services, keys, auto_sync=auto_sync)


def _start_stripe_side(services: Services) -> None:
    from uhadmin.services.stripe_gateway.warm import import_first_request_modules

    services.start_stripe()
    import_first_request_modules()  # here, not on the GUI thread during the first sync


async def _run_app(settings: Settings, keys: KeyStore, preferences: PreferencesStore) -> int:
    app = ensure_application()
    # Closing the window ends this coroutine, which ends the loop; Qt quitting by itself
    # would stop the loop under a still-running coroutine ("Event loop stopped before
    # Future completed"), e.g. when the window is closed while the first page loads.
    app.setQuitOnLastWindowClosed(False)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    app.lastWindowClosed.connect(closed.set)
    parts = await open_gui(settings=settings, keys=keys, preferences=preferences)
    try:
        for tab in list(parts.window.tabs_by_key.values()):
            await tab.tasks.wait_idle()
        # The Stripe side's modules (the SDK) are start-up objects too: freeze after them.
        await parts.wait_stripe()
        parts.collector.freeze_startup_objects()
        await closed.wait()
    finally:
        await parts.aclose()
    return 0


def run_gui(database_url: str | None = None, *, create_database: bool = False) -> int:
    """Start the desktop app; returns the process exit code. A SQLite catalog is created
    only in the data folder or with `create_database` (a mistyped path is refused)."""
    from uhadmin.views.event_loop import run_app

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step
    ensure_application()
    keys = KeyStore()
    preferences = PreferencesStore()
    try:
        settings = load_settings({"database_url": database_url}, keys=keys,
                                 preferences=preferences)
        may_create = (create_database
                      or settings.database_url == default_database_url(settings.data_dir))
        problem = catalog_file_problem(settings.database_url, may_create=may_create)
        if problem:
            raise ConfigError(problem)
    except UhadminError as exc:
        # Before the event loop runs, so a blocking message box is fine here.
        QMessageBox.critical(None, "uhadmin cannot start", str(exc))
        return 2
    return run_app(_run_app(settings, keys, preferences))


def main(argv: list[str] | None = None) -> None:
    """`uhadmin-gui` and `python -m uhadmin.app`: the desktop app alone. `uhadmin` with no
    command starts it too, after loading every CLI command (and with them the services),
    so this way the window shows about a second sooner."""
    import argparse

    parser = argparse.ArgumentParser(prog="uhadmin-gui", description=main.__doc__)
    parser.add_argument("--database-url", help="Overrides UHADMIN_DATABASE_URL for this run.")
    parser.add_argument("--create", action="store_true",
                        help="Create the SQLite catalog if the --database-url file does not "
                             "exist.")
    args = parser.parse_args(argv)
    sys.exit(run_gui(database_url=args.database_url, create_database=args.create))


if __name__ == "__main__":
    main()
