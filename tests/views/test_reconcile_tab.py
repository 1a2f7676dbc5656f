"""The Reconcile tab against a real ReconcileService on SQLite and the offline sandbox."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from uhadmin.domain import (
    FindingKind,
    Fix,
    ListingQuery,
    ListingStatus,
    ReconcileFinding,
    ReconcileReport,
    SyncState,
)
from uhadmin.services.reconcile import ReconcileService
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.sync import SyncService
from uhadmin.views.reconcile_tab import ReconcileFindingModel, ReconcileTab


@pytest.fixture
def reconcile(sqlite_database, change_bus, stripe_sandbox, run):
    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None,
                                          backoff_initial_s=0.005, backoff_max_s=0.02,
                                          max_attempts=2))
    catalog = CatalogGateway(gateway)
    sync = SyncService(sqlite_database, change_bus, catalog, actor="tester")
    yield ReconcileService(sqlite_database, change_bus, catalog, sync, actor="tester")
    run(gateway.aclose())


@pytest.fixture
def tab(qtbot, qt_loop, reconcile):
    widget = ReconcileTab(reconcile)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def settle(run, tab) -> None:
    run(tab.tasks.wait_idle())


def foreign_product(stripe_client, name: str = "Dashboard poster") -> str:
    product = stripe_client.v1.products.create({
        "name": name, "default_price_data": {"currency": "usd", "unit_amount": 1800}})
    return product.id


def test_finding_model_passes_the_model_tester(qtmodeltester):
    model = ReconcileFindingModel()
    findings = (
        ReconcileFinding(FindingKind.NEVER_PUSHED, 1, None, "approved, not in Stripe",
                         (Fix.PUSH_OURS,)),
        ReconcileFinding(FindingKind.NEVER_PUSHED, 2, None, "approved, not in Stripe",
                         (Fix.PUSH_OURS,)),
        ReconcileFinding(FindingKind.FOREIGN, None, "prod_x", "made elsewhere", (Fix.ADOPT,)),
    )
    model.set_report(ReconcileReport(findings=findings, products_seen=1, prices_seen=1,
                                     listings_seen=2, api_calls=2))
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 2
    assert model.data(model.index(0, 0)) == "Approved but not in Stripe (2)"
    assert model.rowCount(model.index(0, 0)) == 2
    child = model.index(1, 1, model.index(0, 0))
    assert model.data(child) == "#2" and model.parent(child) == model.index(0, 0)


def test_compare_groups_findings_by_kind(tab, run, make_listing, stripe_client):
    make_listing("Desk lamp", 1200, ListingStatus.APPROVED)
    foreign_product(stripe_client)
    tab.check_button.click()
    settle(run, tab)
    assert set(tab.model.kinds()) == {FindingKind.NEVER_PUSHED, FindingKind.FOREIGN}
    assert tab.summary_label.text().startswith("2 differences")
    assert tab.tree.isExpanded(tab.model.index(0, 0))


def test_preview_changes_nothing_and_apply_needs_a_click(tab, run, make_listing, listings,
                                                         stripe_sandbox):
    listing = make_listing("Desk lamp", 1200, ListingStatus.APPROVED)
    tab.check_button.click()
    settle(run, tab)
    tab.select_kind(FindingKind.NEVER_PUSHED)
    assert tab.fix_box.currentText() == "Push ours to Stripe"
    tab.preview_button.click()
    settle(run, tab)
    assert tab.preview.toPlainText() == f"Would push listing {listing.id} to Stripe"
    assert stripe_sandbox.store.objects["product"] == {}
    assert run(listings.get(listing.id)).sync_state is SyncState.PENDING

    box = tab.ask_apply()
    assert isinstance(box, QMessageBox)
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    cancel.click()
    settle(run, tab)
    assert stripe_sandbox.store.objects["product"] == {}  # declined: nothing happened

    tab.select_kind(FindingKind.NEVER_PUSHED)
    box = tab.ask_apply()
    next(b for b in box.buttons() if b.text() == "Apply").click()
    settle(run, tab)
    assert run(listings.get(listing.id)).sync_state is SyncState.SYNCED
    assert len(stripe_sandbox.store.objects["product"]) == 1
    assert tab.model.kinds() == []  # compared again after the fix: nothing left
    assert tab.preview.toPlainText() == f"Done: push listing {listing.id} to Stripe"


def test_adopt_a_product_made_elsewhere(tab, run, listings, stripe_client):
    product_id = foreign_product(stripe_client, "Signed surfboard")
    tab.check_button.click()
    settle(run, tab)
    tab.select_kind(FindingKind.FOREIGN)
    assert tab.fix_box.currentText() == "Adopt as a new listing"
    run(tab.apply_fix(Fix.ADOPT, tab.selected_findings()))
    page = run(listings.search(ListingQuery(search="surfboard")))
    assert [x.title for x in page.items] == ["Signed surfboard"]
    assert page.items[0].stripe_product_id == product_id


def test_errors_surface_as_messages(tab, run, stripe_sandbox):
    stripe_sandbox.set_faults(fail_rate=1.0)
    try:
        tab.check_button.click()
        settle(run, tab)
    finally:
        stripe_sandbox.set_faults(fail_rate=0.0)
    assert tab.error_label.isVisible() and "Stripe" in tab.error_label.text()
    assert tab.check_button.isEnabled()


def test_no_fix_in_common_disables_the_buttons(tab, run, make_listing, stripe_client):
    make_listing("Desk lamp", 1200, ListingStatus.APPROVED)
    foreign_product(stripe_client)
    tab.check_button.click()
    settle(run, tab)
    tab.tree.selectAll()
    assert "no fix in common" in tab.selection_label.text()
    assert not tab.apply_button.isEnabled() and not tab.preview_button.isEnabled()


def test_closing_cancels_a_running_compare(tab, run, stripe_sandbox):
    stripe_sandbox.set_faults(latency_ms=300)
    try:
        tab.refresh()
        assert tab.tasks.pending
        tab.shutdown()
        settle(run, tab)
    finally:
        stripe_sandbox.set_faults(latency_ms=0)
    assert tab.report is None and not tab.tasks.pending
