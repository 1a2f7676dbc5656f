"""The main window: shortcuts, mode badge, connection state, persistence, themes, plug-in tabs,
error display and cancelling on close."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from uhadmin.config import SecretKey
from uhadmin.domain import ListingStatus
from uhadmin.errors import StripeUnavailableError
from uhadmin.views.listing_table import ListingColumn
from uhadmin.views.messages import UnexpectedErrorHook
from uhadmin.views.settings_dialog import SettingsDialog
from uhadmin.views.theme import Theme
from uhadmin.views.workspace import WorkspaceTab

# Seconds each (real windows, browsers, subprocesses): outside the `-m "not slow"` loop.
pytestmark = pytest.mark.slow


def test_title_shortcuts_and_sync_placeholder(make_window):
    window = make_window()
    assert "uhadmin" in window.windowTitle() and "SANDBOX" in window.windowTitle()
    assert window.new_action.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert window.edit_action.shortcut() == QKeySequence("Ctrl+E")
    assert window.find_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Find)
    assert window.refresh_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Refresh)
    assert window.settings_action.shortcut() == QKeySequence("Ctrl+,")
    assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    assert window.sync_action.shortcut() == QKeySequence("Ctrl+Shift+S")
    assert not window.sync_action.isEnabled()
    assert "not available yet" in window.sync_action.toolTip()
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&View", "&Sync", "&Listings", "Re&view", "&Help"]


@pytest.mark.parametrize(("key", "mode"), [(None, "sandbox"),
                                           ("sk_test_51AbCdEfGhIjKlMnOp", "test"),
                                           ("sk_live_51AbCdEfGhIjKlMnOp", "live")])
def test_mode_badge_is_always_visible(make_window, app_settings, key, mode):
    settings = dataclasses.replace(app_settings, stripe_key=SecretKey(key) if key else None,
                                   allow_live_mode=mode == "live")
    window = make_window(settings)
    assert window.mode_badge.isVisible()
    assert window.mode_badge.text() == mode.upper()
    assert window.mode_badge.property("mode") == mode
    if mode == "live":
        colour = window.mode_badge.grab().toImage().pixelColor(3, window.mode_badge.height() // 2)
        assert colour.red() > 180 and colour.green() < 80  # alarming red


def test_connection_state_counts_queued_changes(make_window, make_listing, run, settle_window):
    make_listing("Mini fridge", 7000, ListingStatus.APPROVED)
    window = make_window()
    assert window.connection.queued == 1
    assert "1 change queued" in window.connection.text()
    assert "not contacted" in window.connection.text()
    window.connection.set_online(False)
    assert window.connection.text().startswith("● Offline · 1 change queued")
    second = make_listing("Desk lamp", 800, ListingStatus.APPROVED)  # publishes changes
    run(asyncio.sleep(0.5))
    settle_window(window)
    assert window.connection.queued == 2 and second.status == ListingStatus.APPROVED


def test_find_and_new_by_keyboard(qtbot, make_window):
    window = make_window()
    window.activateWindow()
    window.find_action.trigger()
    assert window.listings_tab.search_edit.hasFocus() or \
        QApplication.focusWidget() is window.listings_tab.search_edit
    window.new_action.trigger()
    dialog = window.listings_tab._dialogs[-1]
    assert dialog.isVisible() and dialog.windowTitle() == "New listing"
    dialog.reject()


def test_settings_dialog_opens_without_blocking(make_window):
    window = make_window()
    window.settings_action.trigger()
    dialogs = window.findChildren(SettingsDialog)
    assert dialogs and dialogs[0].isVisible()
    dialogs[0].reject()


def test_layout_persists_across_windows(make_window, qsettings, run, settle_window):
    window = make_window()
    header = window.listings_tab.table.horizontalHeader()
    window.listings_tab.table.setColumnWidth(ListingColumn.TITLE.section, 333)
    header.setSortIndicator(ListingColumn.PRICE.section, Qt.SortOrder.AscendingOrder)
    settle_window(window)
    window.listings_tab.splitter.setSizes([700, 500])
    window.resize(777, 555)  # inside the offscreen screen (800x600), or Qt clamps it
    window.set_theme(Theme.DARK)
    window.close()
    again = make_window()
    assert again.listings_tab.table.columnWidth(ListingColumn.TITLE.section) == 333
    assert again.listings_tab.model.sort_key.value == "price"
    assert not again.listings_tab.model.descending
    assert (again.size().width(), again.size().height()) == (777, 555)
    assert again.theme is Theme.DARK
    again.set_theme(Theme.LIGHT)


def test_dark_and_light_palettes_are_readable(make_window):
    window = make_window()
    for theme in (Theme.DARK, Theme.LIGHT):
        window.set_theme(theme)
        palette = QApplication.instance().palette()
        text = palette.color(QPalette.ColorRole.Text)
        base = palette.color(QPalette.ColorRole.Base)
        assert abs(text.lightnessF() - base.lightnessF()) > 0.6, theme


def test_plugin_tab_gets_menu_status_and_progress(qtbot, make_window):
    window = make_window()

    class ExtraTab(WorkspaceTab):
        state_key = "extra"
        started = 0
        cancelled = 0

        def start(self):
            self.started += 1

        def cancel_progress(self):
            self.cancelled += 1

    extra = ExtraTab()
    item = QLabel("sync: idle")
    index = window.add_tab(extra, "S&ync", key="sync", menu_title="Sy&nc")
    window.add_status_widget(item)
    assert window.tab_widget.tabText(index) == "Sync" and extra.started == 1
    assert item.isVisible() and window.mode_badge.isVisible()
    extra.progress_started.emit("Pushing", 100)
    extra.progress_advanced.emit(40, 100, "Pushing")
    assert window.progress.isVisible() and "40/100" in window.progress.label.text()
    qtbot.mouseClick(window.progress.cancel_button, Qt.MouseButton.LeftButton)
    assert extra.cancelled == 1
    extra.progress_finished.emit()
    assert not window.progress.isVisible()
    extra.status_message.emit("Synced 12 listings")
    assert window.statusBar().currentMessage() == "Synced 12 listings"
    window.enable_sync(lambda: extra.status_message.emit("sync!"), "Push queued changes")
    window.sync_action.trigger()
    assert window.statusBar().currentMessage() == "sync!"


def test_expected_errors_go_to_the_status_bar(make_window, run):
    window = make_window()

    async def offline():
        raise StripeUnavailableError("Stripe could not be reached; 3 changes stay queued")

    run(window.listings_tab.tasks.run("sync", offline()))
    assert "could not be reached" in window.statusBar().currentMessage()


def test_unexpected_errors_show_details(make_window):
    window = make_window()
    hook = UnexpectedErrorHook(lambda: window)
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as exc:
        hook(type(exc), exc, exc.__traceback__)
    box = hook.last_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "ZeroDivisionError" in box.text() and "Traceback" in box.detailedText()
    box.close()


def test_closing_the_window_cancels_its_tasks(make_window, run):
    window = make_window()

    async def slow():
        await asyncio.sleep(3600)

    tasks = [window.tasks.spawn("slow", slow()), window.listings_tab.tasks.spawn("s", slow()),
             window.review_tab.tasks.spawn("s", slow())]
    window.close()
    run(asyncio.gather(*tasks, return_exceptions=True))
    assert all(task.cancelled() for task in tasks)
