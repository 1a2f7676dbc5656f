"""The Sync tab against a real SyncService on SQLite and the offline sandbox."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import text, update

from uhadmin.domain import ConnectionState, ListingStatus, SyncState, SyncStatus
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.sync import SQLITE_LOCK_SETTING, SyncService
from uhadmin.services.tables import ListingRow, SettingRow
from uhadmin.views.main_window import ConnectionIndicator
from uhadmin.views.sync_tab import SyncFailureTableModel, SyncTab, apply_sync_status


@pytest.fixture
def sync_service(sqlite_database, change_bus, stripe_sandbox, run):
    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None,
                                          backoff_initial_s=0.005, backoff_max_s=0.02,
                                          max_attempts=2))
    service = SyncService(sqlite_database, change_bus, CatalogGateway(gateway), actor="tester")
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


def settle(run, tab) -> None:
    run(tab.tasks.wait_idle())


def set_currency(run, db, listing_id: int, code: str, bump: int = 0) -> None:
    def write(session) -> None:
        session.execute(update(ListingRow).where(ListingRow.id == listing_id).values(
            currency=code, version=ListingRow.version + bump))

    run(db.run(write, write=True))


def test_failure_model_passes_the_model_tester(qtmodeltester, make_listing):
    model = SyncFailureTableModel()
    model.set_rows(approved(make_listing, 3))
    qtmodeltester.check(model, force_py=True)
    assert model.data(model.index(0, 0)) == f"#{model.row_at(0).id}"


def test_sync_all_pushes_reports_and_shows_progress(tab, run, make_listing, listings):
    made = approved(make_listing, 3)
    started, advanced, states = [], [], []
    tab.progress_started.connect(lambda text, total: started.append(text))
    tab.progress_advanced.connect(lambda done, total, text: advanced.append((done, total)))
    tab.connection_changed.connect(states.append)
    tab.sync_all_button.click()
    settle(run, tab)
    assert started == ["Syncing all queued changes"]
    assert advanced[-1] == (3, 3)
    assert "Created 3 · 3 Stripe calls" in tab.summary_label.text()
    assert "queued" not in tab.summary_label.text()  # one queue count: the state label's
    assert states[-1].state is ConnectionState.ONLINE and states[-1].queued == 0
    assert tab.state_label.text() == "Stripe online · 0 changes queued"
    assert all(run(listings.get(x.id)).sync_state is SyncState.SYNCED for x in made)
    assert tab.sync_all_button.isEnabled()


def test_sync_selected_pushes_only_the_selection(tab, run, make_listing, listings):
    made = approved(make_listing, 3)
    assert not tab.sync_selected_button.isEnabled()
    tab.set_selection([made[0]])
    assert tab.sync_selected_button.text() == "Sync selected listings (1)"
    tab.sync_selected_button.click()
    settle(run, tab)
    assert tab.last_report.created == 1 and tab.last_report.queued == 2
    assert run(listings.get(made[0].id)).sync_state is SyncState.SYNCED
    assert run(listings.get(made[1].id)).sync_state is SyncState.PENDING


def test_cancel_really_cancels_and_sync_resumes(tab, run, make_listing, sync_service,
                                                stripe_sandbox):
    approved(make_listing, 12)
    sync_service.batch_size = 2
    stripe_sandbox.set_faults(latency_ms=20)
    tab.progress_advanced.connect(lambda *_: tab.cancel_button.click())
    tab.sync_all_button.click()
    settle(run, tab)
    first = tab.last_report
    assert first.cancelled and 0 < first.created < 12 and first.queued > 0
    assert ": Cancelled: what reached Stripe stays there" in tab.summary_label.text()
    stripe_sandbox.set_faults(latency_ms=0)
    tab.progress_advanced.disconnect()
    tab.sync_all_button.click()
    settle(run, tab)
    assert first.created + tab.last_report.created == 12
    assert len(stripe_sandbox.store.objects["product"]) == 12


def test_failures_are_listed_with_their_reason_and_retried(tab, run, make_listing,
                                                           sqlite_database, listings):
    [listing] = approved(make_listing, 1)
    set_currency(run, sqlite_database, listing.id, "u5d")
    tab.sync_all_button.click()
    settle(run, tab)
    assert tab.failures_model.rowCount() == 1
    reason = tab.failures_model.data(tab.failures_model.index(0, 2))
    assert "currency" in reason
    assert tab.failures_title.text() == "Failures (1)"
    assert not tab.retry_button.isEnabled()  # nothing selected yet
    set_currency(run, sqlite_database, listing.id, "usd", bump=1)
    tab.failures_table.selectRow(0)
    assert tab.retry_button.isEnabled()
    tab.retry_button.click()
    settle(run, tab)
    assert tab.last_report.created == 1 and tab.failures_model.rowCount() == 0
    assert run(listings.get(listing.id)).sync_state is SyncState.SYNCED


def test_errors_surface_as_messages(tab, run, make_listing, sqlite_database):
    approved(make_listing, 1)
    held = json.dumps({"holder": "otherhost:42:abc",
                       "until": (datetime.now(UTC) + timedelta(minutes=5)).isoformat()})
    with sqlite_database.session(write=True) as session:
        session.add(SettingRow(key=SQLITE_LOCK_SETTING, value=held))
    messages = []
    tab.status_message.connect(messages.append)
    tab.sync_all_button.click()
    settle(run, tab)
    assert tab.error_label.isVisible()
    assert "Another uhadmin process" in tab.error_label.text()
    assert messages and "Another uhadmin process" in messages[-1]
    assert tab.sync_all_button.isEnabled()


def test_offline_is_reported_to_the_connection_state(tab, run, make_listing, stripe_sandbox):
    approved(make_listing, 2)
    states: list[SyncStatus] = []
    tab.connection_changed.connect(states.append)
    stripe_sandbox.set_faults(fail_rate=1.0)
    try:
        tab.sync_all_button.click()
        settle(run, tab)
    finally:
        stripe_sandbox.set_faults(fail_rate=0.0)
    assert tab.last_report.offline
    assert states[-1].state is ConnectionState.OFFLINE and states[-1].queued == 2
    indicator = ConnectionIndicator()
    apply_sync_status(indicator, states[-1])
    assert indicator.text() == "● Offline · 2 changes queued"
    assert indicator.toolTip() == states[-1].message
    assert "Stripe offline" in tab.state_label.text()


def test_closing_cancels_a_running_sync(tab, run, make_listing, stripe_sandbox,
                                        sqlite_database):
    approved(make_listing, 6)
    stripe_sandbox.set_faults(latency_ms=150)
    try:
        tab.sync_all_button.click()
        run(_until(lambda: tab.tasks.is_running("sync") and stripe_sandbox.stats.count(
            "POST", "/v1/products") > 0))
        tab.shutdown()
        settle(run, tab)
    finally:
        stripe_sandbox.set_faults(latency_ms=0)
    assert not tab.tasks.pending
    with sqlite_database.session() as session:
        claimed = session.execute(text("SELECT count(*) FROM stripe_changes WHERE "
                                       "claimed_by IS NOT NULL AND done_at IS NULL")).scalar()
    assert claimed == 0


def test_sync_is_keyboard_reachable(tab, qtbot, run, make_listing):
    approved(make_listing, 1)
    assert tab.sync_selected_action.text().replace("&", "") == "Sync selected listings"
    assert tab.sync_all_button.toolTip().endswith("(Ctrl+Shift+S)")
    qtbot.keyClick(tab.sync_all_button, Qt.Key.Key_Space)  # a focused button clicks on Space
    settle(run, tab)
    assert tab.last_report is not None and tab.last_report.created == 1


async def _until(condition) -> None:
    for _ in range(500):  # five seconds
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")
