"""The status bar's permanent items: mode badge, connection state and long-work progress."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from uhadmin.views.workspace import WorkspaceTab

MODE_TEXT = {
    "sandbox": ("SANDBOX", "No Stripe key: everything goes to the offline sandbox. "
                           "Nothing reaches Stripe."),
    "test": ("TEST", "Stripe test mode: test cards only, no real money."),
    "live": ("LIVE", "LIVE MODE: real products, real cards, real money."),
}


class ModeBadge(QLabel):
    """Always visible: which Stripe this window talks to. Live is an alarming red."""

    def __init__(self, mode: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modeBadge")
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        text, tip = MODE_TEXT[mode]
        self.mode = mode
        self.setText(text)
        self.setToolTip(tip)
        self.setProperty("mode", mode)
        self.style().unpolish(self)
        self.style().polish(self)


class ConnectionIndicator(QLabel):
    """Online / offline with N changes queued for Stripe. Until something talks to Stripe
    the state is honestly "not contacted yet"; the sync service reports with `set_online`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionState")
        self.online: bool | None = None
        self.queued = 0
        self.detail = ""
        self.warning = ""
        self._render()

    def set_warning(self, warning: str) -> None:
        """A state that outranks online/offline (e.g. the key is another account's)."""
        self.warning = warning
        self._render()

    def set_online(self, online: bool | None, detail: str = "") -> None:
        self.online, self.detail = online, detail
        self._render()

    def set_queued(self, queued: int) -> None:
        self.queued = queued
        self._render()

    def _render(self) -> None:
        queued = (f"{self.queued:,} change{'s' if self.queued != 1 else ''} queued"
                  if self.queued else "nothing queued")
        if self.warning:
            state, text = "offline", f"⚠ {self.warning} · {queued}"
        elif self.online is None:
            state, text = "unknown", f"Stripe not contacted yet · {queued}"
        elif self.online:
            state, text = "online", f"● Online · {queued}"
        else:
            state, text = "offline", f"● Offline · {queued}"
        self.setText(text)
        self.setToolTip(self.detail or "Changes queued are listing edits Stripe has not "
                                       "received yet; a sync pushes them.")
        self.setProperty("state", state)
        self.style().unpolish(self)
        self.style().polish(self)


class ProgressPanel(QWidget):
    """Status-bar progress for long work: text, bar, done/total, rate, ETA, and Cancel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("progressCancel")
        self.cancel_button.setToolTip("Stop this work; what is done stays done (Esc)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.owner: WorkspaceTab | None = None
        self._started = 0.0
        self.cancel_button.clicked.connect(self.cancel)
        self.hide()

    def begin(self, owner: WorkspaceTab | None, text: str, total: int = 0) -> None:
        self.owner = owner
        self._started = time.monotonic()
        self.label.setText(text)
        self.label.setMinimumWidth(0)
        self.bar.setRange(0, total)  # 0..0 is Qt's busy indicator for unknown totals
        self.bar.setValue(0)
        self.cancel_button.setEnabled(owner is not None)
        self.show()

    def advance(self, done: int, total: int, text: str = "") -> None:
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        parts = [text or self.label.text().split(" — ")[0], f"{done:,}/{total:,}"]
        if done and total:
            remaining = (total - done) / rate if rate else 0
            parts.append(f"{rate:,.1f}/s, ETA {_duration(remaining)}")
        self.label.setText(" — ".join(parts))
        # The text only widens during one run: the bar stays put instead of jumping with
        # each new rate and ETA, and the status bar is not laid out again for every step
        # (a relayout and repaint of the window's foot, 30 times a second in a sync).
        self.label.setMinimumWidth(max(self.label.minimumWidth(), self.label.sizeHint().width()))

    def finish(self) -> None:
        self.owner = None
        self.hide()

    def cancel(self) -> None:
        if self.owner is not None:
            self.owner.cancel_progress()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s"
