"""The Sync tab's warning when the key points at another Stripe account, with the way out."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget


class AccountBanner(QFrame):
    """Says which accounts differ; "Use this Stripe account…" asks before re-pointing the
    catalog (a deliberate choice), then emits `use_requested`."""

    use_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#accountBanner { border: 1px solid #d04545; border-radius: 4px; }")
        self.label = QLabel("")
        self.label.setProperty("problem", True)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.use_button = QPushButton("Use this Stripe account…")
        self.use_button.setObjectName("useAccountButton")
        self.use_button.setToolTip("Sync this catalog with the account the key points at "
                                   "from now on (asks first)")
        row = QHBoxLayout(self)
        row.addWidget(self.label, 1)
        row.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignTop)
        self.confirm_box: QMessageBox | None = None
        self.use_button.clicked.connect(self.confirm)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    def confirm(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Use this Stripe account?",
                          "From now on this catalog syncs with the account the API key "
                          "points at. Products already made in the other account stay "
                          "there; run Reconcile afterwards to see what the new account "
                          "lacks.", QMessageBox.StandardButton.Yes
                          | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("useAccountConfirm")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText("Use this account")
        box.finished.connect(self._answered)
        self.confirm_box = box
        box.open()  # never exec() inside the event loop's coroutines

    def _answered(self, result: int) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is not None and box.clickedButton() is box.button(
                QMessageBox.StandardButton.Yes):
            self.use_requested.emit()
