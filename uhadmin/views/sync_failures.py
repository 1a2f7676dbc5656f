"""The Sync tab's failure list: listings whose last push Stripe refused, with its reason."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView

from uhadmin.domain import Listing
from uhadmin.views.empty_state import EmptyState
from uhadmin.views.listing_table import format_time
from uhadmin.views.row_table import Column, RowTableModel


def failure_columns() -> list[Column[Listing]]:
    return [
        Column("Listing", lambda x: f"#{x.id}", sort_value=lambda x: x.id, align_right=True,
               width=70),
        Column("Title", lambda x: x.title, tooltip=lambda x: x.title, width=260),
        Column("Reason", lambda x: x.sync_error or "Stripe refused the change",
               tooltip=lambda x: x.sync_error, width=520),
        Column("Updated", lambda x: format_time(x.updated_at),
               sort_value=lambda x: x.updated_at, width=130),
    ]


class SyncFailureTableModel(RowTableModel[Listing]):
    """Listings whose last push Stripe refused, with the reason it gave."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(failure_columns(), key=lambda listing: listing.id, parent=parent)


def failures_table(model: SyncFailureTableModel) -> QTableView:
    """The failure list's table: whole rows selected, the reason column stretching."""
    table = QTableView()
    table.setObjectName("syncFailuresTable")
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(False)
    for number, column in enumerate(model.columns):
        table.setColumnWidth(number, column.width)
    table.horizontalHeader().setSectionResizeMode(
        2, QHeaderView.ResizeMode.Stretch)
    return table


def show_failure_count(title: QLabel, empty: EmptyState, total: int) -> None:
    """The list's title counts the failures; with none, the empty list says what shows there."""
    title.setText(f"Failures ({total:,})" if total else "Failures (none)")
    if total:
        empty.hide()
    else:
        empty.show_guidance(
            "No failures", "A listing Stripe refuses shows here with the reason, and "
            "with the way out when Retry cannot help (its product deleted in the "
            "Dashboard, say: open the listing to re-create, link or unlink it).")
