"""How the GUI tells people things: friendly messages for expected errors, details for bugs."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from uhadmin.errors import ConflictError, UhadminError, ValidationError

log = logging.getLogger("uhadmin.gui")


def friendly_text(error: UhadminError) -> str:
    """One readable paragraph for an expected error (no traceback, no class names)."""
    if isinstance(error, ValidationError):
        return "Please fix: " + "; ".join(f"{p.field} - {p.rule}" for p in error.problems)
    if isinstance(error, ConflictError):
        return str(error)
    text = str(error) or type(error).__name__
    return text[0].upper() + text[1:]


def show_message(parent: QWidget | None, title: str, text: str, *,
                 icon: QMessageBox.Icon = QMessageBox.Icon.Information,
                 details: str = "") -> QMessageBox:
    """Open a window-modal message box without blocking the event loop (open(), not exec())."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("uhadminMessage")
    box.setTextFormat(Qt.TextFormat.PlainText)  # texts quote titles people typed
    if details:
        box.setDetailedText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()
    return box


def ask_confirmation(parent: QWidget | None, title: str, text: str,
                     on_yes: Callable[[], None], *, yes_text: str = "OK") -> QMessageBox:
    """Ask yes/no without blocking; `on_yes` runs only if the person confirms."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton,
                      parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(yes)  # Enter confirms, Esc cancels
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)

    def finished(_result: int) -> None:
        if box.clickedButton() is yes:
            on_yes()

    box.finished.connect(finished)
    box.open()
    return box


class UnexpectedErrorHook:
    """sys.excepthook for the GUI: log the traceback and show it in a details dialog.

    Expected errors never reach here (views show them); what does is a bug, so the person
    gets the details to report and the app keeps running.
    """

    def __init__(self, parent_provider: Callable[[], QWidget | None]) -> None:
        self._parent_provider = parent_provider
        self._previous = sys.excepthook
        self.last_box: QMessageBox | None = None

    def install(self) -> None:
        sys.excepthook = self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous

    def __call__(self, kind: type[BaseException], error: BaseException,
                 tb: TracebackType | None) -> None:
        details = "".join(traceback.format_exception(kind, error, tb))
        log.error("unexpected error in the GUI:\n%s", details)
        if isinstance(error, UhadminError):
            text = friendly_text(error)
        else:
            text = ("Something went wrong that uhadmin did not expect. Your data is safe; "
                    "the action did not finish.\n\n" + f"{kind.__name__}: {error}")
        self.last_box = show_message(self._parent_provider(), "Unexpected error", text,
                                     icon=QMessageBox.Icon.Critical, details=details)
