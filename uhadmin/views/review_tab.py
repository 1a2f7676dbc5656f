"""The review queue: listings pending review, oldest first, approved or rejected by keyboard."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from uhadmin.domain import Listing, ListingQuery, ListingStatus, SortKey
from uhadmin.domain.bulk import ListingVersion
from uhadmin.domain.changes import Change, ListingsChanged, Refresh, refresh_for
from uhadmin.domain.filtering import matches_filters
from uhadmin.errors import UhadminError
from uhadmin.views.change_bridge import ChangeBridge
from uhadmin.views.empty_state import EmptyState
from uhadmin.views.listing_detail import ListingDetailPane
from uhadmin.views.listing_table import ListingColumn, ListingTableModel
from uhadmin.views.listings_loading import reload_delay_ms
from uhadmin.views.ports import ChangeSource, ListingWriter
from uhadmin.views.reason_dialog import ReasonDialog
from uhadmin.views.undo_history import UndoHistory
from uhadmin.views.workspace import WorkspaceTab

PAGE_SIZE = 200
# Everything in the queue is pending review and not in Stripe: those columns say nothing.
_HIDDEN_COLUMNS = (ListingColumn.STATUS, ListingColumn.SYNC_STATE, ListingColumn.PRODUCT_ID,
                   ListingColumn.PRICE_ID)


class ReviewTab(WorkspaceTab):
    """Decide on pending listings one after another: A approves, R rejects (with a reason),
    and the next listing is selected at once. Only the database is involved, so it works
    offline; Stripe hears about approvals through the outbox when a sync runs.
    """

    state_key = "review"

    def __init__(self, listings: ListingWriter, bus: ChangeSource, *, actor: str,
                 dashboard_base: str | None = None, undo: UndoHistory | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reviewTab")
        self._listings = listings
        self._actor = actor
        self._reason_dialog: ReasonDialog | None = None
        self.undo = undo if undo is not None else UndoHistory(listings, actor=actor,
                                                              parent=self)

        self._build_table(listings, dashboard_base)
        self._build_decision_controls()
        self._build_layout()
        self._connect_controls()
        self.bridge = ChangeBridge(bus, self)
        self.bridge.changed.connect(self._on_change)
        # The runner re-enables a decision's controls when it ends; what they should be
        # depends on whether a listing is still selected.
        self.tasks.busy_changed.connect(
            lambda _key, busy: None if busy else self._selection_changed())
        self._selection_changed()

    def _build_table(self, listings: Any, dashboard_base: str | None) -> None:
        """The queue, oldest first, beside the selected listing's details."""
        self.model = ListingTableModel(self)
        self.model.sort_key, self.model.descending = SortKey.CREATED, False
        self.table = QTableView()
        self.table.setObjectName("reviewTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column in ListingColumn:
            self.table.setColumnWidth(column.section, column.spec.width)
        for column in _HIDDEN_COLUMNS:
            self.table.setColumnHidden(column.section, True)
        self.detail = ListingDetailPane(listings, dashboard_base=dashboard_base)
        self.empty_state = EmptyState(self.table)

    def _build_decision_controls(self) -> None:
        """Approve and Reject as keys (A, R), buttons and menu entries, and the count."""
        self.approve_action = QAction("&Approve", self)
        self.approve_action.setShortcut(QKeySequence("A"))
        self.approve_action.setToolTip("Approve the selected listing (A)")
        self.reject_action = QAction("&Reject…", self)
        self.reject_action.setShortcut(QKeySequence("R"))
        self.reject_action.setToolTip("Reject the selected listing with a reason (R)")
        for act in (self.approve_action, self.reject_action):
            # Single-letter shortcuts only while the queue has focus, never while typing.
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(act)
        self.approve_button = QPushButton("Approve (A)")
        self.approve_button.setObjectName("approveButton")
        self.reject_button = QPushButton("Reject… (R)")
        self.reject_button.setObjectName("rejectButton")
        self.queue_label = QLabel("")
        self.queue_label.setObjectName("countsLabel")

    def _build_layout(self) -> None:
        hint = QLabel("Keyboard: ↑/↓ choose, A approve, R reject with a reason. "
                      "Works offline: only the database changes.")
        hint.setObjectName("reviewHint")
        hint.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.queue_label, 1)
        buttons.addWidget(self.approve_button)
        buttons.addWidget(self.reject_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(hint)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("reviewSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([760, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

    def _connect_controls(self) -> None:
        self._change_timer = QTimer(self)
        self._change_timer.setSingleShot(True)
        self._change_timer.timeout.connect(self._reload_for_changes)
        self._last_change_reload = 0.0
        self.approve_action.triggered.connect(self._on_approve)
        self.approve_button.clicked.connect(self._on_approve)
        self.reject_action.triggered.connect(self.ask_reject)
        self.reject_button.clicked.connect(self.ask_reject)
        self.model.more_requested.connect(self._on_more_requested)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

    # --- WorkspaceTab -----------------------------------------------------------------

    def menu_actions(self) -> list[QAction | None]:
        return [self.approve_action, self.reject_action]

    def toolbar_actions(self) -> list[QAction]:
        return [self.approve_action, self.reject_action]

    def start(self) -> None:
        self.tasks.spawn("query", self.reload())

    def refresh(self) -> None:
        self.tasks.spawn("query", self.reload_and_report())

    async def reload_and_report(self) -> None:
        """F5: reload, then say so with the count."""
        await self.reload()
        self.status_message.emit(f"Reloaded: {self.model.total:,} listing(s) waiting for "
                                 "review")

    def focus_first(self) -> None:
        """The queue's keys (A, R, arrows) work at once after switching here."""
        if self.current_listing() is None and self.model.rowCount():
            self.select_row(0)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def save_state(self, settings: QSettings) -> None:
        settings.setValue(f"{self.state_key}/splitter", self.splitter.saveState())
        settings.setValue(f"{self.state_key}/header", self.table.horizontalHeader().saveState())

    def restore_state(self, settings: QSettings) -> None:
        for key, target in (("splitter", self.splitter),
                            ("header", self.table.horizontalHeader())):
            state = settings.value(f"{self.state_key}/{key}")
            if state is not None:
                target.restoreState(state)

    def shutdown(self) -> None:
        self._change_timer.stop()
        self.bridge.close()
        self.detail.shutdown()
        if self._reason_dialog is not None:
            self._reason_dialog.close()
        super().shutdown()

    # --- the queue ----------------------------------------------------------------------

    def query(self, offset: int = 0) -> ListingQuery:
        return ListingQuery(statuses=frozenset({ListingStatus.PENDING_REVIEW}),
                            sort=SortKey.CREATED, descending=False, offset=offset,
                            limit=PAGE_SIZE)

    async def reload(self) -> None:
        """Load the oldest pending listings, keeping the current one selected if still there."""
        current = self.current_listing()
        page = await self._listings.search(self.query())
        self.model.set_page(page)
        row = self.model.row_of(current.id) if current else None
        self.select_row(row if row is not None else 0)
        self._show_queue_size()

    async def fetch_more(self, offset: int) -> None:
        try:
            page = await self._listings.search(self.query(offset))
        except BaseException:
            self.model.fetch_failed()
            raise
        self.model.append_page(page)
        self._show_queue_size()

    @asyncSlot(int)
    async def _on_more_requested(self, offset: int) -> None:
        await self.tasks.run("more", self.fetch_more(offset))

    def _show_queue_size(self) -> None:
        total = self.model.total
        self.queue_label.setText("Nothing to review" if total == 0
                                 else f"{total:,} listing(s) waiting for review")
        self.count_changed.emit(total)
        if total:
            self.empty_state.hide()
        else:
            self.empty_state.show_guidance(
                "Nothing to review",
                "Listings sellers submit on the marketplace website wait here, and so do "
                "drafts you send with Listings → Submit for review. Then ↑/↓ choose, "
                "A approves and R rejects with a reason.")

    def current_listing(self) -> Listing | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.listing_at(rows[0].row()) if rows else None

    def select_row(self, row: int) -> None:
        if self.model.rowCount() == 0:
            self.table.selectionModel().clearSelection()
            self._selection_changed()
            return
        row = max(0, min(row, self.model.rowCount() - 1))
        index = self.model.index(row, 0)
        self.table.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.selectionModel().setCurrentIndex(index,
                                                    QItemSelectionModel.SelectionFlag.NoUpdate)
        self.table.scrollTo(index)

    def _selection_changed(self, *_args: Any) -> None:
        listing = self.current_listing()
        self.detail.show_listing(listing)
        enabled = listing is not None
        for control in (self.approve_action, self.reject_action, self.approve_button,
                        self.reject_button):
            control.setEnabled(enabled)

    # --- decisions ------------------------------------------------------------------------

    @asyncSlot()
    async def _on_approve(self) -> None:
        await self.tasks.run("decide", self.approve_current(), self.approve_action,
                             self.approve_button)

    async def approve_current(self) -> Listing | None:
        return await self._decide(ListingStatus.APPROVED)

    def ask_reject(self) -> ReasonDialog | None:
        listing = self.current_listing()
        if listing is None:
            return None
        dialog = ReasonDialog(1, self)
        dialog.setWindowTitle(f"Reject “{listing.title[:60]}”")
        dialog.reason_given.connect(lambda reason: self._on_reject(listing.id, reason))
        self._reason_dialog = dialog
        dialog.open()
        return dialog

    @asyncSlot()
    async def _on_reject(self, listing_id: int, reason: str) -> None:
        await self.tasks.run("decide", self.reject(listing_id, reason), self.reject_action,
                             self.reject_button)

    async def reject(self, listing_id: int, reason: str) -> Listing | None:
        return await self._decide(ListingStatus.REJECTED, listing_id=listing_id, reason=reason)

    async def _decide(self, status: ListingStatus, *, listing_id: int | None = None,
                      reason: str = "") -> Listing | None:
        listing = self.current_listing()
        if listing_id is not None:
            row = self.model.row_of(listing_id)
            listing = self.model.listing_at(row) if row is not None else None
        if listing is None:
            return None
        row = self.model.row_of(listing.id) or 0
        try:
            result = await self._listings.change_status(
                listing.id, status, actor=self._actor, expected_version=listing.version,
                reason=reason, initiator=self)
        except UhadminError:
            # Someone else decided first, or it is gone: show the queue as it is.
            self.tasks.spawn("query", self.reload())
            raise
        self.model.remove_ids([listing.id])
        self.select_row(row)  # the next listing moved up into this row
        self._show_queue_size()
        verb = "Approve" if status is ListingStatus.APPROVED else "Reject"
        self.undo.record(f"{verb} “{result.title[:40]}”",
                         [ListingVersion(result.id, result.version)])
        self.status_message.emit(f"{verb}d “{result.title}”")
        return result

    def _on_change(self, change: Change) -> None:
        # A sync writes what Stripe holds, never a review decision: the queue stays.
        if not isinstance(change, ListingsChanged) or change.initiator is self:
            return
        refresh = refresh_for(change, self.query(),
                              [listing.id for listing in self.model.listings()])
        if refresh is Refresh.PATCH:  # no read: the change carries the saved listings
            shown = [x for x in change.listings if self.model.row_of(x.id) is not None]
            leaving = [x.id for x in shown if not matches_filters(x, self.query())]
            for listing in shown:
                if listing.id not in leaving:
                    self.model.update_listing(listing)
            current = self.current_listing()
            if current is not None and any(x.id == current.id for x in shown):
                self._selection_changed()  # the detail pane shows the saved version
            if leaving:
                self._reload_soon()  # the next ones move up into the loaded rows
        elif refresh is Refresh.RELOAD:
            self._reload_soon()

    def _reload_soon(self) -> None:
        """One reload for a burst of changes, and about one a second while they stream in
        (as the Listings tab does)."""
        if not self._change_timer.isActive():
            self._change_timer.start(reload_delay_ms(self._last_change_reload))

    def _reload_for_changes(self) -> None:
        self._last_change_reload = time.monotonic()
        self.tasks.spawn("query", self.reload())
