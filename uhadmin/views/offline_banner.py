"""The banner above the tabs while uhadmin works from the offline copy of the catalog."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from uhadmin.domain.offline import OfflineStatus


def copy_time(when: datetime | None) -> str:
    """"14:02" today, "3 Dec 14:02" before; local time, as the reviewer's clock shows."""
    if when is None:
        return "an empty copy (never refreshed)"
    local = when.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return f"the copy of {local:%H:%M}"
    return f"the copy of {local:%-d %b %H:%M}"


def banner_text(status: OfflineStatus) -> str:
    changes = "1 change" if status.pending == 1 else f"{status.pending} changes"
    text = (f"Working offline from {copy_time(status.refreshed_at)}; {changes} will be sent "
            "when the catalog is back")
    if status.conflicts:
        text += f" ({status.conflicts} conflict{'s' if status.conflicts != 1 else ''} "
        text += "to settle)"
    return text


class OfflineBanner(QFrame):
    """Says the app works from the copy, how old it is and what waits; Retry and Conflicts."""

    retry_requested = Signal()
    conflicts_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offlineBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # Amber like a warning, readable in light and dark themes (dark text on it).
        self.setStyleSheet("#offlineBanner { background: #fff3cd; border: 1px solid #e0b04a; }"
                           " #offlineBanner QLabel { color: #4a3500; }")
        self.message = QLabel()
        self.message.setObjectName("offlineMessage")
        self.message.setWordWrap(True)
        self.retry_button = QPushButton("&Retry now")
        self.retry_button.setObjectName("offlineRetry")
        self.retry_button.setToolTip("Try to reach the shared catalog now (it is retried "
                                     "in the background anyway)")
        self.conflicts_button = QPushButton("Conflicts…")
        self.conflicts_button.setObjectName("offlineConflicts")
        self.retry_button.clicked.connect(self.retry_requested)
        self.conflicts_button.clicked.connect(self.conflicts_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.conflicts_button)
        layout.addWidget(self.retry_button)
        self.conflicts_button.hide()
        self.hide()

    def show_offline(self, status: OfflineStatus) -> None:
        self.message.setText(banner_text(status))
        self.retry_button.show()
        self._show_conflicts(status.conflicts)
        self.show()

    def show_back(self, text: str, conflicts: int) -> None:
        """Online again: say what the push did; stays only while conflicts wait."""
        self.message.setText(text)
        self.retry_button.hide()
        self._show_conflicts(conflicts)
        self.setVisible(conflicts > 0)

    def _show_conflicts(self, conflicts: int) -> None:
        self.conflicts_button.setText(f"Con&flicts ({conflicts})…")
        self.conflicts_button.setVisible(conflicts > 0)


def install_banner(window: QMainWindow) -> OfflineBanner:
    """Put a (hidden) banner above the window's central widget."""
    central = window.takeCentralWidget()
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    banner = OfflineBanner(holder)
    layout.addWidget(banner)
    if central is not None:
        layout.addWidget(central, 1)
    window.setCentralWidget(holder)
    return banner
