"""The bar over a paged table that offers "Select all N matching" once every loaded row is."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from uhadmin.views.bulk_actions import listings_noun


class SelectMatchingBar(QWidget):
    """Hidden until all loaded rows are selected and more match than are loaded; then it
    offers the whole match (Gmail's "Select all conversations that match this search"),
    and once chosen says so and offers to clear it."""

    select_matching = Signal()
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("selectMatchingBar")
        self.label = QLabel("")
        self.label.setObjectName("selectMatchingText")
        self.button = QPushButton("")
        self.button.setObjectName("selectMatchingButton")
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.addWidget(self.label)
        row.addWidget(self.button)
        row.addStretch(1)
        self.chosen = False
        self.button.clicked.connect(
            lambda: self.clear_requested.emit() if self.chosen else self.select_matching.emit())
        self.hide()

    def offer(self, loaded: int, total: int) -> None:
        """Every loaded row is selected: offer all `total` matching."""
        self.chosen = False
        self.label.setText(f"All {listings_noun(loaded)} loaded are selected.")
        self.button.setText(f"Select all {total:,} matching (Ctrl+Shift+A)")
        self.show()

    def show_chosen(self, total: int) -> None:
        self.chosen = True
        self.label.setText(f"All {listings_noun(total)} matching this search and these "
                           "filters are selected; actions apply to every one.")
        self.button.setText("Clear selection")
        self.show()

    def withdraw(self) -> None:
        self.chosen = False
        self.hide()
