"""The main window: tabs, menus, toolbar, mode badge, connection state and long-work progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QMainWindow,
    QMenu,
    QTabWidget,
    QToolBar,
    QWidget,
)

from uhadmin.config import Settings
from uhadmin.errors import UhadminError
from uhadmin.views.about_dialog import AboutDialog
from uhadmin.views.change_bridge import ChangeBridge
from uhadmin.views.icons import app_icon, apply_icons
from uhadmin.views.listings_tab import ListingsTab
from uhadmin.views.messages import friendly_text
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

    def __init__(self, *, settings: Settings, listings: Any, bus: Any, keys: Any,
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
        self._icon_names: list[tuple[QAction, str]] = []
        self._tab_menus: dict[WorkspaceTab, QMenu] = {}
        self._tab_toolbar_actions: dict[WorkspaceTab, list[QAction]] = {}
        self._dialogs: list[QWidget] = []
        self._started = False
        # Set by the composition root once Stripe can be reached (the settings dialog's
        # "Test connection"): see settings_dialog.ConnectionTester.
        self.connection_tester: Callable[[str | None, str | None], Any] | None = None
        self.setWindowTitle(f"uhadmin — UH Marketplace admin ({settings.mode.upper()})")
        self.setWindowIcon(app_icon())
        self.resize(1280, 800)
        self.setMinimumSize(720, 480)

        self.tab_widget = QTabWidget()
        self.tab_widget.setObjectName("mainTabs")
        self.tab_widget.setDocumentMode(True)
        self.tab_widget.currentChanged.connect(lambda _index: self._tab_changed())
        self.setCentralWidget(self.tab_widget)

        # --- status bar: message, progress, connection, mode (right-most, always) ---
        self.progress = ProgressPanel()
        self.connection = ConnectionIndicator()
        self.mode_badge = ModeBadge(settings.mode)
        status = self.statusBar()
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.connection)
        status.addPermanentWidget(self.mode_badge)

        self._build_actions()
        self._build_menus()

        # --- the phase-1 tabs, sharing one undo history (Edit menu, Ctrl+Z) ---
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
        self._icon_names += [
            (lt.approve_action, "approve"), (lt.reject_action, "reject"),
            (lt.archive_action, "archive"), (lt.relist_action, "relist"),
            (lt.draft_action, "draft"), (lt.submit_action, "submit"),
            (lt.delete_action, "delete"), (lt.new_action, "new"),
            (rt.approve_action, "approve"), (rt.reject_action, "reject")]

        self.bridge = ChangeBridge(bus, self)
        self.bridge.changed.connect(self._on_change)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_soon = QTimer(self)
        self._status_soon.setSingleShot(True)
        self._status_soon.setInterval(300)
        self._status_soon.timeout.connect(self.refresh_status)
        self._restore_state()
        # "Follow system" follows it live, e.g. when the desktop switches to dark at dusk.
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_colours_changed)
        self._follows_system_colours = True

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
        actions = tab.menu_actions()
        if actions:
            menu = QMenu(menu_title or title, self)
            for action in actions:
                if action is None:
                    menu.addSeparator()
                else:
                    menu.addAction(_menu_proxy(action, menu))
            self.menuBar().insertMenu(self.help_menu.menuAction(), menu)
            self._tab_menus[tab] = menu
        toolbar_actions = tab.toolbar_actions()
        if toolbar_actions:
            # A tab's own toolbar buttons show only while that tab is in front.
            shown = [self.toolbar.insertSeparator(self._toolbar_tail)]
            for action in toolbar_actions:
                proxy = _menu_proxy(action, self.toolbar)
                self.toolbar.insertAction(self._toolbar_tail, proxy)
                shown.append(proxy)
            self._tab_toolbar_actions[tab] = shown
            self._show_tab_toolbar()
        if index < 9:
            switch = QAction(f"Go to {title.replace('&', '')}", self)
            switch.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            switch.triggered.connect(lambda _checked=False, t=tab: self.go_to_tab(t))
            self.go_menu.addAction(switch)
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
        self._show_tab_toolbar()
        tab = self.current_tab()
        if tab is not None:
            tab.focus_first()

    def _show_tab_count(self, tab: WorkspaceTab, count: int) -> None:
        index = self.tab_widget.indexOf(tab)
        title = self.tab_titles[tab]
        self.tab_widget.setTabText(index, f"{title} ({count:,})" if count > 0 else title)

    def _show_tab_toolbar(self) -> None:
        current = self.current_tab()
        for tab, actions in self._tab_toolbar_actions.items():
            for action in actions:
                action.setVisible(tab is current)

    def current_tab(self) -> WorkspaceTab | None:
        widget = self.tab_widget.currentWidget()
        return widget if isinstance(widget, WorkspaceTab) else None

    # --- building --------------------------------------------------------------------------

    def _build_actions(self) -> None:
        def action(text: str, tip: str, shortcut: Any = None,
                   slot: Callable[[], Any] | None = None) -> QAction:
            act = QAction(text, self)
            act.setToolTip(tip)
            act.setStatusTip(tip)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            if slot is not None:
                act.triggered.connect(lambda _checked=False: slot())
            self.addAction(act)
            return act

        self.new_action = action("&New listing…", "Create a listing (Ctrl+N)",
                                 QKeySequence.StandardKey.New, self.new_listing)
        self.edit_action = action("&Edit listing…", "Edit the selected listing (Ctrl+E)",
                                  "Ctrl+E", self.edit_selected)
        self.find_action = action("&Find…", "Search listings (Ctrl+F)",
                                  QKeySequence.StandardKey.Find, self.focus_search)
        self.refresh_action = action("&Refresh", "Reload from the database (F5)",
                                     QKeySequence.StandardKey.Refresh, self.refresh)
        self.sync_action = action("&Sync with Stripe", "", "Ctrl+Shift+S")
        self.sync_action.setEnabled(False)
        self.sync_action.setToolTip("Sync is not available yet in this version: edits wait "
                                    "in the queue shown in the status bar")
        self.settings_action = action("&Settings…", "Database, Stripe key, URLs (Ctrl+,)",
                                      "Ctrl+,", self.open_settings)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        # Spelled out: the standard Quit key is empty on Windows, where Ctrl+Q is expected.
        self.quit_action = action("&Quit", "Quit uhadmin (Ctrl+Q)", "Ctrl+Q", self.close)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.shortcuts_action = action("&Keyboard shortcuts", "List every keyboard shortcut "
                                       "(F1, Ctrl+/)", QKeySequence.StandardKey.HelpContents,
                                       self.show_shortcuts)
        self.shortcuts_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.HelpContents),
                                            QKeySequence("Ctrl+/")])
        self.about_action = action("&About uhadmin", "Version and documentation", None,
                                   self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.escape_action = action("Cancel running work or clear the search",
                                    "Stop the work shown in the status bar; with none, "
                                    "clear the tab's search (Esc)", "Esc", self.escape)
        self._icon_names += [
            (self.new_action, "new"), (self.edit_action, "edit"),
            (self.find_action, "find"), (self.refresh_action, "refresh"),
            (self.sync_action, "sync"), (self.settings_action, "settings"),
            (self.quit_action, "quit"), (self.shortcuts_action, "shortcuts"),
            (self.about_action, "about")]

        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[Theme, QAction] = {}
        for theme, text in ((Theme.SYSTEM, "Follow &system"), (Theme.LIGHT, "&Light"),
                            (Theme.DARK, "&Dark")):
            act = QAction(text, self, checkable=True)
            act.triggered.connect(lambda _checked=False, t=theme: self.set_theme(t))
            self.theme_group.addAction(act)
            self.theme_actions[theme] = act

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.edit_menu = bar.addMenu("&Edit")
        self.edit_menu.addAction(self.edit_action)
        self.edit_menu.addAction(self.find_action)
        self.view_menu = bar.addMenu("&View")
        self.view_menu.addAction(self.refresh_action)
        self.view_menu.addSeparator()
        theme_menu = self.view_menu.addMenu("&Theme")
        for act in self.theme_actions.values():
            theme_menu.addAction(act)
        self.go_menu = self.view_menu.addMenu("&Go to tab")
        self.view_menu.addSeparator()
        self.sync_menu = bar.addMenu("&Sync")
        self.sync_menu.addAction(self.sync_action)
        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addAction(self.shortcuts_action)
        self.help_menu.addAction(self.about_action)

        self.toolbar = QToolBar("Main toolbar")
        self.toolbar.setObjectName("mainToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        for act in (self.new_action, self.edit_action, self.refresh_action):
            self.toolbar.addAction(act)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.sync_action)
        self._toolbar_tail = self.toolbar.addSeparator()
        self.toolbar.addAction(self.settings_action)

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

    def _on_change(self, change: Any) -> None:
        if change.kind in ("listing", "sync") and not self._status_soon.isActive():
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
        apply_icons(self._icon_names)  # drawn in the new palette's text colour
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

    def _track(self, dialog: QWidget) -> None:
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


def _menu_proxy(action: QAction, parent: Any) -> QAction:
    """The action itself, or, if its shortcut works only inside its tab, a twin without the
    shortcut (a menu would make the tab-local shortcut window-wide) that shows the key."""
    if action.shortcut().isEmpty() or \
            action.shortcutContext() == Qt.ShortcutContext.WindowShortcut:
        return action
    twin = QAction(action.text(), parent)
    twin.setToolTip(action.toolTip())
    twin.setStatusTip(action.statusTip())
    twin.setEnabled(action.isEnabled())
    twin.setText(f"{action.text()}\t{action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)}")
    twin.setIcon(action.icon())
    twin.setIconText(action.iconText())  # a toolbar shows this, not the "\tA" key hint
    twin.triggered.connect(lambda _checked=False: action.trigger())

    def follow() -> None:
        twin.setEnabled(action.isEnabled())
        twin.setIcon(action.icon())  # a theme change redraws the icons

    action.changed.connect(follow)
    return twin
