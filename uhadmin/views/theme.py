"""Light and dark palettes (Fusion style) and the stylesheet for badges and inline problems."""

from __future__ import annotations

from enum import StrEnum
from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


class Theme(StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def resolve(theme: Theme) -> Theme:
    if theme is Theme.SYSTEM:
        return Theme.DARK if system_prefers_dark() else Theme.LIGHT
    return theme


def _palette(dark: bool) -> QPalette:
    palette = QPalette()
    if dark:
        colours = {
            QPalette.ColorRole.Window: "#2b2d30",
            QPalette.ColorRole.WindowText: "#e6e6e6",
            QPalette.ColorRole.Base: "#1f2023",
            QPalette.ColorRole.AlternateBase: "#27292c",
            QPalette.ColorRole.ToolTipBase: "#3a3d41",
            QPalette.ColorRole.ToolTipText: "#f0f0f0",
            QPalette.ColorRole.PlaceholderText: "#8c8f94",
            QPalette.ColorRole.Text: "#e6e6e6",
            QPalette.ColorRole.Button: "#35373b",
            QPalette.ColorRole.ButtonText: "#e6e6e6",
            QPalette.ColorRole.BrightText: "#ff6b6b",
            QPalette.ColorRole.Link: "#6cb4ff",
            QPalette.ColorRole.LinkVisited: "#b48cff",
            QPalette.ColorRole.Highlight: "#2f65ca",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.Mid: "#4a4d52",
            QPalette.ColorRole.Dark: "#1a1b1d",
            QPalette.ColorRole.Light: "#45484d",
            QPalette.ColorRole.Midlight: "#3a3d41",
            QPalette.ColorRole.Shadow: "#000000",
        }
        disabled = "#7a7d82"
    else:
        colours = {
            QPalette.ColorRole.Window: "#f3f3f3",
            QPalette.ColorRole.WindowText: "#1b1b1b",
            QPalette.ColorRole.Base: "#ffffff",
            QPalette.ColorRole.AlternateBase: "#f5f7fa",
            QPalette.ColorRole.ToolTipBase: "#ffffdc",
            QPalette.ColorRole.ToolTipText: "#1b1b1b",
            QPalette.ColorRole.PlaceholderText: "#80848a",
            QPalette.ColorRole.Text: "#1b1b1b",
            QPalette.ColorRole.Button: "#e9e9e9",
            QPalette.ColorRole.ButtonText: "#1b1b1b",
            QPalette.ColorRole.BrightText: "#c00000",
            QPalette.ColorRole.Link: "#0b5cad",
            QPalette.ColorRole.LinkVisited: "#6a3aa8",
            QPalette.ColorRole.Highlight: "#2f65ca",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.Mid: "#b8b8b8",
            QPalette.ColorRole.Dark: "#9a9a9a",
            QPalette.ColorRole.Light: "#ffffff",
            QPalette.ColorRole.Midlight: "#e0e0e0",
            QPalette.ColorRole.Shadow: "#5a5a5a",
        }
        disabled = "#9a9a9a"
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return palette


def stylesheet() -> str:
    return (resources.files("uhadmin.resources") / "styles" / "app.qss").read_text("utf-8")


def apply_theme(app: QApplication, theme: Theme) -> Theme:
    """Apply `theme` (SYSTEM follows the platform) and return the one actually shown."""
    shown = resolve(theme)
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")  # the one style whose colours follow the palette everywhere
    app.setPalette(_palette(shown is Theme.DARK))
    app.setStyleSheet(stylesheet())
    app.setProperty("uhadminTheme", shown.value)
    return shown
