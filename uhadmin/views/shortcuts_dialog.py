"""Help → Keyboard shortcuts: read from the window's live QActions and QShortcuts, never typed."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from uhadmin.views.reason_dialog import CONFIRM_KEYS
from uhadmin.views.workspace import WorkspaceTab

EVERYWHERE = "Everywhere"
IN_DIALOGS = "In dialogs"

# Keys Qt's own widgets handle (no QAction object exists for them), plus the reject
# dialog's confirm keys read from the dialog's constant.
_WIDGET_KEYS = (
    (IN_DIALOGS, "Press the default button (Save, Reject…) from a one-line field", "Enter"),
    (IN_DIALOGS, "Confirm a multi-line dialog (the rejection reason)",
     QKeySequence(CONFIRM_KEYS[0]).toString(QKeySequence.SequenceFormat.NativeText)),
    (IN_DIALOGS, "Cancel the dialog", "Esc"),
    ("Listings", "Open the selected listing's editor", "Enter"),
    ("Listings", "Select every loaded row", "Ctrl+A"),
)


@dataclass(frozen=True)
class ShortcutEntry:
    where: str  # "Everywhere", a tab's title, or "In dialogs"
    what: str
    keys: str


def plain_text(text: str) -> str:
    """Menu text without mnemonics, the shown shortcut or the trailing ellipsis."""
    text = text.split("\t")[0].replace("&&", "\0").replace("&", "").replace("\0", "&")
    return text.rstrip("…").strip()


def collect_shortcuts(window: QWidget, tab_titles: dict[QWidget, str]) -> list[ShortcutEntry]:
    """Every key sequence the window's actions and shortcuts answer to, where they work."""
    found: dict[tuple[str, str], list[str]] = {}

    def where(obj: QAction | QShortcut) -> str:
        parent = obj.parent()
        while parent is not None:
            if isinstance(parent, WorkspaceTab):
                return tab_titles.get(parent, parent.objectName())
            parent = parent.parent()
        return EVERYWHERE

    def add(place: str, what: str, sequences: list[QKeySequence]) -> None:
        keys = found.setdefault((place, what), [])
        for sequence in sequences:
            text = sequence.toString(QKeySequence.SequenceFormat.NativeText)
            if text and text not in keys:
                keys.append(text)

    for action in window.findChildren(QAction):
        sequences = [k for k in action.shortcuts() if not k.isEmpty()]
        if sequences and action.text():
            add(where(action), plain_text(action.text()), sequences)
    for shortcut in window.findChildren(QShortcut):
        if not shortcut.key().isEmpty():
            add(where(shortcut), shortcut.whatsThis() or "(unnamed)", [shortcut.key()])
    entries = [ShortcutEntry(place, what, ", ".join(keys))
               for (place, what), keys in found.items() if keys]
    entries += [ShortcutEntry(*row) for row in _WIDGET_KEYS]
    order = {EVERYWHERE: 0, IN_DIALOGS: 2}
    return sorted(entries, key=lambda e: (order.get(e.where, 1), e.where, e.what))


class ShortcutsDialog(QDialog):
    """A table of every shortcut: where it works, what it does, its keys."""

    def __init__(self, entries: list[ShortcutEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(640, 700)
        self.entries = entries
        intro = QLabel("Read from the commands themselves, so this list is always current. "
                       "Tab-bound keys work while that tab is in front.")
        intro.setObjectName("formIntro")
        intro.setWordWrap(True)
        self.table = QTableWidget(len(entries), 3)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Where", "Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        for row, entry in enumerate(entries):
            for column, text in enumerate((entry.where, entry.what, entry.keys)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(buttons)

    def keys_for(self, what: str) -> list[str]:
        return [e.keys for e in self.entries if e.what == what]
