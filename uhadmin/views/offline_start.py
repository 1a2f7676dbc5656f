"""At start without the catalog: offer the offline copy, a retry or the settings, and say which."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from uhadmin.domain.offline import OfflineStatus
from uhadmin.views.offline_banner import copy_time


class CatalogUnreachableDialog(QDialog):
    """Emits `chosen` with "offline", "retry" or "settings"; never leaves an empty window."""

    chosen = Signal(str)

    def __init__(self, error: str, copy: OfflineStatus | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("catalogUnreachable")
        self.setWindowTitle("The shared catalog is out of reach")
        has_copy = copy is not None and copy.refreshed_at is not None
        intro = QLabel(f"uhadmin cannot reach the shared catalog:\n{error}")
        intro.setWordWrap(True)
        if copy is not None and copy.refreshed_at is not None:
            advice = (f"You can work offline from {copy_time(copy.refreshed_at)} "
                      f"({copy.listings:,} listings, {copy.pending} unsent changes): reviews "
                      "and edits are kept and sent when the catalog is back. Or retry, or "
                      "check the database URL in Settings.")
        else:
            advice = ("There is no offline copy of this catalog yet (one is made while "
                      "uhadmin is connected). Retry, or check the database URL in Settings.")
        detail = QLabel(advice)
        detail.setWordWrap(True)
        detail.setObjectName("unreachableAdvice")
        self.offline_button = QPushButton("Work &offline from the copy")
        self.offline_button.setObjectName("workOffline")
        self.offline_button.setEnabled(has_copy)
        self.retry_button = QPushButton("&Retry")
        self.retry_button.setObjectName("retryCatalog")
        self.settings_button = QPushButton("Open &settings")
        self.settings_button.setObjectName("openSettings")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(detail)
        for button, choice in ((self.offline_button, "offline"), (self.retry_button, "retry"),
                               (self.settings_button, "settings")):
            layout.addWidget(button)
            button.clicked.connect(lambda _checked=False, c=choice: self._choose(c))
        (self.offline_button if has_copy else self.retry_button).setDefault(True)

    def reject(self) -> None:
        """Escape or the close button would leave an empty window: one of the three
        choices is needed (closing the main window still quits)."""
        self.retry_button.setFocus()

    def _choose(self, choice: str) -> None:
        self.chosen.emit(choice)
        self.accept()
