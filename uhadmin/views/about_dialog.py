"""About uhadmin: version from the installed package, the versions under it, and the manual."""

from __future__ import annotations

import email.message
import platform
import re
from importlib import metadata

import PySide6
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from uhadmin.views.icons import app_icon

README_LINK = "uhadmin:readme"


def app_version() -> str:
    try:
        return metadata.version("uhadmin")
    except metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


def documentation_url() -> str | None:
    """A "Documentation" project URL from the package metadata, if the package has one."""
    try:
        urls = metadata.metadata("uhadmin").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in {"documentation", "docs", "homepage"} and url.strip():
            return url.strip()
    return None


def readme_markdown() -> str:
    """The README the package was built from (its long description), pictures left out:
    they are files beside the source, not inside the installed package."""
    try:
        meta = metadata.metadata("uhadmin")
    except metadata.PackageNotFoundError:
        return "The manual ships with the uhadmin package; this copy has none."
    if not isinstance(meta, email.message.Message):  # what importlib.metadata returns
        return "The manual ships with the uhadmin package; this copy has none."
    # Core metadata 2.1+ keeps it as the body; older egg-info as an indented header.
    text = str(meta.get_payload() or "")
    if not text.strip():
        text = str(meta.get("Description") or "").replace("\n        ", "\n")
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    return text or "The manual ships with the uhadmin package; this copy has none."


class ReadmeDialog(QDialog):
    """The manual, offline: the package's README rendered from Markdown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("readmeDialog")
        self.setWindowTitle("uhadmin manual")
        self.resize(760, 640)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setOpenLinks(False)  # relative links point at files we do not have
        self.browser.anchorClicked.connect(self._open_link)
        self.browser.setMarkdown(readme_markdown())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)

    @staticmethod
    def _open_link(url: QUrl) -> None:
        if url.scheme() in {"http", "https"}:
            QDesktopServices.openUrl(url)


class AboutDialog(QDialog):
    """Name, version, what it is for, the versions it runs on and a link to the manual."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About uhadmin")
        self.version = app_version()
        self._docs_url = documentation_url()
        self._readme: ReadmeDialog | None = None
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.text = QLabel(
            f"<h3>uhadmin {self.version}</h3>"
            "<p>The desktop admin of the UH Marketplace: review and edit listings, keep them "
            "in step with Stripe, and test Checkout with Stripe's test cards.</p>"
            f"<p><a href='{self._docs_url or README_LINK}'>Documentation</a> "
            "· Keyboard shortcuts: F1</p>"
            f"<p style='color: palette(placeholder-text)'>Python {platform.python_version()}"
            f" · Qt {qVersion()} · PySide6 {PySide6.__version__}</p>")
        self.text.setObjectName("aboutText")
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setMinimumWidth(380)
        self.text.linkActivated.connect(self.open_documentation)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(icon)
        row.addWidget(self.text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(buttons)

    def open_documentation(self, link: str = README_LINK) -> ReadmeDialog | None:
        if link != README_LINK:
            QDesktopServices.openUrl(QUrl(link))
            return None
        self._readme = ReadmeDialog(self)
        self._readme.open()
        return self._readme

    def done(self, result: int) -> None:
        if self._readme is not None:
            self._readme.close()
        super().done(result)
