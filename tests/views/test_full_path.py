"""The full path through the real composition root (open_gui) on a temporary SQLite catalog
and the offline sandbox: create a listing, approve it, sync it, sell it in the checkout lab,
pay on the sandbox's hosted page, and watch the history row turn `paid`."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx
import pytest

from uhadmin.app import open_gui
from uhadmin.bootstrap import check_stripe_connection
from uhadmin.config import load_settings
from uhadmin.domain import ConnectionState, ListingStatus, Outcome, SyncState
from uhadmin.errors import UhadminError
from uhadmin.sandbox.account import account_id_for

# Seconds each (real windows, browsers, subprocesses): outside the `-m "not slow"` loop.
pytestmark = pytest.mark.slow


@pytest.fixture
def gui_settings(key_store, preferences, tmp_path: Path):
    settings = load_settings({"database_url": f"sqlite:///{tmp_path / 'catalog.sqlite3'}",
                              "actor": "tess@hawaii.edu"},
                             environ={}, keys=key_store, preferences=preferences)
    # No key: the composition root starts the offline sandbox, kept in this data folder.
    return dataclasses.replace(settings, data_dir=tmp_path / "data")


async def open_app(**kwargs):
    """open_gui, then wait for the Stripe tabs."""
    parts = await open_gui(**kwargs)
    parts.first_tabs = set(parts.window.tabs_by_key)  # before the Stripe side joined
    await parts.wait_stripe()
    return parts


def in_one_loop(run, scenario, **kwargs) -> None:
    """Open the app, run `scenario(parts)` and close it, all in ONE running loop: between
    two run() calls a test's loop is stopped, yet qasync still steps pending tasks once
    more with no running loop (the app's own loop never stops like that), which can break
    a background task mid-request."""
    async def whole() -> None:
        parts = await open_app(**kwargs)
        try:
            await scenario(parts)
        finally:
            await parts.aclose()
        assert parts.services is None

    run(asyncio.wait_for(whole(), timeout=60))


async def idle(window) -> None:
    for _ in range(3):
        for tab in list(window.tabs_by_key.values()):
            await tab.tasks.wait_idle()
        await window.tasks.wait_idle()
        await asyncio.sleep(0.05)


def test_create_approve_sync_sell_and_see_it_paid(qapp, qt_loop, run, gui_settings, key_store,
                                                  preferences, qsettings):
    async def scenario(parts) -> None:
        window = parts.window
        assert parts.first_tabs == {"listings", "review"}  # Stripe follows the first page
        assert parts.services is not None and parts.services.sandbox is not None
        assert set(window.tabs_by_key) >= {"listings", "review", "sync", "reconcile",
                                           "checkout"}
        assert window.sync_action.isEnabled()
        await idle(window)

        # 1. Create a listing in the dialog, as a person types it.
        dialog = window.listings_tab.open_new_dialog()
        dialog.title_edit.setText("Calculus textbook, 8th ed.")
        dialog.price_edit.setText("45.00")
        saved = await dialog.save()
        assert saved is not None and saved.status is ListingStatus.DRAFT
        await idle(window)

        # 2. Submit it for review from the Listings tab, approve it in the review queue.
        window.listings_tab.select_ids([saved.id])
        window.listings_tab.submit_action.trigger()
        await idle(window)
        await window.review_tab.reload()
        window.review_tab.select_row(0)
        window.review_tab.approve_button.click()
        await idle(window)
        listing = await parts.services.listings.get(saved.id)
        assert listing.status is ListingStatus.APPROVED

        # 3. Sync: Ctrl+Shift+S's action (background sync may have been quicker; either
        # way the listing ends in Stripe, once).
        sync_tab = window.tabs_by_key["sync"]
        window.sync_action.trigger()
        await idle(window)
        listing = await parts.services.listings.get(saved.id)
        assert listing.sync_state is SyncState.SYNCED and listing.stripe_price_id
        assert sync_tab.last_report is not None and sync_tab.last_report.failed == 0
        assert window.connection.online is True
        assert window.connection.text().startswith("● Online")
        assert len(parts.services.sandbox.store.objects["product"]) == 1

        # 4. The checkout lab: opening it starts the receiver; pick, create.
        lab = window.tabs_by_key["checkout"]
        window.tab_widget.setCurrentWidget(lab)
        await idle(window)
        assert parts.services.receiver.running
        await lab.load_listings()
        lab.pick_table.selectRow(lab.pick_model.row_of(saved.id))
        lab.add_button.click()
        lab.create_button.click()
        await idle(window)
        attempt = lab.attempt
        assert attempt is not None and attempt.session_id and attempt.url
        assert lab.history_model.row_of(attempt.id) == 0

        # 5. Pay on the sandbox's hosted page over HTTP, then land on the success page.
        async with httpx.AsyncClient() as client:
            page = await client.get(attempt.url)
            assert page.status_code == 200 and "Calculus textbook" in page.text
            paid = await client.post(attempt.url, data={
                "email": "buyer@example.test", "cardNumber": "4242 4242 4242 4242",
                "cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Ada Buyer"})
            assert paid.is_redirect
            success = await client.get(paid.headers["location"])
        assert success.status_code == 200
        await idle(window)

        # 6. The history row turned paid, without a refresh.
        row = lab.history_model.row_of(attempt.id)
        assert lab.history_model.row_at(row).outcome is Outcome.PAID
        assert lab.history_model.data(lab.history_model.index(row, 2)) == "paid"
        assert lab.outcome_label.text().startswith("paid")

    in_one_loop(run, scenario, settings=gui_settings, keys=key_store, preferences=preferences,
                qsettings=qsettings)


def test_settings_test_connection_says_offline_sandbox(qapp, qt_loop, run, gui_settings,
                                                       key_store, preferences, qsettings):
    async def scenario(parts) -> None:
        dialog = parts.window.open_settings()
        assert dialog.test_button.isEnabled()
        dialog.test_button.click()
        await asyncio.sleep(0)
        await dialog.tasks.wait_idle()
        assert dialog.test_result.isVisible()
        assert dialog.test_result.text().startswith("Connected: offline sandbox (TEST mode)")
        assert dialog.test_result.property("problem") is False

        # A key typed into the field is tested as typed, against the API base typed.
        dialog.key_field.edit.setText("sk_test_" + "y" * 24)
        dialog.api_base_edit.setText(parts.services.sandbox.url)
        dialog.test_button.click()
        await asyncio.sleep(0)
        await dialog.tasks.wait_idle()
        assert dialog.test_result.text() == (
            f"Connected to {parts.services.sandbox.url}: account "
            f"{account_id_for('sk_test_' + 'y' * 24)} (uhadmin offline sandbox), TEST mode.")

        # Errors are shown inline, next to the button.
        dialog.api_base_edit.setText("http://127.0.0.1:9")
        dialog.test_button.click()
        await asyncio.sleep(0)
        await dialog.tasks.wait_idle()
        assert dialog.test_result.property("problem") is True
        assert "Stripe" in dialog.test_result.text()
        dialog.reject()

    in_one_loop(run, scenario, settings=gui_settings, keys=key_store, preferences=preferences,
                qsettings=qsettings, auto_sync=False)


def test_connection_check_refuses_a_malformed_key(qt_loop, run, key_store):
    with pytest.raises(UhadminError):
        run(check_stripe_connection("not-a-key", "http://127.0.0.1:9", keys=key_store))


def test_background_sync_reports_online_in_the_window(qapp, qt_loop, run, gui_settings,
                                                      key_store, preferences, qsettings):
    async def scenario(parts) -> None:
        parts.services.auto_sync.start()
        for _ in range(100):  # AutoSync's first round probes the sandbox
            if parts.window.connection.online is not None:
                break
            await asyncio.sleep(0.05)
        assert parts.services.sync.status.state is ConnectionState.ONLINE
        assert parts.window.connection.online is True
        assert parts.window.connection.text() == "● Online · nothing queued"

    in_one_loop(run, scenario, settings=gui_settings, keys=key_store, preferences=preferences,
                qsettings=qsettings, auto_sync=False)
