"""The main window's actions, menus and toolbar, and the menu entries a tab plugs into them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from uhadmin.views.theme import Theme
from uhadmin.views.workspace import WorkspaceTab

if TYPE_CHECKING:
    from uhadmin.views.main_window import MainWindow


def build_actions(window: MainWindow) -> None:
    """The window-wide actions with their keys and tips, and the theme choices."""
    def action(text: str, tip: str, shortcut: Any = None,
               slot: Callable[[], Any] | None = None) -> QAction:
        act = QAction(text, window)
        act.setToolTip(tip)
        act.setStatusTip(tip)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if slot is not None:
            act.triggered.connect(lambda _checked=False: slot())
        window.addAction(act)
        return act

    window.new_action = action("&New listing…", "Create a listing (Ctrl+N)",
                               QKeySequence.StandardKey.New, window.new_listing)
    window.edit_action = action("&Edit listing…", "Edit the selected listing (Ctrl+E)",
                                "Ctrl+E", window.edit_selected)
    window.find_action = action("&Find…", "Search listings (Ctrl+F)",
                                QKeySequence.StandardKey.Find, window.focus_search)
    window.refresh_action = action("&Refresh", "Reload from the database (F5)",
                                   QKeySequence.StandardKey.Refresh, window.refresh)
    window.sync_action = action("&Sync with Stripe", "", "Ctrl+Shift+S")
    window.sync_action.setEnabled(False)
    window.sync_action.setToolTip("Sync is not available yet in this version: edits wait "
                                  "in the queue shown in the status bar")
    window.settings_action = action("&Settings…", "Database, Stripe key, URLs (Ctrl+,)",
                                    "Ctrl+,", window.open_settings)
    window.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
    # Spelled out: the standard Quit key is empty on Windows, where Ctrl+Q is expected.
    window.quit_action = action("&Quit", "Quit uhadmin (Ctrl+Q)", "Ctrl+Q", window.close)
    window.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
    window.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
    window.shortcuts_action = action("&Keyboard shortcuts", "List every keyboard shortcut "
                                     "(F1, Ctrl+/)", QKeySequence.StandardKey.HelpContents,
                                     window.show_shortcuts)
    window.shortcuts_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.HelpContents),
                                          QKeySequence("Ctrl+/")])
    window.about_action = action("&About uhadmin", "Version and documentation", None,
                                 window.show_about)
    window.about_action.setMenuRole(QAction.MenuRole.AboutRole)
    window.escape_action = action("Cancel running work or clear the search",
                                  "Stop the work shown in the status bar; with none, "
                                  "clear the tab's search (Esc)", "Esc", window.escape)
    window.icon_names += [
        (window.new_action, "new"), (window.edit_action, "edit"),
        (window.find_action, "find"), (window.refresh_action, "refresh"),
        (window.sync_action, "sync"), (window.settings_action, "settings"),
        (window.quit_action, "quit"), (window.shortcuts_action, "shortcuts"),
        (window.about_action, "about")]

    window.theme_group = QActionGroup(window)
    window.theme_actions = {}
    for theme, text in ((Theme.SYSTEM, "Follow &system"), (Theme.LIGHT, "&Light"),
                        (Theme.DARK, "&Dark")):
        act = QAction(text, window, checkable=True)
        act.triggered.connect(lambda _checked=False, t=theme: window.set_theme(t))
        window.theme_group.addAction(act)
        window.theme_actions[theme] = act


def build_menus(window: MainWindow) -> None:
    """The menu bar and the main toolbar over the actions of `build_actions`."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(window.new_action)
    file_menu.addSeparator()
    file_menu.addAction(window.settings_action)
    file_menu.addSeparator()
    file_menu.addAction(window.quit_action)
    window.edit_menu = bar.addMenu("&Edit")
    window.edit_menu.addAction(window.edit_action)
    window.edit_menu.addAction(window.find_action)
    window.view_menu = bar.addMenu("&View")
    window.view_menu.addAction(window.refresh_action)
    window.view_menu.addSeparator()
    theme_menu = window.view_menu.addMenu("&Theme")
    for act in window.theme_actions.values():
        theme_menu.addAction(act)
    window.go_menu = window.view_menu.addMenu("&Go to tab")
    window.view_menu.addSeparator()
    window.sync_menu = bar.addMenu("&Sync")
    window.sync_menu.addAction(window.sync_action)
    window.help_menu = bar.addMenu("&Help")
    window.help_menu.addAction(window.shortcuts_action)
    window.help_menu.addAction(window.about_action)

    window.toolbar = QToolBar("Main toolbar")
    window.toolbar.setObjectName("mainToolbar")
    window.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    window.toolbar.setMovable(False)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, window.toolbar)
    for act in (window.new_action, window.edit_action, window.refresh_action):
        window.toolbar.addAction(act)
    window.toolbar.addSeparator()
    window.toolbar.addAction(window.sync_action)
    window.toolbar_tail = window.toolbar.addSeparator()
    window.toolbar.addAction(window.settings_action)


def plug_tab_actions(window: MainWindow, tab: WorkspaceTab, index: int, title: str,
                     menu_title: str) -> None:
    """A tab's `menu_actions()` as a menu before Help, its `toolbar_actions()` on the toolbar
    and Ctrl+<n> (the first nine tabs) to switch to it."""
    actions = tab.menu_actions()
    if actions:
        menu = QMenu(menu_title, window)
        for action in actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(menu_proxy(action, menu))
        window.menuBar().insertMenu(window.help_menu.menuAction(), menu)
        window.tab_menus[tab] = menu
    toolbar_actions = tab.toolbar_actions()
    if toolbar_actions:
        # A tab's own toolbar buttons show only while that tab is in front.
        shown = [window.toolbar.insertSeparator(window.toolbar_tail)]
        for action in toolbar_actions:
            proxy = menu_proxy(action, window.toolbar)
            window.toolbar.insertAction(window.toolbar_tail, proxy)
            shown.append(proxy)
        window.tab_toolbar_actions[tab] = shown
        window.show_tab_toolbar()
    if index < 9:
        switch = QAction(f"Go to {title.replace('&', '')}", window)
        switch.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
        switch.triggered.connect(lambda _checked=False, t=tab: window.go_to_tab(t))
        window.go_menu.addAction(switch)


def menu_proxy(action: QAction, parent: Any) -> QAction:
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
