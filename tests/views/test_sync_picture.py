"""One sync picture: background and manual runs in one progress display and one queue count,
a manual sync waiting visibly, reports of what each run did, and the Stripe-account warning
with its way out, all through the Sync tab's real widgets."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QMessageBox

from uhadmin.domain import ConnectionState, ListingStatus, SyncState
from uhadmin.services.stripe_account import AccountGuard
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.sync import AutoSync, SyncService
from uhadmin.views.main_window import ConnectionIndicator
from uhadmin.views.sync_tab import SyncTab, apply_sync_status

OTHER_KEY = "sk_test_anotherAccountsKey0000"


def service_for(database, bus, sandbox, key: str) -> tuple[SyncService, StripeGateway]:
    gateway = StripeGateway(GatewayConfig(api_key=key, api_base=sandbox.url, rate_limit=None,
                                          backoff_initial_s=0.005, backoff_max_s=0.02,
                                          max_attempts=2))
    guard = AccountGuard(database, gateway, environment="sandbox")
    return SyncService(database, bus, CatalogGateway(gateway), actor="alice",
                       account_guard=guard), gateway


@pytest.fixture
def sync_service(sqlite_database, change_bus, stripe_sandbox, run):
    service, gateway = service_for(sqlite_database, change_bus, stripe_sandbox,
                                   stripe_sandbox.test_key)
    yield service
    run(gateway.aclose())


@pytest.fixture
def tab(qtbot, qt_loop, sync_service, listings, change_bus):
    widget = SyncTab(sync_service, listings, change_bus)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def approved(make_listing, count: int) -> list:
    return [make_listing(f"Lamp {n}", 1000 + n, ListingStatus.APPROVED) for n in range(count)]


def record(tab) -> list[tuple]:
    seen: list[tuple] = []
    tab.progress_started.connect(lambda text, total: seen.append(("started", text)))
    tab.progress_advanced.connect(lambda done, total, text: seen.append(("advanced", done,
                                                                         total, text)))
    tab.progress_finished.connect(lambda: seen.append(("finished",)))
    return seen


async def until(condition) -> None:
    """Poll a widget state the scenario waits for (10 s at most)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the widgets never reached the state waited for")


def test_background_sync_shows_progress_and_what_it_did(tab, run, make_listing,
                                                        sync_service):
    approved(make_listing, 4)
    seen = record(tab)
    auto = AutoSync(sync_service, interval_s=0.05, debounce_s=0)

    async def scenario() -> None:
        auto.start()
        await until(lambda: ("finished",) in seen)
        await auto.stop()
        await tab.load_failures()

    run(scenario())
    assert seen[0] == ("started", "The background sync")
    assert ("advanced", 4, 4, "The background sync") in seen
    assert tab.summary_label.text().startswith("The background sync, at ")
    assert "Created 4 · " in tab.summary_label.text()
    assert tab.state_label.text() == "Stripe online · 0 changes queued"
    assert "queued" not in tab.summary_label.text()


def test_manual_sync_waits_visibly_and_reports_the_work_the_background_did(
        tab, run, make_listing, sync_service, stripe_sandbox, listings):
    made = approved(make_listing, 6)
    sync_service.batch_size = 2
    stripe_sandbox.set_faults(latency_ms=40)
    seen = record(tab)
    waiting: list[str] = []

    async def scenario() -> None:
        background = asyncio.ensure_future(sync_service.run(
            full_scan=False, wait_for_others=False, initiator="background"))
        await until(lambda: any(step[0] == "advanced" for step in seen))
        tab.sync_all_button.click()
        await until(lambda: "Waiting" in tab.summary_label.text())
        waiting.append(tab.summary_label.text())
        await background
        await tab.tasks.wait_idle()

    run(scenario())
    stripe_sandbox.set_faults(latency_ms=0)
    assert waiting[0].startswith("Waiting for the background sync to finish; syncing all "
                                 "queued changes right after it")
    assert any(step[0] == "advanced" and step[3] == "The background sync; yours runs next"
               for step in seen)
    text = tab.summary_label.text()
    assert "The background sync had just pushed these changes, so nothing was left: " \
           "Created 6" in text
    assert "archived 0" not in text.lower() and "queued" not in text
    assert tab.last_report.created == 0 and tab.last_report.api_calls == 0
    assert all(run(listings.get(x.id)).sync_state is SyncState.SYNCED for x in made)


def test_cancel_stops_the_background_run_too(tab, run, make_listing, sync_service,
                                             stripe_sandbox):
    approved(make_listing, 10)
    sync_service.batch_size = 2
    stripe_sandbox.set_faults(latency_ms=30)
    reports = []

    async def scenario() -> None:
        background = asyncio.ensure_future(sync_service.run(initiator="background"))
        await until(lambda: tab.cancel_button.isEnabled())
        tab.cancel_button.click()
        reports.append(await background)

    run(scenario())
    stripe_sandbox.set_faults(latency_ms=0)
    assert reports[0].cancelled and reports[0].created < 10


def test_another_accounts_key_shows_the_warning_and_use_resumes(
        qtbot, qt_loop, run, sqlite_database, change_bus, stripe_sandbox, listings,
        make_listing, sync_service):
    approved(make_listing, 1)
    run(sync_service.run())
    theirs, gateway = service_for(sqlite_database, change_bus, stripe_sandbox, OTHER_KEY)
    widget = SyncTab(theirs, listings, change_bus)
    qtbot.addWidget(widget)
    widget.show()
    indicator = ConnectionIndicator()
    widget.connection_changed.connect(lambda status: apply_sync_status(indicator, status))
    approved(make_listing, 1)
    widget.sync_all_button.click()
    run(widget.tasks.wait_idle())
    assert theirs.status.state is ConnectionState.WRONG_ACCOUNT
    assert widget.account_banner.isVisible()
    assert widget.account_banner.label.text().startswith("Stripe account changed")
    assert widget.state_label.text() == "⚠ Another Stripe account · 1 change queued"
    assert not widget.error_label.isVisible()  # said once, in the banner
    assert widget.summary_label.text().endswith("did not run.")
    assert indicator.text() == ("⚠ Another Stripe account: sync stopped · 1 change queued")
    assert stripe_sandbox.stats.count("POST", "/v1/products") == 1  # only the first sync

    widget.account_banner.use_button.click()
    box = widget.account_banner.confirm_box
    assert box is not None and box.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()  # not by accident
    run(widget.tasks.wait_idle())
    assert widget.account_banner.isVisible()

    widget.account_banner.use_button.click()
    box = widget.account_banner.confirm_box
    assert box is not None
    box.button(QMessageBox.StandardButton.Yes).click()
    run(widget.tasks.wait_idle())
    assert not widget.account_banner.isVisible()
    assert theirs.status.state is ConnectionState.ONLINE
    assert indicator.text() == "● Online · nothing queued"
    assert stripe_sandbox.stats.count("POST", "/v1/products") == 2
    recorded, _ = run(theirs.accounts())
    assert recorded is not None and recorded.recorded_by == "alice"
    run(gateway.aclose())
