"""First-run guidance: a short "what to do first" shown over a table while it has no rows."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel


class EmptyState(QLabel):
    """Centred text over `table`'s viewport, visible exactly while its model has no rows.
    `set_text` changes the guidance (e.g. "no match for this filter" vs "no listings yet")."""

    def __init__(self, table: QAbstractItemView, text: str) -> None:
        super().__init__(text, table.viewport())
        self.setObjectName("emptyState")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
        self._table = table
        model = table.model()
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved,
                       model.layoutChanged):
            signal.connect(self.update_visibility)
        table.viewport().installEventFilter(self)
        self.update_visibility()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def update_visibility(self, *_args: object) -> None:
        empty = self._table.model().rowCount() == 0
        self.setVisible(empty)
        if empty:
            self._fit()

    def _fit(self) -> None:
        self.setGeometry(self._table.viewport().rect())
