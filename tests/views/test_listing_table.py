"""ListingTableModel: Qt's model checks, the column enum, paging and sorting requests."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QModelIndex, QModelRoleData, QModelRoleDataSpan, Qt
from PySide6.QtWidgets import QTableView

from uhadmin.domain import Listing, ListingStatus, Page, SortKey, SyncState
from uhadmin.views.listing_table import ListingColumn, ListingRole, ListingTableModel, SortRole


def listing(listing_id: int, **fields) -> Listing:
    values = dict(title=f"Listing {listing_id}", description="", price_minor=1000 + listing_id,
                  currency="usd", updated_at=datetime(2026, 11, 1, tzinfo=UTC))
    values.update(fields)
    return Listing(id=listing_id, **values)


def page(ids: range, total: int | None = None) -> Page[Listing]:
    items = tuple(listing(i) for i in ids)
    return Page(items=items, total=len(items) if total is None else total)


def test_model_passes_qt_model_checks(qtmodeltester):
    model = ListingTableModel()
    model.set_page(Page(items=(
        listing(1, status=ListingStatus.APPROVED, sync_state=SyncState.FAILED,
                sync_error="card_declined", stripe_product_id="prod_1"),
        listing(2, currency="jpy", price_minor=500),
        listing(3, status=ListingStatus.REJECTED, rejection_reason="duplicate"),
    ), total=3))
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model, force_py=False)


def test_columns_drive_headers_display_and_sort_keys():
    model = ListingTableModel()
    model.set_page(page(range(1, 3)))
    headers = [model.headerData(c.section, Qt.Orientation.Horizontal) for c in ListingColumn]
    assert headers == ["ID", "Title", "Price", "Status", "Sync", "Stripe product",
                       "Stripe price", "Updated"]
    price = model.index(0, ListingColumn.PRICE.section)
    assert model.data(price) == "$10.01"
    assert model.data(price, SortRole) == 1001
    assert model.data(price, Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    assert model.data(price, ListingRole).id == 1
    assert ListingColumn.for_sort_key(SortKey.PRICE) is ListingColumn.PRICE
    assert ListingColumn.PRODUCT_ID.spec.sort_key is None


def test_sync_tooltip_names_the_last_error():
    model = ListingTableModel()
    model.set_page(Page(items=(listing(1, sync_state=SyncState.FAILED,
                                       sync_error="No such price"),), total=1))
    tip = model.data(model.index(0, ListingColumn.SYNC_STATE.section),
                     Qt.ItemDataRole.ToolTipRole)
    assert "Failed: No such price" in tip


def test_sort_asks_the_database_instead_of_sorting_rows(qtbot):
    model = ListingTableModel()
    model.set_page(page(range(1, 4)))
    with qtbot.waitSignal(model.sort_requested) as signal:
        model.sort(ListingColumn.PRICE.section, Qt.SortOrder.AscendingOrder)
    assert signal.args == [SortKey.PRICE, False]
    assert [model.listing_at(r).id for r in range(3)] == [1, 2, 3]  # rows untouched
    with qtbot.assertNotEmitted(model.sort_requested):
        model.sort(ListingColumn.PRODUCT_ID.section, Qt.SortOrder.AscendingOrder)


def test_fetch_more_requests_the_next_page_once(qtbot):
    model = ListingTableModel()
    model.set_page(page(range(1, 201), total=450))
    assert model.canFetchMore(QModelIndex())
    with qtbot.waitSignal(model.more_requested) as signal:
        model.fetchMore(QModelIndex())
    assert signal.args == [200]
    assert not model.canFetchMore(QModelIndex())  # one request in flight at a time
    model.append_page(page(range(201, 401), total=450))
    assert model.rowCount() == 400 and model.canFetchMore(QModelIndex())
    model.append_page(page(range(401, 451), total=450))
    assert model.rowCount() == 450 and not model.canFetchMore(QModelIndex())


def test_update_and_remove_rows_in_place():
    model = ListingTableModel()
    model.set_page(page(range(1, 4)))
    assert model.update_listing(listing(2, title="Renamed"))
    assert model.data(model.index(1, ListingColumn.TITLE.section)) == "Renamed"
    assert not model.update_listing(listing(99))
    model.remove_ids([1, 3])
    assert [model.listing_at(r).id for r in range(model.rowCount())] == [2]
    assert model.row_of(2) == 0 and model.total == 1


def test_multi_data_answers_every_role_as_data_does():
    """The delegate's one-call-per-cell path gives exactly what `data` gives, role by role."""
    model = ListingTableModel()
    model.set_page(Page(items=(listing(1, sync_state=SyncState.FAILED, sync_error="No such price",
                                       status=ListingStatus.APPROVED),), total=1))
    roles = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.TextAlignmentRole,
             Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole,
             Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.FontRole, SortRole]
    for column in ListingColumn:
        index = model.index(0, column.section)
        for role in roles:
            slot = QModelRoleData(int(role))
            model.multiData(index, QModelRoleDataSpan(slot))
            assert slot.data() == model.data(index, role), (column, role)
    assert not model.index(1, 0).isValid() and not model.index(0, len(ListingColumn)).isValid()


def test_painting_asks_each_cell_once_not_once_per_role(qtbot):
    """Every call from Qt's painting into the model takes the GIL, which a bulk action's
    worker thread holds most of the time: a repaint asks each visible cell once."""
    calls = {"data": 0, "multiData": 0}

    class Counting(ListingTableModel):
        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            calls["data"] += 1
            return super().data(index, role)

        def multiData(self, index, roleDataSpan):
            calls["multiData"] += 1
            super().multiData(index, roleDataSpan)

    model = Counting()
    model.set_page(page(range(1, 41)))
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: calls["multiData"] > 0)  # the first paint, once laid out
    calls.update(data=0, multiData=0)
    view.viewport().repaint()
    assert calls["multiData"] >= 10 * len(ListingColumn) - len(ListingColumn)  # ~10 rows
    assert calls["data"] == 0
