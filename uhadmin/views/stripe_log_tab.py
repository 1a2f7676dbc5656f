"""The "Stripe log" tab: every Stripe call and webhook, filtered, explained and copyable."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QSettings, Qt, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from uhadmin.domain.stripe_log import (
    STATUS_CLASSES,
    StripeLogEntry,
    StripeLogFilter,
    describe_entry,
)
from uhadmin.domain.stripe_snippets import snippet
from uhadmin.errors import ValidationError
from uhadmin.views.stripe_log_model import PAGE_SIZE, StripeLogSource, StripeLogTableModel
from uhadmin.views.workspace import WorkspaceTab

ANY = "Any"
METHODS = ("GET", "POST", "DELETE")
# New entries appear while the tab is open (a sync running, a webhook arriving).
POLL_MS = 2000
FILTER_DELAY_MS = 250


class StripeLogTab(WorkspaceTab):
    """A virtual table over the Stripe log (pages on scroll), filters, and a detail pane."""

    state_key = "stripeLog"

    def __init__(self, source: StripeLogSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._where = StripeLogFilter()
        self.model = StripeLogTableModel(self._request_older, self)
        self.selected: StripeLogEntry | None = None

        bar = self._build_filters()
        self._build_table()
        detail_box = self._build_detail()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(detail_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.filter_problem)
        layout.addWidget(self.splitter, 1)
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._poll_if_shown)

    def _build_filters(self) -> QHBoxLayout:
        """The filter bar; typing applies after a pause, a choice or tick at once."""
        self.listing_filter = self._id_box("Listing id", "stripeLogListing")
        self.attempt_filter = self._id_box("Attempt id", "stripeLogAttempt")
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("stripeLogStatus")
        self.status_filter.addItems([ANY, *STATUS_CLASSES])
        self.method_filter = QComboBox()
        self.method_filter.setObjectName("stripeLogMethod")
        self.method_filter.addItems([ANY, *METHODS])
        self.errors_only = QCheckBox("Errors only")
        self.errors_only.setObjectName("stripeLogErrors")
        self.text_filter = QLineEdit()
        self.text_filter.setObjectName("stripeLogText")
        self.text_filter.setPlaceholderText("Search path, ids, codes, parameters…")
        self.text_filter.setClearButtonEnabled(True)
        self.filter_problem = QLabel()
        self.filter_problem.setObjectName("stripeLogFilterProblem")
        self.filter_problem.setStyleSheet("color: #c62828")
        self.filter_problem.hide()
        bar = QHBoxLayout()
        for label, widget in (("Listing", self.listing_filter), ("Attempt", self.attempt_filter),
                              ("Status", self.status_filter), ("Method", self.method_filter)):
            bar.addWidget(QLabel(label))
            bar.addWidget(widget)
        bar.addWidget(self.errors_only)
        bar.addWidget(self.text_filter, 1)
        self._filter_timer = QTimer(self, singleShot=True, interval=FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filters)
        for box in (self.listing_filter, self.attempt_filter, self.text_filter):
            box.textChanged.connect(lambda _text: self._filter_timer.start())
        for combo in (self.status_filter, self.method_filter):
            combo.currentIndexChanged.connect(lambda _index: self.apply_filters())
        self.errors_only.toggled.connect(lambda _on: self.apply_filters())
        return bar

    def _build_table(self) -> None:
        self.table = QTableView()
        self.table.setObjectName("stripeLogTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setStretchLastSection(True)
        for number, column in enumerate(self.model.columns):
            self.table.setColumnWidth(number, column.width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

    def _build_detail(self) -> QWidget:
        """The selected call's request and response, and buttons to copy it as code."""
        self.detail = QPlainTextEdit(readOnly=True)
        self.detail.setObjectName("stripeLogDetail")
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.detail.setPlaceholderText("Select a call to see its request and response.")
        self.copy_buttons: dict[str, QPushButton] = {}
        copy_row = QHBoxLayout()
        for kind, title in (("curl", "Copy as curl"), ("node", "Copy as Node"),
                            ("python", "Copy as Python")):
            button = QPushButton(title)
            button.setObjectName(f"stripeLogCopy_{kind}")
            button.setEnabled(False)
            button.clicked.connect(lambda _checked=False, k=kind: self.copy_as(k))
            copy_row.addWidget(button)
            self.copy_buttons[kind] = button
        copy_row.addStretch(1)
        detail_box = QWidget()
        detail_layout = QVBoxLayout(detail_box)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addLayout(copy_row)
        detail_layout.addWidget(self.detail, 1)
        return detail_box

    @staticmethod
    def _id_box(placeholder: str, name: str) -> QLineEdit:
        box = QLineEdit()
        box.setObjectName(name)
        box.setPlaceholderText(placeholder)
        box.setMaximumWidth(90)
        return box

    # --- the window calls these -------------------------------------------------------

    def start(self) -> None:
        self.refresh()
        self._poll.start()

    def refresh(self) -> None:
        self.tasks.start("load", self.load_first_page())

    def _poll_if_shown(self) -> None:
        # Behind another tab nobody reads the log: no query every two seconds for it;
        # coming into view catches up at once (showEvent).
        if self.isVisible():
            self.tasks.start("poll", self.load_newer())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._poll.isActive():  # started: a first page is loaded or on its way
            self._poll_if_shown()

    def focus_search(self) -> bool:
        self.text_filter.setFocus()
        self.text_filter.selectAll()
        return True

    def shutdown(self) -> None:
        self._poll.stop()
        super().shutdown()

    # --- filters ------------------------------------------------------------------------

    def current_filter(self) -> StripeLogFilter:
        """The filter the controls describe; ValidationError naming a bad id box."""
        ids: dict[str, int | None] = {}
        for name, box in (("listing", self.listing_filter), ("attempt", self.attempt_filter)):
            text = box.text().strip()
            if text and not text.isdigit():
                raise ValidationError.single(name, "a whole number (the id)")
            ids[name] = int(text) if text else None
        status = self.status_filter.currentText()
        method = self.method_filter.currentText()
        return StripeLogFilter(
            listing_id=ids["listing"], attempt_id=ids["attempt"],
            status_class=None if status == ANY else status,
            method=None if method == ANY else method, errors_only=self.errors_only.isChecked(),
            text=self.text_filter.text(), listing_revision=self._where.listing_revision
            if ids["listing"] == self._where.listing_id else None)

    def apply_filters(self) -> None:
        try:
            self._where = self.current_filter()
        except ValidationError as problem:
            self.filter_problem.setText(str(problem))
            self.filter_problem.show()
            return
        self.filter_problem.hide()
        self.refresh()

    def show_calls(self, *, listing_id: int | None = None, revision: int | None = None,
                   attempt_id: int | None = None) -> None:
        """Show only the calls behind one listing (revision) or one checkout attempt."""
        for box, value in ((self.listing_filter, listing_id), (self.attempt_filter, attempt_id)):
            box.blockSignals(True)
            box.setText("" if value is None else str(value))
            box.blockSignals(False)
        self._where = StripeLogFilter(listing_id=listing_id, listing_revision=revision)
        self.apply_filters()

    # --- loading --------------------------------------------------------------------------

    async def load_first_page(self) -> list[StripeLogEntry]:
        entries = await self._source.page(self._where, limit=PAGE_SIZE)
        self.model.reset_pages(entries)
        self._show(None)
        if self.isVisible():  # a load behind another tab (a change elsewhere) says nothing
            count = f"{len(entries)}{'+' if len(entries) == PAGE_SIZE else ''}"
            self.status_message.emit(f"Stripe log: {count} call(s) shown")
        return entries

    def _request_older(self, before_id: int | None) -> None:
        self.tasks.start("older", self.load_older(before_id))

    async def load_older(self, before_id: int | None) -> None:
        try:
            page = await self._source.page(self._where, before_id=before_id, limit=PAGE_SIZE)
        except BaseException:
            self.model.loading_failed()
            raise
        self.model.append_page(page)

    async def load_newer(self) -> None:
        newest = self.model.newest_id()
        if newest is None:
            await self.load_first_page()
            return
        self.model.prepend_newer(await self._source.page(self._where, after_id=newest,
                                                         limit=PAGE_SIZE))

    # --- detail ---------------------------------------------------------------------------

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self._show(None)
            return
        self.tasks.start("detail", self.load_detail(self.model.entry_at(rows[0].row()).id))

    async def load_detail(self, entry_id: int) -> StripeLogEntry:
        entry = await self._source.entry(entry_id)
        self._show(entry)
        return entry

    def _show(self, entry: StripeLogEntry | None) -> None:
        self.selected = entry
        self.detail.setPlainText(describe_entry(entry) if entry is not None else "")
        for button in self.copy_buttons.values():
            button.setEnabled(entry is not None and entry.kind == "request")

    def copy_as(self, kind: str) -> str:
        """Put the selected request on the clipboard as a curl, Node or Python snippet."""
        if self.selected is None or self.selected.kind != "request":
            return ""
        text = snippet(self.selected, kind)
        QGuiApplication.clipboard().setText(text)
        self.status_message.emit(f"Copied entry {self.selected.id} as {kind}")
        return text

    def save_state(self, settings: QSettings) -> None:
        settings.setValue(f"{self.state_key}/splitter", self.splitter.saveState())

    def restore_state(self, settings: QSettings) -> None:
        state = settings.value(f"{self.state_key}/splitter")
        if state is not None:
            self.splitter.restoreState(state)
