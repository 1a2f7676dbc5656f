"""Acting on everything a filter matches, and undoing it, driven as staff drive the window:
Ctrl+A, the "Select all N matching" bar, the toolbar, the confirmation, Cancel, Ctrl+Z and
Ctrl+Shift+Z, the Edit menu."""

from __future__ import annotations

import asyncio

from catalog_seed import seed
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from uhadmin.domain import ListingChanges, ListingStatus
from uhadmin.services.listing_bulk import BULK_BATCH_SIZE
from uhadmin.views.listing_dialog import ListingDialog
from uhadmin.views.listings_tab import PAGE_SIZE
from uhadmin.views.reason_dialog import ReasonDialog

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


async def until(condition, within_s: float = 10.0) -> None:
    for _ in range(int(within_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {within_s} s")


def confirmation(tab) -> QMessageBox:
    boxes = [b for b in tab.findChildren(QMessageBox, "bulkConfirmation") if b.isVisible()]
    assert len(boxes) == 1, boxes
    return boxes[0]


def activate(qtbot, window) -> None:
    """The window is active again once a box it opened has closed, as on a desktop (the
    offscreen platform leaves no window active, and window shortcuts need one)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)


def counts(listings, run) -> dict[ListingStatus, int]:
    return {status: n for status, n in run(listings.count_by_status()).items() if n}


def edit_menu_texts(window) -> list[str]:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    menu.aboutToShow.emit()
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def test_select_all_matching_approves_every_match_not_just_the_loaded_rows(
        qtbot, make_window, sqlite_database, listings, run, settle_window):
    seed(sqlite_database, PAGE_SIZE * 2 + 50, "pending_review")
    seed(sqlite_database, 5, "draft", "Draft")
    window = make_window()
    tab = window.listings_tab
    tab.status_filter.setCurrentIndex(tab.status_filter.findData(ListingStatus.PENDING_REVIEW))
    settle_window(window)
    assert (tab.model.total, tab.model.loaded) == (450, PAGE_SIZE)
    assert not tab.matching_bar.isVisible()

    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_A, CTRL)  # the loaded rows: the bar offers more
    assert tab.matching_bar.isVisible()
    assert tab.matching_bar.label.text() == "All 200 listings loaded are selected."
    assert tab.matching_bar.button.text() == "Select all 450 matching (Ctrl+Shift+A)"
    qtbot.mouseClick(tab.matching_bar.button, Qt.MouseButton.LeftButton)
    assert tab.matching_selected
    assert "All 450 listings matching" in tab.matching_bar.label.text()

    tab.approve_action.trigger()  # as the toolbar button does
    box = confirmation(tab)
    assert box.text().startswith("Approve all 450 listings matching this search")
    assert box.defaultButton().text() == "Approve 450"
    qtbot.keyClick(box, Qt.Key.Key_Return)
    settle_window(window)

    assert window.statusBar().currentMessage() == "Approved 450 listings"
    assert counts(listings, run) == {ListingStatus.APPROVED: 450, ListingStatus.DRAFT: 5}
    assert tab.model.total == 0 and not tab.matching_selected
    assert not tab.matching_bar.isVisible()
    assert edit_menu_texts(window)[0] == "&Undo Approve 450 listings"


def test_skipped_listings_are_counted_by_reason(qtbot, make_window, sqlite_database,
                                                listings, run, settle_window):
    seed(sqlite_database, 3, "pending_review", "Lamp")
    seed(sqlite_database, 2, "approved", "Lamp")
    seed(sqlite_database, 4, "draft", "Kettle")
    window = make_window()
    tab = window.listings_tab
    qtbot.keyClicks(tab.search_edit, "lamp")
    qtbot.keyClick(tab.search_edit, Qt.Key.Key_Return)
    settle_window(window)
    assert tab.model.total == 5
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_A, CTRL | SHIFT)  # Select all matching
    assert tab.matching_selected and tab.approve_action.isEnabled()
    tab.approve_action.trigger()
    qtbot.keyClick(confirmation(tab), Qt.Key.Key_Return)
    settle_window(window)
    assert window.statusBar().currentMessage() == (
        "Approved 3 listings; skipped 2: already approved")
    assert counts(listings, run) == {ListingStatus.APPROVED: 5, ListingStatus.DRAFT: 4}


def test_rejecting_every_match_asks_one_reason_for_the_whole_count(
        qtbot, make_window, sqlite_database, listings, run, settle_window):
    seed(sqlite_database, PAGE_SIZE + 10, "pending_review")
    window = make_window()
    tab = window.listings_tab
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_A, CTRL | SHIFT)
    tab.reject_action.trigger()
    dialog = tab.findChild(ReasonDialog)
    assert dialog is not None and dialog.ok_button.text() == "Reject 210"
    qtbot.keyClicks(dialog.reason_edit, "Duplicate listing")
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return, CTRL)
    settle_window(window)
    assert counts(listings, run) == {ListingStatus.REJECTED: 210}
    assert window.statusBar().currentMessage() == "Rejected 210 listings"


def test_cancel_stops_a_bulk_action_between_batches_and_the_count_says_so(
        qtbot, make_window, sqlite_database, listings, run, settle_window):
    seed(sqlite_database, BULK_BATCH_SIZE * 3, "pending_review")
    window = make_window()
    tab = window.listings_tab
    pressed: list[bool] = []

    def press_cancel(*_args) -> None:
        if not pressed:
            pressed.append(True)
            qtbot.mouseClick(window.progress.cancel_button, Qt.MouseButton.LeftButton)

    tab.progress_advanced.connect(press_cancel)
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_A, CTRL | SHIFT)
    tab.approve_action.trigger()
    qtbot.keyClick(confirmation(tab), Qt.Key.Key_Return)
    settle_window(window)
    assert window.statusBar().currentMessage() == (
        "Approved 200 listings; cancelled with 400 listings not reached")
    assert counts(listings, run) == {ListingStatus.APPROVED: 200,
                                     ListingStatus.PENDING_REVIEW: 400}
    assert not window.progress.isVisible()


def test_ctrl_z_undoes_a_bulk_action_except_what_someone_saved_since_and_redo_reapplies(
        qtbot, make_window, make_listing, listings, run, settle_window):
    made = [make_listing(f"Lamp {n}", 800 + n, ListingStatus.APPROVED) for n in range(4)]
    window = make_window()
    tab = window.listings_tab
    tab.select_ids([x.id for x in made])
    tab.archive_action.trigger()  # destructive: "Archive 4 listings?" first (staff desk)
    qtbot.keyClick(confirmation(tab), Qt.Key.Key_Return)
    settle_window(window)
    assert edit_menu_texts(window)[:2] == ["&Undo Archive 4 listings", "&Redo"]

    activate(qtbot, window)
    # Someone else saves one of them after the archive.
    other = run(listings.get(made[0].id))
    run(listings.update(other.id, ListingChanges(title="Lamp (sold)"),
                        expected_version=other.version, actor="ana@hawaii.edu"))
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_Z, CTRL)
    settle_window(window)
    assert window.statusBar().currentMessage() == (
        "Undid Archive 4 listings: 3 restored; skipped 1: changed since by ana@hawaii.edu")
    statuses = {x.id: run(listings.get(x.id)) for x in made}
    assert statuses[other.id].status == ListingStatus.ARCHIVED
    assert statuses[other.id].title == "Lamp (sold)"  # never overwritten
    assert {statuses[x.id].status for x in made[1:]} == {ListingStatus.APPROVED}
    assert edit_menu_texts(window)[:2] == ["&Undo", "&Redo Archive 4 listings"]

    qtbot.keyClick(tab.table, Qt.Key.Key_Z, CTRL | SHIFT)
    settle_window(window)
    assert window.statusBar().currentMessage() == "Redid Archive 4 listings: 3 restored"
    assert {run(listings.get(x.id)).status for x in made} == {ListingStatus.ARCHIVED}


def test_an_undo_that_would_overwrite_a_later_save_does_nothing_and_stays(
        qtbot, make_window, make_listing, listings, run, settle_window):
    pending = make_listing("Surfboard", 24000, ListingStatus.PENDING_REVIEW)
    window = make_window()
    window.go_to_tab(window.review_tab)
    settle_window(window)
    qtbot.keyClick(window.review_tab.table, Qt.Key.Key_A)  # approve in the review queue
    settle_window(window)
    assert edit_menu_texts(window)[0] == "&Undo Approve “Surfboard”"
    approved = run(listings.get(pending.id))
    run(listings.change_status(approved.id, ListingStatus.ARCHIVED, actor="ana@hawaii.edu"))
    qtbot.keyClick(window.review_tab.table, Qt.Key.Key_Z, CTRL)
    settle_window(window)
    assert window.statusBar().currentMessage() == (
        "Nothing to undo for Approve “Surfboard”; skipped 1: changed since by "
        "ana@hawaii.edu")
    assert run(listings.get(pending.id)).status == ListingStatus.ARCHIVED
    # Still offered (and still refused) rather than silently dropped.
    assert edit_menu_texts(window)[:2] == ["&Undo Approve “Surfboard”", "&Redo"]


def test_an_edit_is_undone_from_the_edit_menu(qtbot, make_window, make_listing, listings,
                                              run, settle_window):
    listing = make_listing("Desk lamp", 800)
    window = make_window()
    tab = window.listings_tab
    tab.select_ids([listing.id])
    tab.edit_selected()
    dialog = tab.findChild(ListingDialog)
    dialog.title_edit.selectAll()
    qtbot.keyClicks(dialog.title_edit, "Brass desk lamp")
    qtbot.keyClick(dialog.title_edit, Qt.Key.Key_Return)
    run(until(lambda: not dialog.isVisible()))  # saved
    settle_window(window)
    assert run(listings.get(listing.id)).title == "Brass desk lamp"
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    undo = next(a for a in menu.actions() if a.text().startswith("&Undo"))
    assert undo.text() == "&Undo Edit “Brass desk lamp”" and undo.isEnabled()
    undo.trigger()
    settle_window(window)
    assert run(listings.get(listing.id)).title == "Desk lamp"
    assert window.statusBar().currentMessage() == "Undid Edit “Brass desk lamp”: 1 restored"
    # The table follows through the change bus, as for any change made elsewhere.
    run(until(lambda: tab.model.listing_at(tab.model.row_of(listing.id)).title == "Desk lamp"))



def test_the_table_waits_for_an_undo_to_finish_then_shows_all_of_it(
        qtbot, make_window, sqlite_database, listings, run, settle_window):
    """An undo of a bulk action writes batch by batch; re-running the query between batches
    would show it half done, and its repaint would fight the writing thread for the GIL
    (stalls at 2,000 rows, #11). The rows follow once, when the last batch is in."""
    seed(sqlite_database, BULK_BATCH_SIZE * 3 + 50, "pending_review")
    window = make_window()
    tab = window.listings_tab
    tab.status_filter.setCurrentIndex(tab.status_filter.findData(ListingStatus.PENDING_REVIEW))
    settle_window(window)
    tab.select_all_matching()
    tab.approve_action.trigger()
    qtbot.keyClick(confirmation(tab), Qt.Key.Key_Return)
    settle_window(window)
    assert tab.model.total == 0

    reloads_while_undoing: list[bool] = []
    tab.model.modelReset.connect(lambda: reloads_while_undoing.append(window.undo_history.busy))
    activate(qtbot, window)
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: tab.model.total == BULK_BATCH_SIZE * 3 + 50, timeout=20_000)
    settle_window(window)
    assert reloads_while_undoing and not any(reloads_while_undoing)
