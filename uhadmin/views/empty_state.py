"""Guidance over an empty table: what belongs there and what to do first, with buttons."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
)


class EmptyState(QFrame):
    """Laid over a table's viewport while the table shows no rows; follows its size."""

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view.viewport())
        self.setObjectName("emptyState")
        self._viewport = view.viewport()
        self.heading = QLabel("")
        self.heading.setObjectName("emptyStateHeading")
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel("")
        self.text.setObjectName("emptyStateText")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # never interpret typed titles
        self._buttons = QHBoxLayout()
        self._buttons.addStretch(1)
        self._buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(48, 0, 48, 0)  # shorter lines read better on a wide table
        column.addStretch(1)
        column.addWidget(self.heading)
        column.addWidget(self.text)
        column.addSpacing(8)
        column.addLayout(self._buttons)
        column.addStretch(2)
        self.buttons: list[QToolButton] = []
        self._viewport.installEventFilter(self)
        self.hide()

    def show_guidance(self, heading: str, text: str,
                      actions: Sequence[QAction] = ()) -> None:
        self.heading.setText(heading)
        self.text.setText(text)
        for button in self.buttons:
            self._buttons.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setObjectName("emptyStateButton")
            self._buttons.insertWidget(self._buttons.count() - 1, button)
            self.buttons.append(button)
        self.setGeometry(self._viewport.rect())
        self.show()
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._viewport and event.type() == QEvent.Type.Resize:
            self.setGeometry(self._viewport.rect())
        return False
