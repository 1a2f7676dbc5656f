"""The Stripe log tab through its widgets: paging, filters, detail, copy, history links."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from stripe_log_fixtures import a_raw_exchange

from uhadmin.domain import ListingStatus
from uhadmin.services.stripe_log import StripeLogService
from uhadmin.views.listing_detail import ListingDetailPane
from uhadmin.views.stripe_log_model import PAGE_SIZE, StripeLogTableModel
from uhadmin.views.stripe_log_tab import StripeLogTab


@pytest.fixture
def stripe_log(sqlite_database) -> StripeLogService:
    return StripeLogService(sqlite_database)


def fill(run, stripe_log: StripeLogService, count: int) -> None:
    start = datetime.now(UTC) - timedelta(minutes=count)
    for number in range(count):
        stripe_log.record(a_raw_exchange(number, start + timedelta(minutes=number)))
    run(stripe_log.flush())


def make_tab(qtbot, stripe_log) -> StripeLogTab:
    tab = StripeLogTab(stripe_log)
    qtbot.addWidget(tab, before_close_func=lambda widget: widget.shutdown())
    tab.resize(1200, 700)
    tab.show()
    return tab


def settle(run, qtbot, tab, seconds: float = 0.02) -> None:
    """Let Qt events and the tab's tasks run, inside the running loop (qasync's rule)."""
    for _ in range(3):
        run(asyncio.sleep(seconds))
        run(tab.tasks.wait_idle())


def test_the_table_pages_as_it_scrolls_never_loading_everything(qtbot, qtmodeltester, run,
                                                                 stripe_log) -> None:
    fill(run, stripe_log, PAGE_SIZE * 2 + 50)
    tab = make_tab(qtbot, stripe_log)
    tab.start()
    settle(run, qtbot, tab)
    assert tab.model.rowCount() == PAGE_SIZE
    assert tab.model.entry_at(0).id == PAGE_SIZE * 2 + 50  # newest first
    assert tab.model.canFetchMore()
    tab.table.scrollToBottom()
    settle(run, qtbot, tab)
    assert tab.model.rowCount() == PAGE_SIZE * 2
    tab.table.scrollToBottom()
    settle(run, qtbot, tab)
    assert tab.model.rowCount() == PAGE_SIZE * 2 + 50 and not tab.model.canFetchMore()
    qtmodeltester.check(tab.model)

    stripe_log.record(a_raw_exchange(999, datetime.now(UTC)))  # a call made meanwhile
    run(stripe_log.flush())
    run(tab.load_newer())
    assert tab.model.entry_at(0).id == PAGE_SIZE * 2 + 51


@pytest.mark.slow
def test_filters_typed_and_clicked_narrow_the_table(qtbot, run, stripe_log) -> None:
    fill(run, stripe_log, 30)
    tab = make_tab(qtbot, stripe_log)
    tab.start()
    settle(run, qtbot, tab)
    qtbot.keyClicks(tab.listing_filter, "3")
    settle(run, qtbot, tab, 0.15)  # past the typing delay
    rows = [tab.model.entry_at(n) for n in range(tab.model.rowCount())]
    assert rows and all(entry.listing_id == 3 for entry in rows)
    tab.listing_filter.clear()
    qtbot.mouseClick(tab.errors_only, Qt.MouseButton.LeftButton)
    settle(run, qtbot, tab)
    rows = [tab.model.entry_at(n) for n in range(tab.model.rowCount())]
    assert rows and all(entry.status == 402 for entry in rows)
    qtbot.mouseClick(tab.errors_only, Qt.MouseButton.LeftButton)
    tab.method_filter.setCurrentText("GET")
    settle(run, qtbot, tab)
    assert {tab.model.entry_at(n).method for n in range(tab.model.rowCount())} == {"GET"}
    tab.method_filter.setCurrentText("Any")
    tab.status_filter.setCurrentText("4xx")
    settle(run, qtbot, tab)
    assert {tab.model.entry_at(n).status for n in range(tab.model.rowCount())} == {402}
    tab.status_filter.setCurrentText("Any")
    qtbot.keyClicks(tab.text_filter, "card_declined")
    settle(run, qtbot, tab, 0.15)
    assert tab.model.rowCount() == 3
    qtbot.keyClicks(tab.attempt_filter, "x")
    settle(run, qtbot, tab, 0.15)
    assert tab.filter_problem.text() == "attempt: a whole number (the id)"


def test_detail_pane_and_copy_actions(qtbot, run, stripe_log) -> None:
    fill(run, stripe_log, 5)
    tab = make_tab(qtbot, stripe_log)
    tab.start()
    settle(run, qtbot, tab)
    assert not tab.copy_buttons["curl"].isEnabled()
    rect = tab.table.visualRect(tab.model.index(0, 2))
    qtbot.mouseClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    settle(run, qtbot, tab)
    text = tab.detail.toPlainText()
    assert "POST http://127.0.0.1:9/v1/products" in text and "name = Item 4" in text
    assert '"object": "product"' in text  # the response, pretty-printed
    for kind, marker in (("curl", "curl http://127.0.0.1:9/v1/products"),
                         ("node", "stripe.products.create("),
                         ("python", "client.v1.products.create(")):
        qtbot.mouseClick(tab.copy_buttons[kind], Qt.MouseButton.LeftButton)
        copied = QGuiApplication.clipboard().text()
        assert marker in copied and "STRIPE_SECRET_KEY" in copied


def test_a_listing_history_row_opens_the_calls_behind_it(qtbot, run, stripe_log, listings,
                                                         make_listing, sqlite_database) -> None:
    listing = make_listing("Kettle", 1200, ListingStatus.APPROVED)
    with sqlite_database.session(write=True) as session:
        from uhadmin.services.tables import AuditRow

        session.add(AuditRow(entity="listing", entity_id=str(listing.id), action="sync",
                             actor="tess", at=datetime.now(UTC),
                             details={"result": "created", "revision": listing.version}))
    fill(run, stripe_log, 6)
    stripe_log.record(a_raw_exchange(50, datetime.now(UTC), listing_id=listing.id,
                                     listing_revision=listing.version))
    run(stripe_log.flush())
    pane = ListingDetailPane(listings)
    qtbot.addWidget(pane, before_close_func=lambda widget: widget.shutdown())
    pane.resize(1400, 900)
    pane.show()
    pane.show_listing(listing)
    run(pane.tasks.wait_idle())
    tab = make_tab(qtbot, stripe_log)
    pane.stripe_calls_requested.connect(
        lambda listing_id, revision: tab.show_calls(listing_id=listing_id, revision=revision))
    sync_row = pane.history.topLevelItem(0)
    assert sync_row.text(2) == "sync" and sync_row.text(4) == "calls ›"
    rect = pane.history.visualItemRect(sync_row)
    x = pane.history.header().sectionViewportPosition(4) + 5
    assert 0 < x < pane.history.viewport().width(), "the Stripe column is on screen"
    with qtbot.waitSignal(pane.stripe_calls_requested) as clicked:
        qtbot.mouseClick(pane.history.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(x, rect.center().y()))
    assert clicked.args == [listing.id, listing.version]
    settle(run, qtbot, tab)
    assert tab.listing_filter.text() == str(listing.id)
    shown = [tab.model.entry_at(n) for n in range(tab.model.rowCount())]
    assert [(e.listing_id, e.listing_revision) for e in shown] == [(listing.id,
                                                                   listing.version)]


def test_model_alone_fetches_through_its_callback(qtmodeltester) -> None:
    asked: list[int | None] = []
    model = StripeLogTableModel(asked.append)
    model.reset_pages([])
    assert not model.canFetchMore()
    qtmodeltester.check(model)


def test_a_checkout_history_row_opens_the_calls_behind_it(
        qtbot, qt_loop, run, stripe_sandbox, sqlite_database, change_bus, listings,
        make_listing, tmp_path, stripe_log) -> None:
    from test_checkout_tab import make_lab

    from uhadmin.views.checkout_tab import STRIPE_CALLS_HEADER, CheckoutTab

    lab = make_lab(run, stripe_sandbox, sqlite_database, change_bus, listings, tmp_path)
    lab.core.recorder = stripe_log.record
    listing = make_listing("Desk lamp", 1250, ListingStatus.APPROVED)
    run(lab.sync.run())
    attempt = run(lab.service.create({listing.id: 1}, tester="tess"))
    run(stripe_log.flush())
    checkout = CheckoutTab(lab.service, listings, change_bus, actor="tess")
    qtbot.addWidget(checkout, before_close_func=lambda widget: widget.shutdown())
    checkout.resize(1800, 800)
    run(checkout.load_history())
    checkout.show()
    tab = make_tab(qtbot, stripe_log)
    checkout.stripe_calls_requested.connect(lambda attempt_id: tab.show_calls(
        attempt_id=attempt_id))
    column = [c.header for c in checkout.history_model.columns].index(STRIPE_CALLS_HEADER)
    index = checkout.history_model.index(checkout.history_model.row_of(attempt.id), column)
    checkout.history_table.scrollTo(index)
    with qtbot.waitSignal(checkout.stripe_calls_requested) as clicked:
        qtbot.mouseClick(checkout.history_table.viewport(), Qt.MouseButton.LeftButton,
                         pos=checkout.history_table.visualRect(index).center())
    assert clicked.args == [attempt.id]
    settle(run, qtbot, tab)
    shown = [tab.model.entry_at(n) for n in range(tab.model.rowCount())]
    assert shown and {entry.attempt_id for entry in shown} == {attempt.id}
    assert ("POST", "/v1/checkout/sessions") in {(e.method, e.path) for e in shown}
    run(checkout.tasks.wait_idle())
    run(lab.service.stop_receiver())
    run(lab.core.aclose())
