"""The staff desk driven as staff drive it: keys and clicks on the real window over a real
catalog. Acted-on rows follow the filter, confirmations name counts, keyboard-first."""

from __future__ import annotations

import asyncio
import dataclasses
from importlib import metadata

import pytest
from catalog_seed import seed
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from uhadmin.app import build_gui
from uhadmin.domain import ListingStatus
from uhadmin.views.about_dialog import AboutDialog
from uhadmin.views.listing_dialog import ListingDialog
from uhadmin.views.listings_tab import PAGE_SIZE
from uhadmin.views.reason_dialog import ReasonDialog
from uhadmin.views.shortcuts_dialog import ShortcutsDialog
from uhadmin.views.theme import Theme

# Each test builds the whole main window on real services (build_gui): seconds each.
pytestmark = pytest.mark.slow

CTRL = Qt.KeyboardModifier.ControlModifier


async def until(condition, within_s: float = 5.0) -> None:
    """Let the loop run (timers, queued slots) until `condition()` holds (Qt state has no
    event to await)."""
    for _ in range(int(within_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {within_s} s")


def visible_boxes(widget) -> list[QMessageBox]:
    return [w for w in widget.findChildren(QMessageBox) if w.isVisible()]


def statuses(tab) -> set[ListingStatus]:
    return {tab.model.listing_at(r).status for r in range(tab.model.rowCount())}


# --- 1. acted-on rows follow the filter; counts stay true -------------------------------

def test_approved_rows_leave_the_pending_filter_at_once_and_counts_follow(
        qtbot, make_window, sqlite_database, run, settle_window):
    seed(sqlite_database, PAGE_SIZE + 50, "pending_review")
    seed(sqlite_database, 5, "draft", "Draft")
    window = make_window()
    tab = window.listings_tab
    tab.status_filter.setCurrentIndex(tab.status_filter.findData(ListingStatus.PENDING_REVIEW))
    settle_window(window)
    assert tab.model.total == PAGE_SIZE + 50 and tab.model.loaded == PAGE_SIZE

    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_A, CTRL)  # Select all: the loaded rows
    assert len(tab.selected_listings()) == PAGE_SIZE
    tab.approve_action.trigger()  # all pending, one status: no question to answer
    assert not visible_boxes(tab)
    settle_window(window)

    # The approved rows are gone from the view; the rest moved up and were loaded.
    assert statuses(tab) == {ListingStatus.PENDING_REVIEW}
    assert tab.model.total == 50 and tab.model.loaded == 50
    assert tab.shown_label.text() == "50 match · 50 loaded"
    assert "Pending review 50" in tab.counts_label.text()
    assert f"Approved {PAGE_SIZE}" in tab.counts_label.text()
    assert window.statusBar().currentMessage() == f"Approved {PAGE_SIZE} listings"
    run(until(lambda: window.tab_widget.tabText(1) == "Review queue (50)"))
    run(until(lambda: window.connection.queued == PAGE_SIZE))  # each approval waits

    # Select all again acts only on what is still listed: nothing fails.
    qtbot.keyClick(tab.table, Qt.Key.Key_A, CTRL)
    tab.approve_action.trigger()
    settle_window(window)
    assert window.statusBar().currentMessage() == "Approved 50 listings"
    assert not visible_boxes(tab)
    assert tab.model.rowCount() == 0 and tab.model.total == 0
    assert tab.empty_state.isVisible() and tab.empty_state.heading.text() == "Nothing matches"
    run(until(lambda: window.tab_widget.tabText(1) == "Review queue"))


def test_rows_changed_elsewhere_leave_the_filter_too(
        qtbot, make_window, make_listing, run, settle_window, listings):
    leaving = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    staying = make_listing("Surfboard", 24000, ListingStatus.PENDING_REVIEW)
    draft = make_listing("Hoodie", 2500)
    window = make_window()
    tab = window.listings_tab
    tab.status_filter.setCurrentIndex(tab.status_filter.findData(ListingStatus.PENDING_REVIEW))
    settle_window(window)
    run(listings.change_status(leaving.id, ListingStatus.APPROVED, actor="other reviewer"))
    run(until(lambda: tab.model.row_of(leaving.id) is None))
    settle_window(window)
    assert tab.model.row_of(staying.id) is not None and tab.model.total == 1
    assert tab.shown_label.text() == "1 match · 1 loaded"
    # A single focused row needs no question: Submit moves the draft out of "Draft".
    tab.status_filter.setCurrentIndex(tab.status_filter.findData(ListingStatus.DRAFT))
    settle_window(window)
    tab.select_ids([draft.id])
    tab.submit_action.trigger()
    assert not visible_boxes(tab)
    settle_window(window)
    assert tab.model.rowCount() == 0
    assert "Draft 0" in tab.counts_label.text()


# --- 3. confirmations that name the count ----------------------------------------------

def test_archiving_several_asks_with_the_count_and_esc_changes_nothing(
        qtbot, make_window, make_listing, run, settle_window, listings):
    made = [make_listing(f"Lamp {n}", 800 + n, ListingStatus.APPROVED) for n in range(3)]
    window = make_window()
    tab = window.listings_tab
    tab.select_ids([x.id for x in made])
    tab.archive_action.trigger()
    box = tab.findChild(QMessageBox, "bulkConfirmation")
    assert box is not None and box.isVisible()
    assert box.text() == "Archive 3 listings?"
    assert box.defaultButton().text() == "Archive 3"
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    settle_window(window)
    assert {run(listings.get(x.id)).status for x in made} == {ListingStatus.APPROVED}

    tab.select_ids([x.id for x in made])
    tab.archive_action.trigger()
    box = next(b for b in visible_boxes(tab) if b.objectName() == "bulkConfirmation")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    settle_window(window)
    assert {run(listings.get(x.id)).status for x in made} == {ListingStatus.ARCHIVED}
    assert window.statusBar().currentMessage() == "Archived 3 listings"


def test_rejecting_a_mixed_selection_names_the_count_and_needs_a_reason(
        qtbot, make_window, make_listing, run, settle_window, listings):
    pending = [make_listing(f"Ticket {n}", 3000, ListingStatus.PENDING_REVIEW)
               for n in range(2)]
    draft = make_listing("Hoodie", 2500)
    window = make_window()
    tab = window.listings_tab
    tab.select_ids([*(x.id for x in pending), draft.id])
    tab.reject_action.trigger()
    dialog = tab.findChild(ReasonDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowTitle() == "Reject 2 listings"
    assert dialog.ok_button.text() == "Reject 2" and not dialog.ok_button.isEnabled()
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return, CTRL)  # no reason: nothing
    assert dialog.isVisible()
    qtbot.keyClicks(dialog.reason_edit, "Ticket resale is not allowed")
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return, CTRL)
    settle_window(window)
    assert not dialog.isVisible()
    for listing in pending:
        rejected = run(listings.get(listing.id))
        assert (rejected.status, rejected.rejection_reason) == (
            ListingStatus.REJECTED, "Ticket resale is not allowed")
    assert run(listings.get(draft.id)).status == ListingStatus.DRAFT


# --- 4 (point 9). rejected back to draft -------------------------------------------------

def test_a_rejected_listing_goes_back_to_draft_from_the_listings_menu(
        make_window, make_listing, run, settle_window, listings):
    rejected = make_listing("Standing fan", 1500, ListingStatus.REJECTED)
    window = make_window()
    tab = window.listings_tab
    tab.select_ids([rejected.id])
    assert tab.draft_action.isEnabled() and not tab.approve_action.isEnabled()
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Listings")
    next(a for a in menu.actions() if a.text() == "Back to dra&ft").trigger()
    settle_window(window)
    assert run(listings.get(rejected.id)).status == ListingStatus.DRAFT
    assert window.statusBar().currentMessage() == "Returned 1 listing to draft"


# --- 2. keyboard-first --------------------------------------------------------------------

def test_enter_saves_the_new_and_the_edit_dialog(qtbot, make_window, run, listings,
                                                 idle_window):
    window = make_window()

    async def scenario() -> None:
        qtbot.keyClick(window, Qt.Key.Key_N, CTRL)
        dialog = window.listings_tab.findChild(ListingDialog)
        assert dialog is not None and dialog.isVisible()
        qtbot.keyClicks(dialog.title_edit, "Desk lamp")
        qtbot.keyClicks(dialog.price_edit, "8.00")
        qtbot.keyClick(dialog.price_edit, Qt.Key.Key_Return)
        await until(lambda: not dialog.isVisible())
        await until(lambda: window.listings_tab.model.rowCount() == 1)
        created = window.listings_tab.model.listing_at(0)
        assert (created.title, created.price_minor) == ("Desk lamp", 800)

        window.listings_tab.select_ids([created.id])
        window.activateWindow()  # what a desktop does when a dialog closes
        await until(lambda: QApplication.activeWindow() is window)
        qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
        editor = next(d for d in window.listings_tab.findChildren(ListingDialog)
                      if d.isVisible())
        editor.seller_edit.setFocus()
        qtbot.keyClicks(editor.seller_edit, "kai@hawaii.edu")
        qtbot.keyClick(editor.seller_edit, Qt.Key.Key_Enter)  # the keypad's Enter too
        await until(lambda: not editor.isVisible())
        assert (await listings.get(created.id)).seller_contact == "kai@hawaii.edu"
        await idle_window(window)

    run(scenario())


def test_after_ctrl_2_or_a_click_on_the_tab_a_and_r_act_at_once(
        qtbot, make_window, make_listing, run, settle_window, listings):
    first = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    second = make_listing("Surfboard", 24000, ListingStatus.PENDING_REVIEW)
    window = make_window()
    window.listings_tab.table.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_2, CTRL)
    assert window.current_tab() is window.review_tab
    assert QApplication.focusWidget() is window.review_tab.table
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_A)
    settle_window(window)
    assert run(listings.get(first.id)).status == ListingStatus.APPROVED

    # Away and back by mouse: R opens the reason at once; Ctrl+Enter confirms it.
    bar = window.tab_widget.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(0).center())
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_R)
    dialog = window.review_tab.findChild(ReasonDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.reason_edit, "Board has a crack")
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return, CTRL)
    settle_window(window)
    assert run(listings.get(second.id)).status == ListingStatus.REJECTED
    assert window.review_tab.empty_state.isVisible()


def test_esc_clears_the_search_and_f5_says_what_it_reloaded(
        qtbot, make_window, make_listing, run, settle_window):
    make_listing("Beach cruiser bike", 12000)
    make_listing("Calculus textbook", 4500)
    window = make_window()
    tab = window.listings_tab
    qtbot.keyClick(window, Qt.Key.Key_F, CTRL)
    assert QApplication.focusWidget() is tab.search_edit
    qtbot.keyClicks(tab.search_edit, "bike")
    qtbot.keyClick(tab.search_edit, Qt.Key.Key_Return)
    settle_window(window)
    assert tab.model.total == 1
    qtbot.keyClick(tab.search_edit, Qt.Key.Key_Escape)
    settle_window(window)
    assert tab.search_edit.text() == "" and tab.model.total == 2

    qtbot.keyClick(window, Qt.Key.Key_F5)
    settle_window(window)
    assert window.statusBar().currentMessage() == "Reloaded: 2 listings"
    tab.status_filter.setCurrentIndex(tab.status_filter.findData(ListingStatus.DRAFT))
    qtbot.keyClick(window, Qt.Key.Key_F5)
    settle_window(window)
    assert window.statusBar().currentMessage() == "Reloaded: 2 listings"
    qtbot.keyClick(window, Qt.Key.Key_2, CTRL)
    qtbot.keyClick(window, Qt.Key.Key_F5)
    settle_window(window)
    assert window.statusBar().currentMessage() == "Reloaded: 0 listing(s) waiting for review"


def test_the_shortcuts_page_lists_the_live_actions(qtbot, make_window):
    window = make_window()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    page = window.findChild(ShortcutsDialog)
    assert page is not None and page.isVisible()
    rows = {(e.where, e.what): e.keys for e in page.entries}
    assert rows[("Everywhere", "New listing")] == "Ctrl+N"
    assert rows[("Everywhere", "Keyboard shortcuts")] == "F1, Ctrl+/"
    assert rows[("Everywhere", "Cancel running work or clear the search")] == "Esc"
    assert rows[("Review queue", "Approve")] == "A"
    assert rows[("Review queue", "Reject")] == "R"
    assert rows[("Listings", "Delete draft")] == "Del"
    assert rows[("In dialogs", "Confirm a multi-line dialog (the rejection reason)")] == \
        "Ctrl+Return"
    assert page.table.rowCount() == len(page.entries)
    # Generated, not typed: a new command shows up the next time the page opens.
    qtbot.keyClick(page, Qt.Key.Key_Escape)
    assert not page.isVisible()
    extra = window.addAction("Frobnicate")
    extra.setShortcut("Ctrl+Shift+F")
    qtbot.keyClick(window, Qt.Key.Key_Slash, CTRL)
    newest = next(d for d in window.findChildren(ShortcutsDialog) if d.isVisible())
    assert ("Everywhere", "Frobnicate") in {(e.where, e.what) for e in newest.entries}


def test_esc_cancels_a_running_sync_as_the_cancel_button_promises(
        qtbot, qt_loop, run, app_settings, key_store, preferences, qsettings, tmp_path,
        make_listing, idle_window):
    for n in range(12):
        make_listing(f"Lamp {n}", 1000 + n, ListingStatus.APPROVED)
    settings = dataclasses.replace(app_settings, data_dir=tmp_path / "data")
    parts = build_gui(settings=settings, keys=key_store, preferences=preferences,
                      qsettings=qsettings)
    window = parts.window
    sync_tab = window.tabs_by_key["sync"]
    assert "(Esc)" in window.progress.cancel_button.toolTip()

    async def scenario():
        window.show()
        window.start()
        await idle_window(window)
        parts.services.sync.batch_size = 2
        parts.services.sandbox.set_faults(latency_ms=30)
        pressed = []

        def press_esc(*_args) -> None:
            if not pressed:
                pressed.append(True)
                qtbot.keyClick(window, Qt.Key.Key_Escape)

        sync_tab.progress_advanced.connect(press_esc)
        qtbot.keyClick(window, Qt.Key.Key_S, CTRL | Qt.KeyboardModifier.ShiftModifier)
        await until(lambda: sync_tab.last_report is not None, within_s=20)
        await idle_window(window)
        return sync_tab.last_report

    try:
        report = run(scenario())
        assert report.cancelled and 0 < report.created < 12 and report.queued > 0
    finally:
        run(parts.aclose())


# --- 5. a finished look ----------------------------------------------------------------

def test_first_run_guidance_in_the_empty_catalog_and_queue(qtbot, make_window):
    window = make_window()
    guidance = window.listings_tab.empty_state
    assert guidance.isVisible() and guidance.heading.text() == "No listings yet"
    assert "New listing" in guidance.text.text() and "Settings" in guidance.text.text()
    buttons = {b.text().replace("&", ""): b for b in guidance.buttons}
    assert set(buttons) == {"New listing", "Settings"}
    qtbot.mouseClick(buttons["New listing"], Qt.MouseButton.LeftButton)
    dialog = window.listings_tab.findChild(ListingDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    window.go_to_tab(window.review_tab)
    assert window.review_tab.empty_state.isVisible()
    assert window.review_tab.empty_state.heading.text() == "Nothing to review"


def test_about_names_the_installed_version_and_opens_the_manual(qtbot, make_window):
    window = make_window()
    help_menu = window.help_menu
    next(a for a in help_menu.actions() if a.text() == "&About uhadmin").trigger()
    about = window.findChild(AboutDialog)
    assert about is not None and about.isVisible()
    assert about.version == metadata.version("uhadmin")
    assert f"uhadmin {about.version}" in about.text.text()
    assert "Documentation" in about.text.text()
    manual = about.open_documentation()
    assert manual is not None and manual.isVisible()
    assert "Quick start" in manual.browser.toPlainText()
    qtbot.keyClick(about, Qt.Key.Key_Escape)
    assert not manual.isVisible()


def test_icons_follow_the_light_and_the_dark_palette(make_window):
    window = make_window()
    assert not window.windowIcon().isNull()
    shown = [a for a in window.toolbar.actions() if a.isVisible() and not a.isSeparator()]
    assert shown and all(not a.icon().isNull() for a in shown)

    def darkest_pixel(action) -> int:
        image = action.icon().pixmap(24, 24).toImage()
        return min(image.pixelColor(x, y).lightness() for x in range(24) for y in range(24)
                   if image.pixelColor(x, y).alpha() > 200)

    window.set_theme(Theme.LIGHT)
    on_light = darkest_pixel(window.refresh_action)
    window.set_theme(Theme.DARK)
    on_dark = darkest_pixel(window.refresh_action)
    assert on_light < 80 < 150 < on_dark  # dark ink on light, light ink on dark
