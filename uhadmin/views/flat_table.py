"""A flat table model that Qt paints with one call into Python per cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QPersistentModelIndex,
    Qt,
)


class FlatTableModel(QAbstractTableModel):
    """Subclasses answer `cell(row, column, role)` (None: nothing) and the two counts.

    Every call from Qt into Python takes the GIL, which a bulk action's or a sync's worker
    thread holds most of the time, and each wait for it lengthened a repaint (#11, never
    stall). Qt's own `index` asks `rowCount` and `columnCount` (two calls per painted cell)
    and its own `multiData` asks `data` once per role (about seven): here each is one.
    """

    def cell(self, row: int, column: int, role: int) -> Any:
        raise NotImplementedError

    def index(self, row: int, column: int,
              parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        if parent.isValid() or not (0 <= row < self.rowCount()
                                    and 0 <= column < self.columnCount()):
            return QModelIndex()
        return self.createIndex(row, column)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return self.cell(index.row(), index.column(), int(role))

    def multiData(self, index: QModelIndex | QPersistentModelIndex,
                  roleDataSpan: QModelRoleDataSpan | QModelRoleData) -> None:
        # The span is a sequence at run time (len and indexing); the stubs do not say so.
        slots = ((roleDataSpan,) if isinstance(roleDataSpan, QModelRoleData)
                 else cast(Sequence[QModelRoleData], roleDataSpan))
        valid, row, column = index.isValid(), index.row(), index.column()
        for slot in slots:
            value = self.cell(row, column, slot.role()) if valid else None
            if value is None:
                slot.clearData()
            else:
                slot.setData(value)
