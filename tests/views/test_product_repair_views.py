"""A product deleted in the Dashboard, fixed through the widgets: the listing detail's panel
(re-create, link to another product) and the Reconcile tab (unlink, link), failures clearing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QMessageBox

from uhadmin.domain import FindingKind, ListingChanges, ListingStatus, SyncState
from uhadmin.sandbox.dashboard import delete_product_in_dashboard
from uhadmin.services.reconcile import ReconcileService
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway
from uhadmin.services.sync import SyncService
from uhadmin.views.listings_tab import ListingsTab
from uhadmin.views.reconcile_tab import ReconcileTab


@pytest.fixture
def reconcile(sqlite_database, change_bus, stripe_sandbox, run):
    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None))
    catalog = CatalogGateway(gateway)
    sync = SyncService(sqlite_database, change_bus, catalog, actor="tester")
    yield ReconcileService(sqlite_database, change_bus, catalog, sync, actor="tester")
    run(gateway.aclose())


def deleted_products(run, make_listing, listings, reconcile, stripe_sandbox, count: int):
    """`count` synced listings whose products were then deleted in the Dashboard; each
    edited since, so the next sync fails on it."""
    made = [make_listing(f"Lamp {n}", 1500 + n, ListingStatus.APPROVED) for n in range(count)]
    run(reconcile.sync.run())
    for listing in made:
        synced = run(listings.get(listing.id))
        delete_product_in_dashboard(stripe_sandbox, synced.stripe_product_id)
        run(listings.update(listing.id, ListingChanges(title=f"{listing.title}, brass"),
                            expected_version=synced.version, actor="s"))
    run(reconcile.sync.run())
    return [run(listings.get(listing.id)) for listing in made]


def type_into(qtbot, dialog, text: str) -> None:
    field = dialog.findChild(QLineEdit)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_listing_detail_offers_the_ways_out_and_the_failure_clears(
        qtbot, qt_loop, run, listings, change_bus, make_listing, reconcile, stripe_sandbox,
        stripe_client):
    first, second = deleted_products(run, make_listing, listings, reconcile, stripe_sandbox, 2)
    tab = ListingsTab(listings, change_bus, actor="alice")
    qtbot.addWidget(tab, before_close_func=lambda widget: widget.shutdown())
    tab.resize(1400, 800)
    tab.show()
    tab.detail.set_repair(reconcile.repair)
    run(tab.reload())
    panel = tab.detail.repair_panel

    row = next(r for r in range(tab.model.rowCount()) if tab.model.listing_at(r).id == first.id)
    tab.table.selectRow(row)
    assert panel.isVisible()
    assert panel.label.text().startswith(f"Its Stripe product {first.stripe_product_id} was "
                                         "deleted in Stripe")
    panel.link_button.click()
    type_into(qtbot, panel.link_dialog, "prod_notThere")
    run(panel.tasks.wait_idle())
    assert panel.error.isVisible() and "prod_notThere is not in Stripe" in panel.error.text()
    made = stripe_client.v1.products.create({
        "name": "Made in the Dashboard",
        "default_price_data": {"unit_amount": 700, "currency": "usd"}})
    panel.link_button.click()
    type_into(qtbot, panel.link_dialog, made.id)
    run(panel.tasks.wait_idle())
    linked = run(listings.get(first.id))
    assert (linked.stripe_product_id, linked.sync_state, linked.sync_error) == (
        made.id, SyncState.SYNCED, "")
    assert not panel.isVisible()
    assert tab.detail.fields["sync_error"].text() == "-"

    run(tab.reload())
    row = next(r for r in range(tab.model.rowCount())
               if tab.model.listing_at(r).id == second.id)
    tab.table.selectRow(row)
    assert panel.isVisible()
    panel.recreate_button.click()
    run(panel.tasks.wait_idle())
    again = run(listings.get(second.id))
    assert (again.sync_state, again.sync_error) == (SyncState.SYNCED, "")
    assert stripe_client.v1.products.retrieve(again.stripe_product_id).name == "Lamp 1, brass"
    assert not panel.isVisible()
    assert (run(reconcile.check())).findings == ()


def test_reconcile_names_the_deleted_product_defaults_to_recreate_and_links(
        qtbot, qt_loop, run, listings, make_listing, reconcile, stripe_sandbox,
        stripe_client):
    first, second = deleted_products(run, make_listing, listings, reconcile, stripe_sandbox, 2)
    tab = ReconcileTab(reconcile)
    qtbot.addWidget(tab)
    tab.show()
    assert tab.empty.isVisible() and tab.empty.heading.text() == "Not compared yet"
    tab.check_button.click()
    run(tab.tasks.wait_idle())
    assert tab.model.kinds() == [FindingKind.PRODUCT_DELETED]
    assert tab.model.data(tab.model.index(0, 0)) == "Product deleted in Stripe (2)"
    tab.select_kind(FindingKind.PRODUCT_DELETED)
    assert tab.fix_box.currentText() == "Re-create the product in Stripe"  # never archive
    assert not tab.link_button.isEnabled()  # one listing at a time

    tab.fix_box.setCurrentIndex(tab.fix_box.findText("Unlink and take the listing off sale"))
    first_row = tab.model.index(0, 0, tab.model.index(0, 0))
    tab.tree.selectionModel().clearSelection()
    tab.tree.setCurrentIndex(first_row)
    assert tab.selected_findings()[0].listing_id == first.id
    tab.fix_box.setCurrentIndex(tab.fix_box.findText("Unlink and take the listing off sale"))
    tab.apply_button.click()
    box = next(b for b in tab.findChildren(QMessageBox) if b.isVisible())
    next(b for b in box.buttons() if b.text() == "Apply").click()
    run(tab.tasks.wait_idle())
    unlinked = run(listings.get(first.id))
    assert (unlinked.status, unlinked.stripe_product_id, unlinked.sync_state) == (
        ListingStatus.ARCHIVED, None, SyncState.NOT_PUBLISHED)
    assert tab.model.finding_count() == 1

    made = stripe_client.v1.products.create({
        "name": "Spare", "default_price_data": {"unit_amount": 900, "currency": "usd"}})
    tab.tree.setCurrentIndex(tab.model.index(0, 0, tab.model.index(0, 0)))
    assert tab.link_button.isEnabled()
    tab.link_button.click()
    type_into(qtbot, tab.link_dialog, made.id)
    run(tab.tasks.wait_idle())
    linked = run(listings.get(second.id))
    assert (linked.stripe_product_id, linked.sync_state) == (made.id, SyncState.SYNCED)
    assert tab.model.kinds() == []
    assert tab.empty.isVisible() and tab.empty.heading.text() == "Database and Stripe agree"
