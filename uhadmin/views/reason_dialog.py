"""Asks why listings are rejected; the reason is required and goes to the seller and the audit."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

MAX_REASON_CHARS = 500

COMMON_REASONS = ("Prohibited item", "Price looks wrong", "Missing or misleading photo",
                  "Duplicate listing", "Contact details missing")


class ReasonDialog(QDialog):
    """Open with `open()`; `reason_given(text)` fires when the person confirms."""

    reason_given = Signal(str)

    def __init__(self, count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reasonDialog")
        noun = "listing" if count == 1 else f"{count} listings"
        self.setWindowTitle(f"Reject {noun}")
        self.setMinimumWidth(440)
        intro = QLabel(f"Why is this {noun} rejected? The seller sees this reason.")
        intro.setWordWrap(True)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setObjectName("reasonEdit")
        self.reason_edit.setPlaceholderText("e.g. " + "; ".join(COMMON_REASONS[:3]))
        self.reason_edit.setTabChangesFocus(True)
        self.problem = QLabel("")
        self.problem.setProperty("problem", True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Reject")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.reason_edit)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.reason_edit.textChanged.connect(self._revalidate)
        self.buttons.accepted.connect(self._confirm)
        self.buttons.rejected.connect(self.reject)
        self._revalidate()

    def reason(self) -> str:
        return self.reason_edit.toPlainText().strip()

    def _revalidate(self) -> None:
        reason = self.reason()
        if not reason:
            self.problem.setText("A reason is required")
        elif len(reason) > MAX_REASON_CHARS:
            self.problem.setText(f"At most {MAX_REASON_CHARS} characters ({len(reason)} now)")
        else:
            self.problem.setText("")
        self.ok_button.setEnabled(not self.problem.text())

    def _confirm(self) -> None:
        if not self.ok_button.isEnabled():
            return
        self.reason_given.emit(self.reason())
        self.accept()
