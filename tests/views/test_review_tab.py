"""The review queue: oldest pending first, A approves, R rejects with a reason, next selected."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt

from uhadmin.domain import ListingChanges, ListingQuery, ListingStatus
from uhadmin.views.review_tab import ReviewTab


def make_tab(qtbot, listings, change_bus) -> ReviewTab:
    tab = ReviewTab(listings, change_bus, actor="reviewer@hawaii.edu")
    qtbot.addWidget(tab, before_close_func=lambda widget: widget.shutdown())
    tab.resize(1200, 700)
    tab.show()
    return tab


def test_queue_holds_pending_listings_oldest_first(qtbot, listings, change_bus, make_listing,
                                                   run):
    first = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    make_listing("Hoodie", 2500)  # a draft is not in the queue
    second = make_listing("Surfboard", 24000, ListingStatus.PENDING_REVIEW)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    assert [tab.model.listing_at(r).id for r in range(tab.model.rowCount())] == [first.id,
                                                                                  second.id]
    assert tab.current_listing().id == first.id
    assert tab.detail.title.text() == "Mini fridge"
    assert "2 listing(s) waiting" in tab.queue_label.text()


def test_keyboard_approve_then_reject_selects_the_next(qtbot, listings, change_bus,
                                                       make_listing, run):
    first = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    second = make_listing("Surfboard", 24000, ListingStatus.PENDING_REVIEW)
    third = make_listing("Hot plate", 1400, ListingStatus.PENDING_REVIEW)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_A)
    run(tab.tasks.wait_idle())
    assert run(listings.get(first.id)).status == ListingStatus.APPROVED
    assert tab.current_listing().id == second.id  # the next one, at once

    qtbot.keyClick(tab.table, Qt.Key.Key_R)
    dialog = tab._reason_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.reason_edit, "Board has a crack")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    run(tab.tasks.wait_idle())
    rejected = run(listings.get(second.id))
    assert (rejected.status, rejected.rejection_reason) == (ListingStatus.REJECTED,
                                                            "Board has a crack")
    assert tab.current_listing().id == third.id
    assert tab.model.rowCount() == 1


def test_emptied_queue_disables_the_decisions(qtbot, listings, change_bus, make_listing, run):
    only = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    qtbot.mouseClick(tab.approve_button, Qt.MouseButton.LeftButton)
    run(tab.tasks.wait_idle())
    assert run(listings.get(only.id)).status == ListingStatus.APPROVED
    assert tab.queue_label.text() == "Nothing to review"
    assert not tab.approve_button.isEnabled() and not tab.approve_action.isEnabled()


def test_a_decision_someone_else_made_first_is_reported(qtbot, listings, change_bus,
                                                        make_listing, run):
    pending = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    messages = []
    tab.status_message.connect(messages.append)
    run(listings.change_status(pending.id, ListingStatus.APPROVED, actor="other reviewer"))
    tab._change_timer.stop()  # decide on the stale row before the queue refreshes
    qtbot.mouseClick(tab.approve_button, Qt.MouseButton.LeftButton)
    run(tab.tasks.wait_idle())
    assert messages and "changed by someone else" in messages[-1]


def test_an_edit_elsewhere_patches_the_queue_without_reading_it_again(
        qtbot, listings, change_bus, make_listing, run):
    pending = make_listing("Mini fridge", 7000, ListingStatus.PENDING_REVIEW)
    make_listing("Hoodie", 2500)  # a draft: its edits are none of the queue's business
    tab = make_tab(qtbot, listings, change_bus)
    run(tab.reload())
    searches = []
    original = listings.search

    async def counting_search(query):
        searches.append(query)
        return await original(query)

    listings.search = counting_search

    async def edits_elsewhere() -> None:
        await listings.update(pending.id, ListingChanges(price_minor=6500),
                              expected_version=pending.version, actor="seller")
        hoodie = (await original(ListingQuery(search="Hoodie"))).items[0]
        await listings.update(hoodie.id, ListingChanges(price_minor=2000),
                              expected_version=hoodie.version, actor="seller")
        await asyncio.sleep(0.3)  # longer than the tab's change timer
        await tab.tasks.wait_idle()

    run(edits_elsewhere())
    assert searches == []  # the changes carried the saved listings
    assert tab.model.listing_at(0).price_minor == 6500
    assert tab.detail.listing is not None and tab.detail.listing.price_minor == 6500
