"""The GUI composition root: settings and services built once, handed to the main window."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from uhadmin.bootstrap import Services, build_services
from uhadmin.config import KeyStore, PreferencesStore, Settings, load_settings
from uhadmin.errors import UhadminError
from uhadmin.views.main_window import MainWindow
from uhadmin.views.messages import UnexpectedErrorHook

log = logging.getLogger("uhadmin.app")

# Stripe's dashboard, for links from a listing to its product and price.
DASHBOARD = {"test": "https://dashboard.stripe.com/test", "live": "https://dashboard.stripe.com"}


class MainThreadGarbageCollector(QObject):
    """Runs Python's cycle collector on the GUI thread only.

    Left alone, the collector runs on whichever thread allocates at the wrong moment, such
    as a database worker, and Qt objects freed there warn "Timers cannot be stopped from
    another thread" or crash. Anki does the same: automatic collection off, a timer on.
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start()

    def collect_if_due(self) -> int | None:
        """Collect the oldest generation that is due, as the automatic collector would
        (a full collection every tick would cost a few hundred ms with SQLAlchemy and babel
        loaded); returns the generation collected, if any."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return generation
        return None

    @staticmethod
    def freeze_startup_objects() -> None:
        """Move everything alive after start-up (modules, classes, caches) out of the
        collector's sight, so later full collections only walk what the session made."""
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()


@dataclass
class GuiParts:
    """What `build_gui` made, so the app, the screenshot command and the bench share it."""

    settings: Settings
    services: Services
    keys: KeyStore
    preferences: PreferencesStore
    window: MainWindow
    hook: UnexpectedErrorHook
    collector: MainThreadGarbageCollector

    def close(self) -> None:
        self.window.close()  # saves the layout and cancels every task of the window
        self.window.shutdown()
        self.hook.uninstall()
        self.collector.stop()
        self.services.close()


def ensure_application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("uhadmin")
    app.setOrganizationName("uhadmin")
    app.setApplicationDisplayName("uhadmin")
    return app


def build_gui(*, settings: Settings, keys: KeyStore, preferences: PreferencesStore,
              qsettings: QSettings | None = None, services: Services | None = None) -> GuiParts:
    """Wire services and the main window; the caller shows it and runs the loop."""
    app = ensure_application()
    services = services if services is not None else build_services(settings)
    try:
        qsettings = qsettings if qsettings is not None else QSettings()
        window = MainWindow(settings=settings, listings=services.listings, bus=services.bus,
                            keys=keys, preferences=preferences, qsettings=qsettings,
                            dashboard_base=DASHBOARD.get(settings.mode))
    except BaseException:
        services.close()
        raise
    hook = UnexpectedErrorHook(lambda: window)
    hook.install()
    return GuiParts(settings=settings, services=services, keys=keys, preferences=preferences,
                    window=window, hook=hook, collector=MainThreadGarbageCollector(app))


async def _run_window(parts: GuiParts) -> int:
    app = QApplication.instance()
    # Closing the window ends this coroutine, which ends the loop; Qt quitting by itself
    # would stop the loop under a still-running coroutine ("Event loop stopped before
    # Future completed"), e.g. when the window is closed while the first page loads.
    app.setQuitOnLastWindowClosed(False)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    app.lastWindowClosed.connect(closed.set)
    parts.window.show()
    parts.window.start()
    for tab in parts.window.tabs_by_key.values():
        await tab.tasks.wait_idle()
    parts.collector.freeze_startup_objects()
    await closed.wait()
    return 0


def run_gui(database_url: str | None = None) -> int:
    """Start the desktop app; returns the process exit code."""
    import qasync

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step
    app = ensure_application()
    keys = KeyStore()
    preferences = PreferencesStore()
    try:
        settings = load_settings({"database_url": database_url}, keys=keys,
                                 preferences=preferences)
        parts = build_gui(settings=settings, keys=keys, preferences=preferences)
    except UhadminError as exc:
        # Before the event loop runs, so a blocking message box is fine here.
        QMessageBox.critical(None, "uhadmin cannot start", str(exc))
        return 2
    del app
    try:
        return qasync.run(_run_window(parts))
    finally:
        parts.close()
