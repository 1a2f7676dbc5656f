"""The checkout lab's table models: the history of attempts, listings to pick, the cart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor

from uhadmin.domain import CheckoutAttempt, Listing
from uhadmin.money import format_money
from uhadmin.views.checkout_attempt_text import (
    OUTCOME_COLOURS,
    amount_text,
    card_text,
    decline_reason,
    listings_text,
    outcome_text,
)
from uhadmin.views.listing_table import SYNC_LABELS, format_time
from uhadmin.views.row_table import Column, RowTableModel

MAX_QUANTITY = 99
STRIPE_CALLS_HEADER = "Stripe"


def attempt_columns() -> list[Column[CheckoutAttempt]]:
    return [
        Column("#", lambda a: str(a.id), sort_value=lambda a: a.id, align_right=True, width=44),
        Column("Created", lambda a: format_time(a.created_at), width=120),
        Column("Outcome", outcome_text, width=80,
               foreground=lambda a: QColor(OUTCOME_COLOURS[a.outcome])
               if a.outcome in OUTCOME_COLOURS else None),
        Column("Amount", amount_text, align_right=True, width=90),
        Column("Listings", listings_text, tooltip=listings_text, width=220),
        Column("Card", card_text, tooltip=card_text, width=150),
        Column("Decline reason", decline_reason, tooltip=decline_reason, width=200),
        Column("Session", lambda a: a.session_id or "—", tooltip=lambda a: a.url or "",
               width=200),
        Column("Expires", lambda a: format_time(a.expires_at), width=120),
        Column("Tester", lambda a: a.tester, width=120),
        # One click opens the Stripe log at this attempt's calls (CheckoutTab.clicked).
        Column(STRIPE_CALLS_HEADER, lambda a: "calls ›", width=60),
    ]


class CheckoutAttemptTableModel(RowTableModel[CheckoutAttempt]):
    """The lab's history: one row per Checkout Session, newest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(attempt_columns(), key=lambda attempt: attempt.id, parent=parent)


class PickListingTableModel(RowTableModel[Listing]):
    """Published listings a session can sell."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__([
            Column("Title", lambda x: x.title, tooltip=lambda x: x.title, width=220),
            Column("Price", lambda x: format_money(x.price_minor, x.currency),
                   align_right=True, width=90),
            Column("Sync", lambda x: SYNC_LABELS[x.sync_state], width=90),
        ], key=lambda listing: listing.id, parent=parent)


class CheckoutCartModel(QAbstractTableModel):
    """The lines of the next session: listing, unit price, quantity (editable), amount."""

    HEADERS = ("Listing", "Unit price", "Qty", "Amount")
    QUANTITY_COLUMN = 2

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lines: list[tuple[Listing, int]] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._lines)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == self.QUANTITY_COLUMN:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._lines):
            return None
        listing, quantity = self._lines[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == self.QUANTITY_COLUMN:
                return quantity if role == Qt.ItemDataRole.EditRole else str(quantity)
            return [listing.title, format_money(listing.price_minor, listing.currency), "",
                    format_money(listing.price_minor * quantity, listing.currency)][column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == self.QUANTITY_COLUMN:
            return f"Double-click to change (1 to {MAX_QUANTITY})"
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != self.QUANTITY_COLUMN \
                or role != Qt.ItemDataRole.EditRole:
            return False
        try:
            quantity = int(str(value).strip())
        except ValueError:
            return False
        if not 1 <= quantity <= MAX_QUANTITY:
            return False
        listing, _ = self._lines[index.row()]
        self._lines[index.row()] = (listing, quantity)
        self.dataChanged.emit(self.index(index.row(), 0),
                              self.index(index.row(), len(self.HEADERS) - 1))
        return True

    def add(self, listing: Listing, quantity: int = 1) -> None:
        """Add a listing, or one more of it if it is already there."""
        for row, (existing, count) in enumerate(self._lines):
            if existing.id == listing.id:
                self.setData(self.index(row, self.QUANTITY_COLUMN),
                             min(count + quantity, MAX_QUANTITY))
                return
        self.beginInsertRows(QModelIndex(), len(self._lines), len(self._lines))
        self._lines.append((listing, quantity))
        self.endInsertRows()

    def remove_rows(self, rows: Sequence[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self._lines):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._lines[row]
                self.endRemoveRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._lines.clear()
        self.endResetModel()

    def lines(self) -> list[tuple[int, int]]:
        """(listing id, quantity) pairs, as CheckoutService.create takes them."""
        return [(listing.id, quantity) for listing, quantity in self._lines]

    def total_text(self) -> str:
        if not self._lines:
            return "No listings chosen"
        currencies = {listing.currency for listing, _ in self._lines}
        if len(currencies) > 1:
            return "Mixed currencies: a session sells in one currency"
        total = sum(listing.price_minor * quantity for listing, quantity in self._lines)
        return f"Total {format_money(total, currencies.pop())}"
