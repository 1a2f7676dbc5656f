"""The test-cards panel of the checkout lab: Stripe's test card numbers, what each does, and a
copy button, so a tester pastes the right number into the hosted page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from uhadmin.domain import TestCard
from uhadmin.views.row_table import Column, RowTableModel

OUTCOME_TEXT = {
    "success": "Succeeds",
    "declined": "Declined",
    "incorrect_number": "Refused: incorrect number",
    "3ds_success": "3-D Secure, then succeeds",
    "3ds_always": "3-D Secure every time",
}


def expected_outcome(card: TestCard) -> str:
    text = OUTCOME_TEXT.get(card.outcome, card.outcome)
    if card.decline_code:
        text += f" ({card.decline_code})"
    return text


def _outcome_colour(card: TestCard) -> QColor | None:
    if card.outcome in ("success", "3ds_success"):
        return QColor("#2e8b57")
    if card.outcome in ("declined", "incorrect_number"):
        return QColor("#d04545")
    return None


class TestCardTableModel(RowTableModel[TestCard]):
    """Card number, brand and the outcome paying with it produces."""

    __test__ = False  # a Qt model, not a pytest test class

    def __init__(self, parent: Any = None) -> None:
        super().__init__([
            Column("Card number", lambda c: c.number, width=170),
            Column("Brand", lambda c: c.brand.title(), width=100),
            Column("Expected outcome", expected_outcome, tooltip=lambda c: c.description,
                   foreground=_outcome_colour, width=240),
        ], key=lambda card: card.digits, parent=parent)


class TestCardsPanel(QWidget):
    """Lists the cards; Copy (or a double click) puts the selected number on the clipboard."""

    __test__ = False

    def __init__(self, cards: Sequence[TestCard], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("testCardsPanel")
        self.model = TestCardTableModel(self)
        self.model.set_rows(cards)
        self.table = QTableView()
        self.table.setObjectName("testCardsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        # Every card and its whole outcome always show: columns as wide as their text, and
        # the table never shorter than its rows (a scroll area around the lab scrolls).
        header = self.table.horizontalHeader()
        for number in range(self.model.columnCount()):
            header.setSectionResizeMode(number, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.copy_button = QPushButton("Copy number")
        self.copy_button.setObjectName("copyCardButton")
        self.copy_button.setToolTip("Copy the selected card number (or double-click it)")
        self.hint = QLabel("Any future expiry date and any CVC work.")
        self.hint.setObjectName("formIntro")
        self.hint.setWordWrap(True)
        foot = QHBoxLayout()
        foot.addWidget(self.hint, 1)
        foot.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(foot)
        self._fit_table()
        self.copy_button.clicked.connect(self.copy_selected)
        self.table.doubleClicked.connect(lambda _index: self.copy_selected())
        if cards:
            self.table.selectRow(0)

    def _fit_table(self) -> None:
        table = self.table
        table.resizeColumnsToContents()
        table.resizeRowsToContents()
        frame = 2 * table.frameWidth()
        header = table.horizontalHeader()
        width = sum(header.sectionSize(n) for n in range(header.count())) + frame
        height = header.sizeHint().height() + frame + sum(
            table.rowHeight(row) for row in range(self.model.rowCount()))
        table.setMinimumSize(width, height)

    def selected_card(self) -> TestCard | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def copy_selected(self) -> str | None:
        """Copy the selected card's digits; returns them (None if nothing is selected)."""
        card = self.selected_card()
        if card is None:
            return None
        QGuiApplication.clipboard().setText(card.digits)
        self.hint.setText(f"Copied {card.number}: {expected_outcome(card).lower()}. "
                          "Any future expiry date and any CVC work.")
        return card.digits
