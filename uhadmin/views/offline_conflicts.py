"""Conflicts from the offline merge, side by side (base, theirs, mine): take one or edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from uhadmin.domain.offline import FieldConflict, OfflineOperation
from uhadmin.errors import UhadminError, ValidationError
from uhadmin.views.messages import friendly_text
from uhadmin.views.tasks import TaskRunner


class ConflictResolver(Protocol):
    """What the view needs of the offline service."""

    async def conflicts(self) -> list[OfflineOperation]: ...
    async def resolve(self, operation_id: int, *, take: Literal["mine", "theirs"],
                      values: Mapping[str, Any] | None = None,
                      actor: str) -> OfflineOperation: ...


def shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def parsed(conflict: FieldConflict, text: str) -> Any:
    """The edited text as the field's type (taken from the values it conflicts with)."""
    sample = next((v for v in (conflict.mine, conflict.theirs, conflict.base) if v is not None),
                  "")
    if isinstance(sample, (list, tuple)):
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(sample, int) and not isinstance(sample, bool):
        try:
            return int(text.strip())
        except ValueError:
            raise ValidationError.single(conflict.field, "must be a whole number") from None
    return text


class ConflictView(QDialog):
    """One row per conflicting field: base | theirs | mine (editable). "Take theirs" keeps
    the catalog; "Take mine" writes the mine column as it stands, edits included."""

    def __init__(self, resolver: ConflictResolver, *, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictView")
        self.setWindowTitle("Offline changes in conflict")
        self.resize(820, 420)
        self._resolver = resolver
        self._actor = actor
        self._operations: list[OfflineOperation] = []
        self.editors: dict[str, QLineEdit] = {}
        self.tasks = TaskRunner(self._show_error, self)
        self.list = QListWidget()
        self.list.setObjectName("conflictList")
        self.list.currentRowChanged.connect(self._show_operation)
        self.note = QLabel()
        self.note.setObjectName("conflictNote")
        self.note.setWordWrap(True)
        self.grid_holder = QWidget()
        self.grid = QGridLayout(self.grid_holder)
        self.error = QLabel()
        self.error.setObjectName("conflictError")
        self.error.setStyleSheet("color: #b00020;")
        self.take_theirs = QPushButton("Take &theirs")
        self.take_theirs.setObjectName("takeTheirs")
        self.take_mine = QPushButton("Take &mine (as edited)")
        self.take_mine.setObjectName("takeMine")
        self.take_theirs.clicked.connect(self.on_take_theirs)
        self.take_mine.clicked.connect(self.on_take_mine)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.take_theirs)
        buttons.addWidget(self.take_mine)
        side = QVBoxLayout()
        side.addWidget(self.note)
        side.addWidget(self.grid_holder)
        side.addStretch(1)
        side.addWidget(self.error)
        side.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(side, 3)

    async def load(self) -> None:
        self._operations = await self._resolver.conflicts()
        self.list.clear()
        for operation in self._operations:
            fields = ", ".join(c.field for c in operation.conflicts)
            QListWidgetItem(f"Listing {operation.listing_id}: {fields}", self.list)
        has_any = bool(self._operations)
        self.take_mine.setEnabled(has_any)
        self.take_theirs.setEnabled(has_any)
        if has_any:
            self.list.setCurrentRow(0)
        else:
            self._clear_grid()
            self.note.setText("No conflicts: every offline change has been sent.")

    @property
    def current(self) -> OfflineOperation | None:
        row = self.list.currentRow()
        return self._operations[row] if 0 <= row < len(self._operations) else None

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.editors.clear()

    def _show_operation(self, _row: int) -> None:
        self._clear_grid()
        self.error.clear()
        operation = self.current
        if operation is None:
            return
        self.note.setText(f"Listing {operation.listing_id}, changed offline by "
                          f"{operation.actor}: {operation.note}")
        for column, title in enumerate(("Field", "Base (you saw)", "Theirs (catalog now)",
                                        "Mine (edit to merge)")):
            header = QLabel(f"<b>{title}</b>")
            self.grid.addWidget(header, 0, column)
        for row, conflict in enumerate(operation.conflicts, start=1):
            self.grid.addWidget(QLabel(conflict.field), row, 0)
            for column, value in ((1, conflict.base), (2, conflict.theirs)):
                label = QLabel(shown(value))
                label.setObjectName(f"{'base' if column == 1 else 'theirs'}_{conflict.field}")
                label.setWordWrap(True)
                self.grid.addWidget(label, row, column)
            editor = QLineEdit(shown(conflict.mine))
            editor.setObjectName(f"mine_{conflict.field}")
            self.editors[conflict.field] = editor
            self.grid.addWidget(editor, row, 3)

    @asyncSlot()
    async def on_take_theirs(self) -> None:
        await self.take("theirs")

    @asyncSlot()
    async def on_take_mine(self) -> None:
        await self.take("mine")

    async def take(self, side: Literal["mine", "theirs"]) -> None:
        operation = self.current
        if operation is None:
            return
        values = None
        try:
            if side == "mine":
                values = {c.field: parsed(c, self.editors[c.field].text())
                          for c in operation.conflicts}
            settled = await self.tasks.run("resolve", self._resolver.resolve(
                operation.id, take=side, values=values, actor=self._actor),
                self.take_mine, self.take_theirs)
        except UhadminError as error:  # the edited text did not parse: nothing was sent
            self._show_error(error)
            return
        if settled is not None:  # else refused (shown) and kept for another try
            await self.load()

    def _show_error(self, error: UhadminError) -> None:
        self.error.setText(friendly_text(error))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.tasks.cancel_all()
        super().closeEvent(event)
