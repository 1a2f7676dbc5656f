"""WorkspaceTab: what every main-window tab is, so new tabs (sync, reconcile, checkout) plug in."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from uhadmin.errors import UhadminError
from uhadmin.views.messages import friendly_text
from uhadmin.views.tasks import TaskRunner


class WorkspaceTab(QWidget):
    """A tab of the main window. Subclasses override what they support.

    The window connects the signals: `status_message` goes to the status bar,
    `progress_*` drive the status-bar progress panel (its Cancel calls `cancel_progress`),
    and `menu_actions()` land in a menu named after the tab. F5 calls `refresh` (which says
    what it reloaded), Ctrl+F `focus_search`, Ctrl+E/Enter `edit_selected`, Esc
    `clear_search` when no work is running; switching to the tab calls `focus_first`.
    `count_changed(n)` shows a count in the tab's title, e.g. "Review queue (4)".
    in QSettings under the tab's `state_key`; `shutdown` cancels its tasks on close.
    """

    status_message = Signal(str)
    progress_started = Signal(str, int)  # text, total (0 = unknown)
    progress_advanced = Signal(int, int, str)  # done, total, text
    progress_finished = Signal()
    count_changed = Signal(int)

    state_key = "tab"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = TaskRunner(self.show_error, self)

    # --- the window calls these -------------------------------------------------------

    def menu_actions(self) -> list[QAction | None]:
        """Actions for this tab's menu; None draws a separator."""
        return []

    def toolbar_actions(self) -> list[QAction]:
        return []

    def start(self) -> None:
        """Load what the tab shows (called once the window is built)."""

    def refresh(self) -> None:
        """Reload what the tab shows (F5)."""

    def focus_search(self) -> bool:
        """Put the cursor in the tab's search box; False if it has none."""
        return False

    def focus_first(self) -> None:
        """Put the focus where the next key is expected once the tab is in front."""
        self.setFocus()

    def clear_search(self) -> bool:
        """Esc: empty the tab's search box; False if there was nothing to clear."""
        return False

    def edit_selected(self) -> bool:
        """Open the editor for the selection; False if the tab has nothing to edit."""
        return False

    def cancel_progress(self) -> None:
        """The person pressed Cancel on this tab's long work."""

    def save_state(self, settings: QSettings) -> None:
        """Persist layout (splitters, headers) under `self.state_key`."""

    def restore_state(self, settings: QSettings) -> None:
        """Restore what `save_state` wrote; missing keys leave the defaults."""

    def shutdown(self) -> None:
        """The window is closing: cancel every task of this tab."""
        self.tasks.cancel_all()

    # --- helpers for subclasses ------------------------------------------------------------

    def show_error(self, error: UhadminError) -> None:
        """An expected error: say it in the status bar (views add inline text where apt)."""
        self.status_message.emit(friendly_text(error))
