"""Toolbar, menu and window icons: Material Design Icons via qtawesome, coloured per palette."""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib import resources

from PySide6.QtGui import QAction, QIcon, QPalette
from PySide6.QtWidgets import QApplication

# qtawesome speaks Qt through qtpy, which would pick PyQt5 first if one happens to be
# installed; two Qt bindings in one process crash. Name ours before qtawesome loads.
os.environ.setdefault("QT_API", "pyside6")

import qtawesome  # noqa: E402 - needs QT_API set above

# One name per command, so the same command looks the same in every toolbar and menu.
ICON_NAMES = {
    "new": "mdi6.plus-box-outline",
    "edit": "mdi6.pencil-outline",
    "refresh": "mdi6.refresh",
    "sync": "mdi6.cloud-sync-outline",
    "settings": "mdi6.cog-outline",
    "approve": "mdi6.check-circle-outline",
    "reject": "mdi6.close-circle-outline",
    "archive": "mdi6.archive-outline",
    "relist": "mdi6.archive-arrow-up-outline",
    "draft": "mdi6.file-undo-outline",
    "submit": "mdi6.send-outline",
    "delete": "mdi6.delete-outline",
    "shortcuts": "mdi6.keyboard-outline",
    "about": "mdi6.information-outline",
    "find": "mdi6.magnify",
    "quit": "mdi6.exit-to-app",
}


def themed_icon(name: str, palette: QPalette | None = None) -> QIcon:
    """The named icon drawn in the palette's text colour (and its disabled colour)."""
    palette = palette or QApplication.palette()
    role = QPalette.ColorRole.ButtonText
    return qtawesome.icon(
        ICON_NAMES[name],
        color=palette.color(QPalette.ColorGroup.Active, role).name(),
        color_disabled=palette.color(QPalette.ColorGroup.Disabled, role).name())


def apply_icons(actions: Iterable[tuple[QAction, str]], palette: QPalette | None = None) -> None:
    """Give each action its icon in the current palette (call again after a theme change)."""
    for action, name in actions:
        action.setIcon(themed_icon(name, palette))


def app_icon() -> QIcon:
    """The application icon (window title bar, task bar, About)."""
    path = resources.files("uhadmin.resources") / "icons" / "uhadmin.svg"
    return QIcon(str(path))
