"""Asks why listings are rejected; the reason is required and goes to the seller and the audit."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

MAX_REASON_CHARS = 500

# Enter in a multi-line box types a new line, so Ctrl+Enter confirms (both Return and the
# keypad's Enter). The shortcuts page lists these.
CONFIRM_KEYS = ("Ctrl+Return", "Ctrl+Enter")
_CONFIRM_QT_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)

COMMON_REASONS = ("Prohibited item", "Price looks wrong", "Missing or misleading photo",
                  "Duplicate listing", "Contact details missing")


class ReasonDialog(QDialog):
    """Open with `open()`; `reason_given(text)` fires when the person confirms."""

    reason_given = Signal(str)

    def __init__(self, count: int, parent: QWidget | None = None, *, skipped: int = 0) -> None:
        super().__init__(parent)
        self.setObjectName("reasonDialog")
        noun = "listing" if count == 1 else f"{count:,} listings"
        self.setWindowTitle(f"Reject {noun}")
        self.setMinimumWidth(440)
        question = ("Why is this listing rejected?" if count == 1
                    else f"Why are these {noun} rejected?")
        text = f"{question} The seller sees this reason. Ctrl+Enter rejects."
        if skipped:
            text += (f" The other {skipped:,} selected "
                     f"{'is' if skipped == 1 else 'are'} not pending review and stay "
                     "as they are.")
        intro = QLabel(text)
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
        self.ok_button.setText("Reject" if count == 1 else f"Reject {count:,}")
        self.ok_button.setToolTip("Reject (Ctrl+Enter)")
        # The text box takes Ctrl+Return as a key press (a QShortcut never sees it), so
        # the dialog watches the box's keys.
        self.reason_edit.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.reason_edit)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.reason_edit.textChanged.connect(self._revalidate)
        self.buttons.accepted.connect(self._confirm)
        self.buttons.rejected.connect(self.reject)
        self._revalidate()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.reason_edit and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() in _CONFIRM_QT_KEYS
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self._confirm()
            return True
        return super().eventFilter(watched, event)

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
