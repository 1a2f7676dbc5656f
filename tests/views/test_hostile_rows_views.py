"""The GUI over hostile website rows (both backends): the table model passes Qt's checks and
shows "Needs fixing" with the rules, the filter finds them through the real combo box, the
detail pane says what to fix, and the Edit dialog opens on a bad row and fixes it."""

from __future__ import annotations

import pytest
from hostile_rows import expected, insert_hostile_rows
from PySide6.QtCore import Qt

from uhadmin.domain import ListingChanges, ListingQuery
from uhadmin.services.listings import ListingService
from uhadmin.views.listing_dialog import ListingDialog
from uhadmin.views.listing_table import (
    NEEDS_FIXING_COLOUR,
    NEEDS_FIXING_LABEL,
    ListingColumn,
    ListingTableModel,
)
from uhadmin.views.listings_tab import ListingsTab


@pytest.fixture
def hostile(database, change_bus):
    ids = insert_hostile_rows(database)
    bad = {ids[case] for case, fields in expected(database.dialect).items() if fields}
    return ListingService(database, change_bus), ids, bad


def make_tab(qtbot, service, change_bus) -> ListingsTab:
    tab = ListingsTab(service, change_bus, actor="reviewer@hawaii.edu")
    qtbot.addWidget(tab, before_close_func=lambda widget: widget.shutdown())
    tab.resize(1200, 700)
    tab.enable_sorting()
    return tab


def test_table_model_shows_needs_fixing_and_passes_qt_checks(qtmodeltester, hostile, run):
    service, ids, bad = hostile
    page = run(service.search(ListingQuery(limit=1000)))
    model = ListingTableModel()
    model.set_page(page)
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model, force_py=False)
    for row in range(model.rowCount()):
        listing = model.listing_at(row)
        cell = model.index(row, ListingColumn.SYNC_STATE.section)
        for column in ListingColumn:  # every cell paints
            model.data(model.index(row, column.section))
            model.data(model.index(row, column.section), Qt.ItemDataRole.ToolTipRole)
        if listing.id in bad:
            assert model.data(cell) == NEEDS_FIXING_LABEL
            assert model.data(cell, Qt.ItemDataRole.ForegroundRole) == NEEDS_FIXING_COLOUR
            tooltip = model.data(cell, Qt.ItemDataRole.ToolTipRole)
            assert all(str(problem) in tooltip for problem in listing.problems)
        else:
            assert model.data(cell) != NEEDS_FIXING_LABEL


def test_needs_fixing_filter_detail_and_edit_fix(qtbot, hostile, change_bus, run):
    service, ids, bad = hostile
    tab = make_tab(qtbot, service, change_bus)
    run(tab.reload())
    assert tab.model.total == len(ids)
    # The filter through the real combo box, as a person picks it.
    tab.sync_filter.setFocus()
    index = tab.sync_filter.findText(NEEDS_FIXING_LABEL)
    for _ in range(index - tab.sync_filter.currentIndex()):
        qtbot.keyClick(tab.sync_filter, Qt.Key.Key_Down)
    assert tab.sync_filter.currentText() == NEEDS_FIXING_LABEL
    run(tab.tasks.wait_idle())
    assert tab.model.total == len(bad)
    assert {tab.model.listing_at(r).id for r in range(tab.model.rowCount())} == bad

    row = tab.model.row_of(ids["currency-xyz"])
    tab.table.selectRow(row)
    pane = tab.detail
    assert pane.listing.id == ids["currency-xyz"]
    assert not pane.problems.isHidden()
    assert "'xyz' is not a currency Stripe accepts" in pane.problems.text()
    assert NEEDS_FIXING_LABEL in pane.problems.text()

    dialog = ListingDialog(service, actor="reviewer@hawaii.edu", listing=pane.listing)
    qtbot.addWidget(dialog)
    assert "currency" in dialog.problems and not dialog.save_button.isEnabled()
    assert dialog.price_edit.text() == "" and "900" in dialog.price_edit.placeholderText()
    dialog.currency_box.setCurrentText("USD")
    qtbot.keyClicks(dialog.price_edit, "9.00")
    assert dialog.problems == {} and dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        run(dialog.tasks.wait_idle())
    assert not saved.args[0].needs_fixing
    run(tab.reload())
    assert tab.model.row_of(ids["currency-xyz"]) is None  # fixed: no longer in the filter
    assert tab.model.total == len(bad) - 1


@pytest.mark.slow
def test_edit_dialog_opens_on_every_bad_row(qtbot, hostile, run):
    service, ids, bad = hostile
    for listing_id in sorted(bad):
        listing = run(service.get(listing_id))
        dialog = ListingDialog(service, actor="reviewer@hawaii.edu", listing=listing)
        qtbot.addWidget(dialog)
        if dialog.problems:  # shown at once beside their fields; Save waits for the fix
            assert not dialog.save_button.isEnabled(), listing.category
        else:
            # What the form holds is already the fix (a currency in upper case, a title
            # stored as bytes): saving it writes the row as a staff edit would.
            assert listing.category in ("currency-upper", "title-blob")
            assert dialog.changes() != ListingChanges() and dialog.save_button.isEnabled()
        dialog.close()
