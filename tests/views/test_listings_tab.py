"""The Listings tab on a real ListingService: query, page, sort, filter, act, react to changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QMessageBox

from uhadmin.domain import ListingChanges, ListingStatus, SortKey
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.listings import ListingService
from uhadmin.services.search import insert_listings_in_bulk
from uhadmin.views.listing_table import ListingColumn, ListingTableModel
from uhadmin.views.listings_tab import (
    CHANGE_COALESCE_MS,
    PAGE_SIZE,
    SEARCH_DEBOUNCE_MS,
    ListingsTab,
)
from uhadmin.views.reason_dialog import ReasonDialog


def make_tab(qtbot, listings, change_bus) -> ListingsTab:
    tab = ListingsTab(listings, change_bus, actor="reviewer@hawaii.edu")
    # As the window does on close: stop timers, unsubscribe, cancel tasks.
    qtbot.addWidget(tab, before_close_func=lambda widget: widget.shutdown())
    tab.resize(1200, 700)
    tab.enable_sorting()
    return tab


def shown_titles(tab: ListingsTab) -> list[str]:
    return [tab.model.listing_at(r).title for r in range(tab.model.rowCount())]


def seed_drafts(database, count: int) -> None:
    """`count` drafts "Item 0", "Item 1", ... written in one bulk insert."""
    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    with database.session(write=True) as session:
        insert_listings_in_bulk(session, (
            {"title": f"Item {number}", "description": "", "price_minor": 1000 + number,
             "currency": "usd", "image_urls": [], "status": "draft", "version": 1,
             "created_at": stamp, "updated_at": stamp, "created_by": "seed",
             "updated_by": "seed", "sync_state": "not_published"}
            for number in range(count)))


def test_reload_shows_listings_counts_and_queue(qtbot, listings, change_bus, make_listing, run):
    make_listing("Calculus textbook", 4500)
    make_listing("Mini fridge", 7000, ListingStatus.APPROVED)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    assert sorted(shown_titles(tab)) == ["Calculus textbook", "Mini fridge"]
    assert tab.counts[ListingStatus.APPROVED] == 1 and tab.counts[ListingStatus.DRAFT] == 1
    assert tab.queued_changes == 1  # the approval waits in the outbox for Stripe
    assert "2 listings" in tab.counts_label.text()
    assert "1 change(s) queued" in tab.counts_label.text()


def test_search_runs_in_the_database_and_debounces(qtbot, listings, change_bus, make_listing,
                                                    run):
    make_listing("Calculus textbook", 4500)
    make_listing("Beach cruiser bike", 12000)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    run(tab.apply_search("bike"))
    assert shown_titles(tab) == ["Beach cruiser bike"]
    # Typing: several keystrokes, one query after the pause (latest wins).
    queries = []
    original = listings.search

    async def counting_search(query):
        queries.append(query.search)
        return await original(query)

    listings.search = counting_search
    tab.search_edit.clear()
    qtbot.keyClicks(tab.search_edit, "calc")
    run(asyncio.sleep(SEARCH_DEBOUNCE_MS / 1000 + 0.15))  # the loop runs: the timer fires
    run(tab.tasks.wait_idle())
    assert shown_titles(tab) == ["Calculus textbook"]
    assert queries == ["calc"]  # four keystrokes (and the clear), one query


def test_status_filter_and_header_sort_requery(qtbot, listings, change_bus, make_listing, run):
    make_listing("Cheap", 600)
    make_listing("Dear", 90000, ListingStatus.PENDING_REVIEW)
    make_listing("Middle", 5000, ListingStatus.PENDING_REVIEW)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    tab.status_filter.setCurrentIndex(tab.status_filter.findData(ListingStatus.PENDING_REVIEW))
    run(tab.tasks.wait_idle())
    assert sorted(shown_titles(tab)) == ["Dear", "Middle"]
    header = tab.table.horizontalHeader()
    header.setSortIndicator(ListingColumn.PRICE.section, Qt.SortOrder.AscendingOrder)
    run(tab.tasks.wait_idle())
    assert tab.model.sort_key is SortKey.PRICE and not tab.model.descending
    assert shown_titles(tab) == ["Middle", "Dear"]
    header.setSortIndicator(ListingColumn.PRICE.section, Qt.SortOrder.DescendingOrder)
    run(tab.tasks.wait_idle())
    assert shown_titles(tab) == ["Dear", "Middle"]


def test_scrolling_fetches_the_next_page(qtbot, listings, change_bus, sqlite_database, run):
    seed_drafts(sqlite_database, PAGE_SIZE + 30)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    assert tab.model.rowCount() == PAGE_SIZE and tab.model.total == PAGE_SIZE + 30
    tab.model.fetchMore(QModelIndex())
    run(tab.tasks.wait_idle())
    assert tab.model.rowCount() == PAGE_SIZE + 30
    assert len({tab.model.listing_at(r).id for r in range(tab.model.rowCount())}) == 230


def test_bulk_approve_over_a_mixed_selection_confirms_and_acts_on_the_pending(
        qtbot, listings, change_bus, make_listing, run):
    first = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    second = make_listing("Desk lamp", 800, ListingStatus.PENDING_REVIEW)
    draft = make_listing("Hoodie", 2500)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    tab.select_ids([first.id, second.id, draft.id])
    assert tab.approve_action.isEnabled()
    tab.approve_action.trigger()
    box = tab.findChild(QMessageBox, "bulkConfirmation")
    assert box is not None and box.isVisible()
    assert box.text().startswith("Approve 2 listings?")
    assert "other 1 listing selected is not pending review" in box.text()
    qtbot.keyClick(box, Qt.Key.Key_Return)  # the default button: Approve 2
    run(tab.tasks.wait_idle())
    assert {run(listings.get(i)).status for i in (first.id, second.id)} == {
        ListingStatus.APPROVED}
    assert run(listings.get(draft.id)).status == ListingStatus.DRAFT
    row = tab.model.row_of(first.id)
    assert tab.model.listing_at(row).status == ListingStatus.APPROVED
    # Only the pending ones were sent: nothing failed, so no problem report.
    assert not [w for w in tab.findChildren(QMessageBox) if w.isVisible()]


def test_a_bulk_action_that_partly_fails_lists_each_failure(qtbot, listings, change_bus,
                                                             make_listing, run,
                                                             sqlite_database):
    first = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    taken = make_listing("Desk lamp", 800, ListingStatus.PENDING_REVIEW)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    tab.select_ids([first.id, taken.id])
    # Someone else, on another machine: this tab never hears of it and acts on stale rows.
    elsewhere = ListingService(sqlite_database, ChangeBus())
    run(elsewhere.change_status(taken.id, ListingStatus.APPROVED, actor="someone else"))
    tab.approve_action.trigger()
    run(tab.tasks.wait_idle())
    assert run(listings.get(first.id)).status == ListingStatus.APPROVED
    boxes = [w for w in tab.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and "1 could not be changed" in boxes[0].text()
    assert f"#{taken.id} Desk lamp" in boxes[0].detailedText()
    for box in boxes:
        box.close()


def test_submit_archive_and_relist(qtbot, listings, change_bus, make_listing, run):
    draft = make_listing("Hoodie", 2500)
    approved = make_listing("Kettle", 1200, ListingStatus.APPROVED)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    tab.select_ids([draft.id])
    tab.submit_action.trigger()
    run(tab.tasks.wait_idle())
    assert run(listings.get(draft.id)).status == ListingStatus.PENDING_REVIEW
    tab.select_ids([approved.id])
    tab.archive_action.trigger()
    run(tab.tasks.wait_idle())
    assert run(listings.get(approved.id)).status == ListingStatus.ARCHIVED
    tab.select_ids([approved.id])
    assert tab.relist_action.isEnabled()
    tab.relist_action.trigger()
    run(tab.tasks.wait_idle())
    assert run(listings.get(approved.id)).status == ListingStatus.APPROVED


def test_reject_asks_a_reason(qtbot, listings, change_bus, make_listing, run):
    pending = make_listing("Two tickets", 3000, ListingStatus.PENDING_REVIEW)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    tab.select_ids([pending.id])
    dialog = tab.ask_reject()
    assert isinstance(dialog, ReasonDialog) and not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.reason_edit, "Ticket resale is not allowed")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    run(tab.tasks.wait_idle())
    rejected = run(listings.get(pending.id))
    assert rejected.status == ListingStatus.REJECTED
    assert rejected.rejection_reason == "Ticket resale is not allowed"


def test_delete_draft_after_confirmation(qtbot, listings, change_bus, make_listing, run):
    draft = make_listing("Graph paper", 650)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    tab.select_ids([draft.id])
    box = tab.ask_delete()
    delete_button = next(b for b in box.buttons() if b.text() == "Delete")
    qtbot.mouseClick(delete_button, Qt.MouseButton.LeftButton)
    run(tab.tasks.wait_idle())
    assert tab.model.row_of(draft.id) is None
    assert run(listings.count_by_status())[ListingStatus.DRAFT] == 0


def test_new_and_edit_dialogs_update_the_table(qtbot, listings, change_bus, make_listing, run):
    existing = make_listing("Desk lamp", 800)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    dialog = tab.open_new_dialog()
    dialog.title_edit.setText("Rice cooker")
    dialog.price_edit.setText("35")
    run(dialog.save())
    run(tab.tasks.wait_idle())
    assert "Rice cooker" in shown_titles(tab)
    assert tab.selected_listings()[0].title == "Rice cooker"
    tab.select_ids([existing.id])
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_Return)  # Enter edits the selected listing
    edit = tab._dialogs[-1]
    assert edit.windowTitle() == "Edit listing" and edit.base.id == existing.id
    edit.title_edit.setText("Desk lamp, white")
    run(edit.save())
    assert tab.model.listing_at(tab.model.row_of(existing.id)).title == "Desk lamp, white"
    assert tab.detail.title.text() == "Desk lamp, white"


def test_changes_from_elsewhere_patch_rows(qtbot, listings, change_bus, make_listing, run):
    listing = make_listing("Desk lamp", 800)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    run(listings.update(listing.id, ListingChanges(price_minor=900),
                        expected_version=listing.version, actor="someone else"))
    run(asyncio.sleep(CHANGE_COALESCE_MS / 1000 + 0.1))
    run(tab.tasks.wait_idle())
    assert tab.model.listing_at(0).price_minor == 900


def test_expected_errors_surface_as_a_message(qtbot, listings, change_bus, make_listing, run):
    listing = make_listing("Desk lamp", 800, ListingStatus.PENDING_REVIEW)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    run(listings.change_status(listing.id, ListingStatus.APPROVED, actor="someone else"))
    messages = []
    tab.status_message.connect(messages.append)
    # The table still shows the stale version; a versioned change from it must conflict.

    async def stale_change():
        await listings.change_status(listing.id, ListingStatus.REJECTED, actor="x",
                                     expected_version=listing.version, reason="r")

    run(tab.tasks.run("bulk", stale_change()))
    assert messages and "changed by someone else" in messages[-1]


def test_closing_cancels_running_tasks(qtbot, listings, change_bus, run):
    tab = make_tab(qtbot, listings, change_bus)

    async def start_and_close():
        task = tab.tasks.spawn("query", tab.reload())
        tab.shutdown()
        try:
            await task
        except BaseException:
            pass
        return task

    task = run(start_and_close())
    assert task.cancelled()
    assert not tab.tasks.pending


@pytest.mark.slow
def test_a_stream_of_changes_reloads_at_most_about_once_a_second(qtbot, listings, change_bus,
                                                                 run):
    from uhadmin.domain.changes import SyncChanged

    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    reloads = []
    original = tab.reload

    async def counting_reload(**kwargs):
        reloads.append(kwargs)
        return await original(**kwargs)

    tab.reload = counting_reload

    async def stream():
        for _ in range(15):  # a sync publishing a batch every 100 ms for 1.5 s
            change_bus.publish(SyncChanged())
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.1)
        await tab.tasks.wait_idle()

    run(stream())
    assert 2 <= len(reloads) <= 3


def test_columns_the_database_cannot_sort_keep_the_current_sort(qtbot, listings, change_bus,
                                                                 run):
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    messages = []
    tab.status_message.connect(messages.append)
    header = tab.table.horizontalHeader()
    header.setSortIndicator(ListingColumn.PRODUCT_ID.section, Qt.SortOrder.AscendingOrder)
    run(tab.tasks.wait_idle())
    assert header.sortIndicatorSection() == ListingColumn.UPDATED.section
    assert tab.model.sort_key is SortKey.UPDATED
    assert messages == ["Stripe product cannot be sorted"]


def test_rows_are_selected_in_runs():
    from uhadmin.views.listings_loading import row_runs

    assert row_runs([]) == []
    assert row_runs([5, 1, 2, 3, 9, 10, 3]) == [(1, 3), (5, 5), (9, 10)]


@pytest.fixture
def asked(monkeypatch) -> list[int]:
    """The rows the Listings tab's model is asked an `index` for (each a call into Python);
    the tab made from here on uses that counting model."""
    asked: list[int] = []

    class CountingModel(ListingTableModel):
        def index(self, row, column, parent=QModelIndex()):
            asked.append(row)
            return super().index(row, column, parent)

    monkeypatch.setattr("uhadmin.views.listings_tab.ListingTableModel", CountingModel)
    return asked


def test_after_select_all_the_header_paints_without_asking_every_row(
        qtbot, listings, change_bus, sqlite_database, run, asked):
    """Rows are selected whole: the header never works out which columns are fully selected,
    which asked the model for each loaded row's index on every header paint (#11)."""
    seed_drafts(sqlite_database, PAGE_SIZE)
    tab = make_tab(qtbot, listings, change_bus)
    assert type(tab.model).__name__ == "CountingModel"
    tab.show()
    qtbot.waitExposed(tab)
    run(tab.reload())
    tab.table.selectAll()
    header = tab.table.horizontalHeader()
    header.viewport().repaint()
    asked.clear()
    header.viewport().repaint()
    assert len(asked) < PAGE_SIZE  # with section highlighting: every row of every column


def test_select_all_reads_the_selection_without_asking_every_cell(
        qtbot, listings, change_bus, sqlite_database, run, asked):
    """Ctrl+A over a full page, then the bar's "Select all matching": the tab works out
    what is selected from the selection's ranges. Qt's selectedRows() asked the model for
    every cell of every row, 1,400 calls into Python per ask for a page of 200 (#11)."""
    seed_drafts(sqlite_database, PAGE_SIZE + 5)
    tab = make_tab(qtbot, listings, change_bus)  # never shown: nothing paints
    run(tab.reload())
    assert tab.model.rowCount() == PAGE_SIZE
    asked.clear()
    qtbot.keyClick(tab.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert tab.matching_bar.button.text() == f"Select all {PAGE_SIZE + 5} matching (Ctrl+Shift+A)"
    assert tab.detail.title.text() == f"{PAGE_SIZE} listings selected"
    tab.matching_bar.button.click()
    assert tab.matching_selected
    assert tab.detail.title.text() == f"{PAGE_SIZE + 5} listings selected"  # all that match
    assert len(tab.selected_listings()) == PAGE_SIZE
    assert len(asked) < PAGE_SIZE
