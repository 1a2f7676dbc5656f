"""The main window: tabs, menus, toolbar, mode badge, connection state and long-work progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QMainWindow,
    QMenu,
    QTabWidget,
    QToolBar,
    QWidget,
)

from uhadmin.config import Settings
from uhadmin.domain.changes import Change, ListingsChanged, SyncChanged
from uhadmin.errors import UhadminError
from uhadmin.views.about_dialog import AboutDialog
from uhadmin.views.change_bridge import ChangeBridge
from uhadmin.views.icons import app_icon, apply_icons
from uhadmin.views.listings_tab import ListingsTab
from uhadmin.views.main_menus import build_actions, build_menus, plug_tab_actions
from uhadmin.views.messages import friendly_text
from uhadmin.views.ports import ChangeSource, ListingWriter
from uhadmin.views.review_tab import ReviewTab
from uhadmin.views.settings_dialog import SettingsDialog
from uhadmin.views.shortcuts_dialog import ShortcutsDialog, collect_shortcuts
from uhadmin.views.status_items import ConnectionIndicator, ModeBadge, ProgressPanel
from uhadmin.views.tasks import TaskRunner
from uhadmin.views.theme import Theme, apply_theme
from uhadmin.views.undo_history import UndoHistory
from uhadmin.views.workspace import WorkspaceTab

STATUS_REFRESH_MS = 30_000


class MainWindow(QMainWindow):
    """The application window. Tabs are WorkspaceTabs; more plug in with `add_tab`.

    Services are duck-typed objects handed in by the composition root (uhadmin.app):
    `listings` (ListingService), `bus` (ChangeBus), `keys` (KeyStore), `preferences`
    (PreferencesStore). `qsettings` holds window layout (tests pass a temporary one).
    """

    # Made by main_menus.build_actions and build_menus.
    new_action: QAction
    edit_action: QAction
    find_action: QAction
    refresh_action: QAction
    sync_action: QAction
    settings_action: QAction
    quit_action: QAction
    shortcuts_action: QAction
    about_action: QAction
    escape_action: QAction
    theme_group: QActionGroup
    theme_actions: dict[Theme, QAction]
    view_menu: QMenu
    edit_menu: QMenu
    go_menu: QMenu
    sync_menu: QMenu
    help_menu: QMenu
    toolbar: QToolBar
    toolbar_tail: QAction  # tabs' toolbar buttons go before it

    def __init__(self, *, settings: Settings, listings: ListingWriter, bus: ChangeSource,
                 keys: Any,
                 preferences: Any, qsettings: QSettings | None = None,
                 dashboard_base: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.settings = settings
        self._listings = listings
        self._bus = bus
        self._keys = keys
        self._preferences = preferences
        self.qsettings = qsettings if qsettings is not None else QSettings("uhadmin", "uhadmin")
        self.tasks = TaskRunner(self._show_error, self)
        self.tabs_by_key: dict[str, WorkspaceTab] = {}
        self.tab_titles: dict[QWidget, str] = {}
        self.icon_names: list[tuple[QAction, str]] = []
        self.tab_menus: dict[WorkspaceTab, QMenu] = {}
        self.tab_toolbar_actions: dict[WorkspaceTab, list[QAction]] = {}
        self._dialogs: list[QDialog] = []
        self._started = False
        # Set by the composition root once Stripe can be reached (the settings dialog's
        # "Test connection"): see settings_dialog.ConnectionTester.
        self.connection_tester: Callable[[str | None, str | None], Any] | None = None
        self.setWindowTitle(f"uhadmin — UH Marketplace admin ({settings.mode.upper()})")
        self.setWindowIcon(app_icon())
        self.resize(1280, 800)
        self.setMinimumSize(720, 480)

        self._build_tabs_and_status_bar(settings.mode)
        build_actions(self)
        build_menus(self)
        self._build_phase_one_tabs(listings, bus, settings, dashboard_base)
        self._connect_changes(bus)
        self._restore_state()
        # "Follow system" follows it live, e.g. when the desktop switches to dark at dusk.
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_colours_changed)
        self._follows_system_colours = True

    def _build_tabs_and_status_bar(self, mode: str) -> None:
        self.tab_widget = QTabWidget()
        self.tab_widget.setObjectName("mainTabs")
        self.tab_widget.setDocumentMode(True)
        self.tab_widget.currentChanged.connect(lambda _index: self._tab_changed())
        self.setCentralWidget(self.tab_widget)
        # Status bar: message, progress, connection, mode (right-most, always).
        self.progress = ProgressPanel()
        self.connection = ConnectionIndicator()
        self.mode_badge = ModeBadge(mode)
        status = self.statusBar()
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.connection)
        status.addPermanentWidget(self.mode_badge)

    def _build_phase_one_tabs(self, listings: ListingWriter, bus: ChangeSource,
                              settings: Settings, dashboard_base: str | None) -> None:
        # The phase-1 tabs share one undo history (Edit menu, Ctrl+Z).
        self.undo_history = UndoHistory(listings, actor=settings.actor, parent=self)
        self.edit_menu.insertActions(self.edit_menu.actions()[0], [
            self.undo_history.undo_action, self.undo_history.redo_action])
        self.edit_menu.insertSeparator(self.edit_menu.actions()[2])
        self.addActions([self.undo_history.undo_action, self.undo_history.redo_action])
        self.listings_tab = ListingsTab(listings, bus, actor=settings.actor,
                                        default_currency=settings.currency,
                                        dashboard_base=dashboard_base, undo=self.undo_history)
        self.review_tab = ReviewTab(listings, bus, actor=settings.actor,
                                    dashboard_base=dashboard_base, undo=self.undo_history)
        self.add_tab(self.listings_tab, "&Listings", key="listings", menu_title="&Listings")
        self.add_tab(self.review_tab, "&Review queue", key="review", menu_title="Re&view")
        # A first run with an empty catalog offers Settings too (a team's database).
        self.listings_tab.first_run_actions.append(self.settings_action)
        lt, rt = self.listings_tab, self.review_tab
        self.icon_names += [
            (lt.approve_action, "approve"), (lt.reject_action, "reject"),
            (lt.archive_action, "archive"), (lt.relist_action, "relist"),
            (lt.draft_action, "draft"), (lt.submit_action, "submit"),
            (lt.delete_action, "delete"), (lt.new_action, "new"),
            (rt.approve_action, "approve"), (rt.reject_action, "reject")]

    def _connect_changes(self, bus: Any) -> None:
        """Recount the queued changes after a burst of changes, and every 30 s."""
        self.bridge = ChangeBridge(bus, self)
        self.bridge.changed.connect(self._on_change)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_soon = QTimer(self)
        self._status_soon.setSingleShot(True)
        self._status_soon.setInterval(300)
        self._status_soon.timeout.connect(self.refresh_status)

    # --- the plug-in API for more tabs, docks and status items --------------------------

    def add_tab(self, tab: WorkspaceTab, title: str, *, key: str,
                menu_title: str | None = None) -> int:
        """Add a WorkspaceTab; its signals drive the status bar and progress panel, its
        `menu_actions()` get a menu (before Help) and Ctrl+<n> switches to it."""
        index = self.tab_widget.addTab(tab, title.replace("&", ""))
        self.tabs_by_key[key] = tab
        self.tab_titles[tab] = title.replace("&", "")
        tab.count_changed.connect(lambda count, t=tab: self._show_tab_count(t, count))
        tab.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        tab.progress_started.connect(lambda text, total, t=tab: self.progress.begin(t, text,
                                                                                    total))
        tab.progress_advanced.connect(self.progress.advance)
        tab.progress_finished.connect(self.progress.finish)
        plug_tab_actions(self, tab, index, title, menu_title or title)
        if self._started:
            tab.restore_state(self.qsettings)
            tab.start()
        return index

    def add_status_widget(self, widget: QWidget) -> None:
        """A permanent status-bar item, placed left of the connection state and mode badge."""
        status = self.statusBar()
        for permanent in (self.connection, self.mode_badge):
            status.removeWidget(permanent)
        status.addPermanentWidget(widget)
        for permanent in (self.connection, self.mode_badge):
            status.addPermanentWidget(permanent)
            permanent.show()

    def add_dock(self, dock: QDockWidget,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.BottomDockWidgetArea) -> None:
        """A dock (e.g. sync failures); it gets a View menu toggle and persists its place."""
        if not dock.objectName():
            raise ValueError("a dock needs an objectName so its place can be saved")
        self.addDockWidget(area, dock)
        self.view_menu.addAction(dock.toggleViewAction())

    def enable_sync(self, handler: Callable[[], None], tooltip: str) -> None:
        """Give the Sync action (Ctrl+Shift+S) its behaviour once a sync service exists."""
        self.sync_action.setEnabled(True)
        self.sync_action.setToolTip(tooltip)
        self.sync_action.setStatusTip(tooltip)
        self.sync_action.triggered.connect(lambda _checked=False: handler())

    def go_to_tab(self, tab: WorkspaceTab) -> None:
        """Bring `tab` to the front with the focus where its keys work (also if in front)."""
        if self.tab_widget.currentWidget() is tab:
            tab.focus_first()
        else:
            self.tab_widget.setCurrentWidget(tab)  # _tab_changed focuses it

    def _tab_changed(self) -> None:
        self.show_tab_toolbar()
        tab = self.current_tab()
        if tab is not None:
            tab.focus_first()

    def _show_tab_count(self, tab: WorkspaceTab, count: int) -> None:
        index = self.tab_widget.indexOf(tab)
        title = self.tab_titles[tab]
        self.tab_widget.setTabText(index, f"{title} ({count:,})" if count > 0 else title)

    def show_tab_toolbar(self) -> None:
        current = self.current_tab()
        for tab, actions in self.tab_toolbar_actions.items():
            for action in actions:
                action.setVisible(tab is current)

    def current_tab(self) -> WorkspaceTab | None:
        widget = self.tab_widget.currentWidget()
        return widget if isinstance(widget, WorkspaceTab) else None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load every tab and the status items (call once the window is shown)."""
        self._started = True
        for tab in self.tabs_by_key.values():
            tab.start()
        self.listings_tab.enable_sorting()
        self.refresh_status()
        self._status_timer.start()

    def refresh_status(self) -> None:
        self.tasks.spawn("status", self.update_status())

    async def update_status(self) -> None:
        self.connection.set_queued(await self._listings.queued_changes())

    def _on_change(self, change: Change) -> None:
        if isinstance(change, ListingsChanged) and change.queued is not None:
            self.connection.set_queued(change.queued)  # the writer counted it already
        elif (isinstance(change, SyncChanged)
              or isinstance(change, ListingsChanged) and change.queue_moved):
            if not self._status_soon.isActive():
                self._status_soon.start()  # one count for a burst of changes

    def _restore_state(self) -> None:
        geometry = self.qsettings.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(geometry)
        state = self.qsettings.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(state)
        for tab in self.tabs_by_key.values():
            tab.restore_state(self.qsettings)
        theme = str(self.qsettings.value("window/theme", Theme.SYSTEM.value))
        self.set_theme(Theme(theme) if theme in {t.value for t in Theme} else Theme.SYSTEM)

    def save_state(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        self.qsettings.setValue("window/theme", self.theme.value)
        for tab in self.tabs_by_key.values():
            tab.save_state(self.qsettings)
        self.qsettings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel every running task of the window and its tabs; stop listening to changes."""
        self._status_timer.stop()
        self._status_soon.stop()
        self.bridge.close()
        if self._follows_system_colours:
            self._follows_system_colours = False
            QGuiApplication.styleHints().colorSchemeChanged.disconnect(
                self._system_colours_changed)
        for dialog in list(self._dialogs):
            dialog.close()
        for tab in self.tabs_by_key.values():
            tab.shutdown()
        self.tasks.cancel_all()

    def _system_colours_changed(self, *_args: Any) -> None:
        if self.theme is Theme.SYSTEM:
            self.set_theme(Theme.SYSTEM)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.theme_actions[theme].setChecked(True)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        apply_icons(self.icon_names)  # drawn in the new palette's text colour
        self.qsettings.setValue("window/theme", theme.value)

    # --- commands ----------------------------------------------------------------------------

    def new_listing(self) -> None:
        self.tab_widget.setCurrentWidget(self.listings_tab)
        self.listings_tab.open_new_dialog()

    def edit_selected(self) -> None:
        tab = self.current_tab()
        if tab is None or not tab.edit_selected():
            if tab is not self.listings_tab:
                self.statusBar().showMessage("Nothing to edit here", 4000)

    def focus_search(self) -> None:
        tab = self.current_tab()
        if tab is None or not tab.focus_search():
            self.tab_widget.setCurrentWidget(self.listings_tab)
            self.listings_tab.focus_search()

    def refresh(self) -> None:
        tab = self.current_tab()
        if tab is not None:
            tab.refresh()
        self.refresh_status()

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self._keys, self._preferences,
                                connection_tester=self.connection_tester, parent=self)
        dialog.saved.connect(lambda: self.statusBar().showMessage(
            "Settings saved. Database and Stripe key changes apply at the next start.", 10000))
        self._track(dialog)
        dialog.open()
        return dialog

    def _track(self, dialog: QDialog) -> None:
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _r: self._dialogs.remove(dialog)
                                if dialog in self._dialogs else None)

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(collect_shortcuts(self, self.tab_titles), self)
        self._track(dialog)
        dialog.open()
        return dialog

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self)
        self._track(dialog)
        dialog.open()
        return dialog

    def escape(self) -> None:
        """Esc: cancel the running work the status bar shows (what its Cancel button
        promises), else clear the current tab's search."""
        if self.progress.isVisible() and self.progress.owner is not None:
            self.progress.cancel()
            return
        tab = self.current_tab()
        if tab is not None:
            tab.clear_search()

    def _show_error(self, error: UhadminError) -> None:
        self.statusBar().showMessage(friendly_text(error), 10000)

