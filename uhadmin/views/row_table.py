"""A passive table model over a list of frozen rows, driven by one list of column specs."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt

from uhadmin.views.flat_table import FlatTableModel

Row = TypeVar("Row")
RowRole = Qt.ItemDataRole.UserRole + 1  # the frozen row object itself
SortRole = Qt.ItemDataRole.UserRole + 2  # the raw value behind the display text

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ROW = int(RowRole)
_SORT = int(SortRole)


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One column: header, display text, and optionally tooltip, sort value, alignment."""

    header: str
    display: Callable[[Row], str]
    tooltip: Callable[[Row], str] | None = None
    sort_value: Callable[[Row], Any] | None = None
    align_right: bool = False
    width: int = 120
    foreground: Callable[[Row], Any] | None = None  # a QColor or None


class RowTableModel(FlatTableModel, Generic[Row]):
    """Rows are frozen values; `key(row)` identifies a row across updates (no I/O here)."""

    def __init__(self, columns: Sequence[Column[Row]], key: Callable[[Row], Hashable],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns = tuple(columns)
        self._key = key
        self._rows: list[Row] = []

    # --- Qt ------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and int(role) == _DISPLAY \
                and 0 <= section < len(self.columns):
            return self.columns[section].header
        return None

    def cell(self, number: int, section: int, role: int) -> Any:
        if not (0 <= number < len(self._rows) and 0 <= section < len(self.columns)):
            return None
        row = self._rows[number]
        column = self.columns[section]
        if role == _DISPLAY:
            return column.display(row)
        if role == _TOOLTIP:
            return column.tooltip(row) if column.tooltip else None
        if role == _ROW:
            return row
        if role == _SORT:
            return column.sort_value(row) if column.sort_value else column.display(row)
        if role == _ALIGN and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == _FOREGROUND and column.foreground is not None:
            return column.foreground(row)
        return None

    # --- rows ------------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[Row]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[Row]:
        return list(self._rows)

    def row_at(self, row: int) -> Row:
        return self._rows[row]

    def row_of(self, key: Hashable) -> int | None:
        for number, row in enumerate(self._rows):
            if self._key(row) == key:
                return number
        return None

    def upsert(self, row: Row, *, at_top: bool = True) -> None:
        """Replace the row with the same key in place, or insert it (at the top by default)."""
        number = self.row_of(self._key(row))
        if number is not None:
            self._rows[number] = row
            self.dataChanged.emit(self.index(number, 0),
                                  self.index(number, len(self.columns) - 1))
            return
        position = 0 if at_top else len(self._rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.insert(position, row)
        self.endInsertRows()

    def remove(self, key: Hashable) -> bool:
        number = self.row_of(key)
        if number is None:
            return False
        self.beginRemoveRows(QModelIndex(), number, number)
        del self._rows[number]
        self.endRemoveRows()
        return True
