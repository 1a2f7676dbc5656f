"""The Checkout lab tab against a real CheckoutService, receiver and the offline sandbox."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from checkout_fixtures import lab_settings
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QComboBox,
    QLineEdit,
    QTabBar,
)

from uhadmin.domain import CheckoutAttempt, CheckoutLine, ListingStatus, Outcome, TestCard
from uhadmin.services.checkout import CheckoutService
from uhadmin.services.receiver import CheckoutReceiver
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.stripe_gateway.checkout import CheckoutGateway
from uhadmin.services.sync import SyncService
from uhadmin.views.checkout_tab import (
    CheckoutAttemptTableModel,
    CheckoutCartModel,
    CheckoutTab,
    PickListingTableModel,
)
from uhadmin.views.test_cards_panel import TestCardTableModel


def make_lab(run, stripe_sandbox, sqlite_database, change_bus, listings, tmp_path, *,
             key: str | None = None, **settings_changes):
    core = StripeGateway(GatewayConfig(api_key=key or stripe_sandbox.test_key,
                                       api_base=stripe_sandbox.url, rate_limit=None,
                                       backoff_initial_s=0.005, backoff_max_s=0.02,
                                       max_attempts=2))
    sync = SyncService(sqlite_database, change_bus, CatalogGateway(core), actor="tess")
    opened: list[str] = []
    settings = lab_settings(tmp_path, **settings_changes)
    service = CheckoutService(sqlite_database, change_bus, listings, settings=settings,
                              gateway=CheckoutGateway(core), receiver=CheckoutReceiver(),
                              sync=sync, opener=opened.append)
    return SimpleNamespace(core=core, sync=sync, service=service, opened=opened)


@pytest.fixture
def lab(qt_loop, run, stripe_sandbox, sqlite_database, change_bus, listings, tmp_path):
    made = make_lab(run, stripe_sandbox, sqlite_database, change_bus, listings, tmp_path)
    yield made
    run(asyncio.to_thread(stripe_sandbox.wait_for_webhooks, 5))
    run(made.service.stop_receiver())
    run(made.core.aclose())


@pytest.fixture
def tab(qtbot, lab, listings, change_bus, run, stripe_sandbox):
    widget = CheckoutTab(lab.service, listings, change_bus, actor="tess")
    widget.resize(1200, 800)
    widget.show()  # opens the lab: receiver started, unfinished attempts refreshed
    widget.start()
    settle(run, widget)
    yield widget
    # Webhooks still on their way reach the tab while it listens; then it closes, as the
    # window closes it.
    run(asyncio.to_thread(stripe_sandbox.wait_for_webhooks, 5))
    settle(run, widget)
    widget.shutdown()
    settle(run, widget)
    widget.close()


def settle(run, tab) -> None:
    run(tab.tasks.wait_idle())


def published(make_listing, run, lab, title: str = "Desk lamp", price: int = 1250):
    listing = make_listing(title, price, ListingStatus.APPROVED)
    run(lab.sync.run())
    return listing


def choose(tab, run, listing, quantity: int = 1) -> None:
    run(tab.load_listings())
    row = tab.pick_model.row_of(listing.id)
    tab.pick_table.selectRow(row)
    tab.add_button.click()
    if quantity != 1:
        cart_row = tab.cart_model.rowCount() - 1
        assert tab.cart_model.setData(tab.cart_model.index(cart_row, 2), str(quantity))


async def pay(url: str, card: str = "4242 4242 4242 4242") -> httpx.Response:
    """Submit the sandbox's hosted form as a browser would, then follow to the success page."""
    async with httpx.AsyncClient() as client:
        paid = await client.post(url, data={
            "email": "buyer@example.test", "cardNumber": card, "cardExpiry": "12 / 34",
            "cardCvc": "123", "billingName": "Ada Buyer"})
        if paid.is_redirect:
            return await client.get(paid.headers["location"])
        return paid


def sessions(stripe_sandbox) -> dict:
    with stripe_sandbox.store.lock:
        return dict(stripe_sandbox.store.objects["checkout_session"])


def an_attempt(**changes) -> CheckoutAttempt:
    values = dict(id=1, attempt_key="k", session_id="cs_test_1", url="http://x/c/pay/cs",
                  lines=(CheckoutLine(1, 2, "Lamp", "price_1", 1250, "usd"),),
                  amount_total=2500, currency="usd", tester="tess", livemode=False,
                  created_at=datetime(2026, 11, 27, tzinfo=UTC), expires_at=None,
                  status="open", payment_status="unpaid", outcome=Outcome.DECLINED,
                  decline_code="card_declined", decline_message="Your card was declined.")
    values.update(changes)
    return CheckoutAttempt(**values)


def test_models_pass_the_model_tester(qtmodeltester, make_listing):
    history = CheckoutAttemptTableModel()
    history.set_rows([an_attempt(), an_attempt(id=2, outcome=Outcome.PAID)])
    qtmodeltester.check(history, force_py=True)
    assert history.data(history.index(0, 2)) == "declined"
    listing = make_listing("Desk lamp", 1250, ListingStatus.APPROVED)
    pick = PickListingTableModel()
    pick.set_rows([listing])
    qtmodeltester.check(pick, force_py=True)
    cart = CheckoutCartModel()
    cart.add(listing)
    cart.add(listing)  # the same listing again: one line, quantity 2
    qtmodeltester.check(cart, force_py=True)
    assert cart.lines() == [(listing.id, 2)] and cart.total_text() == "Total $25.00"
    assert not cart.setData(cart.index(0, 2), "0")  # at least one
    cards = TestCardTableModel()
    cards.set_rows([TestCard("4242 4242 4242 4242", "Visa", "success")])
    qtmodeltester.check(cards, force_py=True)


def test_opening_the_lab_starts_the_receiver(tab, lab):
    assert lab.service.receiver.running
    assert "Receiver: success, cancel and webhooks at http://127.0.0.1:" in \
        tab.receiver_label.text()
    assert not tab.banner.isVisible()


def test_create_shows_id_and_url_and_a_double_click_makes_one(tab, run, lab, make_listing,
                                                              stripe_sandbox):
    listing = published(make_listing, run, lab)
    assert not tab.create_button.isEnabled()  # nothing chosen yet
    choose(tab, run, listing, quantity=2)
    assert tab.total_label.text() == "Total $25.00"
    tab.create_button.click()
    tab.create_button.click()  # the second click of a double click
    settle(run, tab)
    assert len(sessions(stripe_sandbox)) == 1
    first = tab.attempt
    assert tab.session_edit.text() == first.session_id and first.session_id.startswith("cs_")
    assert tab.url_edit.text() == first.url and "/c/pay/" in first.url
    assert tab.history_model.rowCount() == 1
    tab.create_button.click()  # a later click: a NEW session, never the old one again
    settle(run, tab)
    assert len(sessions(stripe_sandbox)) == 2 and tab.attempt.session_id != first.session_id
    tab.copy_url_button.click()
    assert QGuiApplication.clipboard().text() == tab.attempt.url
    tab.copy_id_button.click()
    assert QGuiApplication.clipboard().text() == tab.attempt.session_id


def test_open_in_browser_uses_the_opener(tab, run, lab, make_listing):
    choose(tab, run, published(make_listing, run, lab))
    run(tab.create_session())
    tab.open_button.click()
    settle(run, tab)
    assert lab.opened == [tab.attempt.url]


def test_test_cards_copy_the_number_and_show_the_outcome(tab):
    panel = tab.cards
    assert panel.model.rowCount() >= 10
    texts = [panel.model.data(panel.model.index(r, 2)) for r in range(panel.model.rowCount())]
    assert "Succeeds" in texts and "Declined (insufficient_funds)" in texts
    row = next(r for r in range(panel.model.rowCount())
               if panel.model.row_at(r).digits == "4000000000009995")
    panel.table.selectRow(row)
    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == "4000000000009995"
    assert "insufficient_funds" in panel.hint.text()


def test_history_turns_paid_when_the_success_page_reports(tab, run, lab, make_listing):
    choose(tab, run, published(make_listing, run, lab))
    attempt = run(tab.create_session())
    page = run(pay(attempt.url))
    assert page.status_code == 200
    run(asyncio.sleep(0.05))
    settle(run, tab)
    row = tab.history_model.row_of(attempt.id)
    assert tab.history_model.data(tab.history_model.index(row, 2)) == "paid"
    assert tab.outcome_label.text().startswith("paid")
    assert not tab.open_button.isEnabled()  # a paid session has no page any more


@pytest.mark.slow
def test_a_declined_card_shows_its_reason(tab, run, lab, make_listing, stripe_sandbox):
    choose(tab, run, published(make_listing, run, lab))
    attempt = run(tab.create_session())
    run(pay(attempt.url, "4000 0000 0000 9995"))
    run(asyncio.to_thread(stripe_sandbox.wait_for_webhooks, 5))
    settle(run, tab)
    row = tab.history_model.row_of(attempt.id)
    assert tab.history_model.data(tab.history_model.index(row, 2)) == "declined"
    assert tab.history_model.data(tab.history_model.index(row, 5)) == "Visa ····9995"
    assert "insufficient_funds" in tab.history_model.data(tab.history_model.index(row, 6))
    assert "Card: Visa ····9995" in tab.outcome_label.text()


@pytest.mark.slow
def test_expire_and_expire_all_mine(tab, run, lab, make_listing):
    choose(tab, run, published(make_listing, run, lab))
    first = run(tab.create_session())
    second = run(tab.create_session())
    tab.history_table.selectRow(tab.history_model.row_of(first.id))
    assert tab.expire_button.isEnabled()
    tab.expire_button.click()
    settle(run, tab)
    assert tab.history_model.row_at(tab.history_model.row_of(first.id)).outcome \
        is Outcome.EXPIRED
    box = tab.ask_expire_mine()
    next(b for b in box.buttons() if b.text() == "Expire all").click()
    settle(run, tab)
    assert tab.history_model.row_at(tab.history_model.row_of(second.id)).outcome \
        is Outcome.EXPIRED
    assert tab.attempt.outcome is Outcome.EXPIRED and not tab.open_button.isEnabled()


def test_refresh_asks_stripe(tab, run, lab, make_listing, stripe_client):
    choose(tab, run, published(make_listing, run, lab))
    attempt = run(tab.create_session())
    stripe_client.v1.checkout.sessions.expire(attempt.session_id)  # behind the app's back
    tab.refresh_button.click()
    settle(run, tab)
    assert tab.history_model.row_at(tab.history_model.row_of(attempt.id)).outcome \
        is Outcome.EXPIRED


def test_errors_surface_as_messages(tab, run, make_listing):
    draft = make_listing("Draft chair", 500)  # not approved: the service refuses to sell it
    tab.cart_model.add(draft)
    tab.create_button.click()
    settle(run, tab)
    assert tab.error_label.isVisible()
    assert "only approved (published) listings can be sold" in tab.error_label.text()
    assert tab.create_button.isEnabled()  # ready for the next try


def test_live_mode_is_refused_and_the_lab_says_why(qtbot, run, stripe_sandbox, sqlite_database,
                                                   change_bus, listings, tmp_path,
                                                   make_listing):
    live = make_lab(run, stripe_sandbox, sqlite_database, change_bus, listings, tmp_path,
                    key="sk_live_" + "x" * 24)
    widget = CheckoutTab(live.service, listings, change_bus, actor="tess")
    qtbot.addWidget(widget)
    requests_before = stripe_sandbox.stats.total
    widget.show()
    settle(run, widget)
    try:
        assert widget.banner.isVisible()
        assert "refuses a LIVE Stripe key" in widget.banner_label.text()
        assert "allow live mode in settings" in widget.banner_label.text()
        widget.cart_model.add(make_listing("Lamp", 1000, ListingStatus.APPROVED))
        assert not widget.create_button.isEnabled()
        assert not live.service.receiver.running  # refused before anything started
        assert stripe_sandbox.stats.total == requests_before  # not one request was sent
    finally:
        widget.shutdown()
        run(live.core.aclose())


def test_closing_cancels_the_lab_tasks(tab, run, lab, make_listing, stripe_sandbox):
    choose(tab, run, published(make_listing, run, lab))
    stripe_sandbox.set_faults(latency_ms=300)
    try:
        tab.create_button.click()
        run(asyncio.sleep(0.05))
        assert tab.tasks.pending
        tab.shutdown()
        settle(run, tab)
    finally:
        stripe_sandbox.set_faults(latency_ms=0)
    assert not tab.tasks.pending


# --------------------------------------------------------------------------- the lab fits
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "views"


def controls_of(tab) -> list:
    found = [w for kind in (QAbstractButton, QLineEdit, QComboBox) for w in tab.findChildren(kind)]
    return [widget for widget in found
            if widget.isVisibleTo(tab) and not isinstance(widget, QTabBar)
            and widget.window() is tab.window() and not widget.objectName().startswith("qt_")]


def scroll_to(scroll, widget) -> None:
    """Scroll the lab so the widget's top left corner is as near the view's as it goes."""
    if scroll.widget().isAncestorOf(widget):
        corner = widget.mapTo(scroll.widget(), QPoint(0, 0))
        scroll.horizontalScrollBar().setValue(corner.x())
        scroll.verticalScrollBar().setValue(corner.y())
    QApplication.processEvents()


def visible_in_window(widget, window) -> bool:
    """The widget's whole rectangle is inside the window and inside every scrolling
    viewport it sits in (so nothing of it is clipped)."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    rect = QRect(top_left, widget.size())
    if not window.rect().contains(rect):
        return False
    parent = widget.parentWidget()
    while parent is not None and parent is not window:
        if isinstance(parent, QAbstractScrollArea):
            viewport = parent.viewport()
            shown = QRect(viewport.mapTo(window, QPoint(0, 0)), viewport.size())
            if not shown.contains(rect):
                return False
        parent = parent.parentWidget()
    return True


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(1024, 640), (1280, 800)])
def test_the_lab_fits_the_window(qtbot, lab, listings, change_bus, app_settings, key_store,
                                 preferences, qsettings, run, stripe_sandbox, width, height):
    from uhadmin.views.main_window import MainWindow

    window = MainWindow(settings=app_settings, listings=listings, bus=change_bus,
                        keys=key_store, preferences=preferences, qsettings=qsettings)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    tab = CheckoutTab(lab.service, listings, change_bus, actor="tess")
    window.add_tab(tab, "Checkout lab", key="checkout")
    window.resize(width, height)
    window.show()
    window.tab_widget.setCurrentWidget(tab)
    qtbot.waitExposed(window)
    run(tab.tasks.wait_idle())
    QApplication.processEvents()
    assert window.size() == QSize(width, height)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(ARTIFACTS / f"checkout-lab-{width}x{height}.png"))

    scroll = tab.top_scroll
    cut = []
    for control in controls_of(tab):
        scroll_to(scroll, control)  # what scrolling can reach counts
        hint = control.minimumSizeHint()
        if not visible_in_window(control, window) or control.width() < hint.width() \
                or control.height() < hint.height():
            cut.append(f"{control.objectName() or control.text()} {control.geometry()}")
    assert cut == [], f"controls cut off at {width}x{height}"

    table = tab.cards.table
    scroll_to(scroll, table)
    assert visible_in_window(table, window)
    metrics = table.fontMetrics()
    for row in range(tab.cards.model.rowCount()):
        cell = table.visualRect(tab.cards.model.index(row, 2))
        text = tab.cards.model.data(tab.cards.model.index(row, 2))
        assert table.viewport().rect().contains(cell), f"card row {row} outside the table"
        assert metrics.horizontalAdvance(text) <= cell.width(), f"{text!r} is cut"
    if width >= 1280:  # nothing to scroll for: everything is on screen at once
        assert not scroll.verticalScrollBar().isVisible()
        assert not scroll.horizontalScrollBar().isVisible()
        assert tab.history_table.height() >= 5 * 24
    tab.shutdown()
    run(tab.tasks.wait_idle())


# --------------------------------------------------------------------------- GUI + Chromium
CHROMIUM = os.environ.get("UHADMIN_TEST_CHROMIUM", "/usr/bin/chromium")


def browse_and_pay(url: str, card: str, shots: Path) -> dict:
    """A real headless Chromium pays on the hosted page (Playwright's sync API, in a worker
    thread while the Qt loop keeps serving the receiver) and reports the page it ends on."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            page.fill("#email", "buyer@example.test")
            page.fill("#cardNumber", card)
            page.fill("#cardExpiry", "12 / 34")
            page.fill("#cardCvc", "123")
            page.fill("#billingName", "Ada Buyer")
            if card.startswith("4242"):
                with page.expect_navigation(url="**/success?*"):
                    page.click("#submit")
            else:
                page.click("#submit")
                page.locator("#payment-error").wait_for()
                with page.expect_navigation(url="**/cancel?*"):
                    page.click("a.back")
            page.screenshot(path=str(shots), full_page=True)
            return {"result": page.inner_text("[data-testid=result]"),
                    "outcome": page.inner_text("[data-testid=outcome]"),
                    "card": page.inner_text("[data-testid=card]")}
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize(("card", "result", "outcome"), [
    ("4242 4242 4242 4242", "Payment received", Outcome.PAID),
    ("4000 0000 0000 0002", "Checkout canceled", Outcome.CANCELED)])
def test_the_gui_path_ends_on_a_rendered_page_in_chromium(tab, run, qt_loop, lab, make_listing,
                                                          stripe_sandbox, card, result,
                                                          outcome):
    if not Path(CHROMIUM).is_file():
        reason = f"needs Chromium at {CHROMIUM}"
        pytest.fail(reason) if os.environ.get("CI", "").lower() == "true" else \
            pytest.skip(reason)
    choose(tab, run, published(make_listing, run, lab))
    tab.create_button.click()
    settle(run, tab)
    attempt = tab.attempt
    tab.open_button.click()
    settle(run, tab)
    assert lab.opened == [attempt.url]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Not `run`: its 20 s is for our own code, and a Chromium starting on a busy 2-core CI
    # machine has taken longer. Playwright's own 30 s per step still bounds every wait.
    shown = qt_loop.run_until_complete(asyncio.wait_for(asyncio.to_thread(
        browse_and_pay, attempt.url, card, ARTIFACTS / f"gui-path-{outcome}.png"), 120))
    assert (shown["result"], shown["outcome"]) == (result, str(outcome))
    assert shown["card"] == f"Visa ····{card[-4:]}"
    run(asyncio.to_thread(stripe_sandbox.wait_for_webhooks, 5))
    settle(run, tab)
    row = tab.history_model.row_of(attempt.id)
    assert tab.history_model.data(tab.history_model.index(row, 2)) == str(outcome)
    assert tab.history_model.data(tab.history_model.index(row, 5)).startswith(
        f"Visa ····{card[-4:]}")
    assert tab.outcome_label.text().startswith(str(outcome))


def test_first_run_says_listings_must_be_approved_and_synced(tab, run, make_listing, lab,
                                                             qtbot):
    run(tab.load_listings())
    assert tab.pick_empty.isVisible()
    assert tab.pick_empty.heading.text() == "No listings to buy yet"
    assert "must be approved and synced to Stripe" in tab.pick_empty.text.text()
    published(make_listing, run, lab)
    run(tab.load_listings())
    assert not tab.pick_empty.isVisible()
    qtbot.keyClicks(tab.search_edit, "zebra")
    run(tab.load_listings())
    assert tab.pick_empty.heading.text() == "No approved listing matches"
