"""The Listings tab: database-paged and -sorted table, search, filters, detail, bulk actions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from uhadmin.domain import Listing, ListingQuery, ListingStatus, Page, SyncState
from uhadmin.domain.changes import (
    Change,
    CheckoutAttemptChanged,
    ListingsChanged,
    Refresh,
    listing_ids,
    refresh_for,
)
from uhadmin.domain.filtering import matches_filters
from uhadmin.errors import NotFoundError, UhadminError
from uhadmin.views.bulk_actions import (
    BULK_KINDS,
    BulkKind,
    confirmation_text,
    eligible,
    summarize_bulk,
)
from uhadmin.views.change_bridge import ChangeBridge
from uhadmin.views.empty_state import EmptyState
from uhadmin.views.listing_detail import ListingDetailPane
from uhadmin.views.listing_dialog import ListingDialog
from uhadmin.views.listing_table import (
    NEEDS_FIXING_LABEL,
    STATUS_LABELS,
    SYNC_LABELS,
    ListingColumn,
    ListingTableModel,
)
from uhadmin.views.messages import ask_confirmation, show_message
from uhadmin.views.ports import ChangeSource, ListingWriter
from uhadmin.views.reason_dialog import ReasonDialog
from uhadmin.views.workspace import WorkspaceTab

PAGE_SIZE = 200
NEEDS_FIXING_FILTER = "needs_fixing"  # the sync filter's data for "Needs fixing"
SEARCH_DEBOUNCE_MS = 250
CHANGE_COALESCE_MS = 120
MIN_RELOAD_INTERVAL_S = 1.0
# Above this many changed ids, re-running the query is cheaper than fetching each one.
MAX_IDS_TO_PATCH = 100


class ListingsTab(WorkspaceTab):
    """Every listing, 200 rows at a time from the database.

    Searching, filtering and sorting re-query the database (latest wins); scrolling near the
    end fetches the next page. Mutations go through the service; the ChangeBus tells this tab
    (and every other view) what changed, and it patches or reloads what it shows.
    """

    state_key = "listings"
    selection_changed = Signal(object)  # tuple[Listing, ...]

    def __init__(self, listings: ListingWriter, bus: ChangeSource, *, actor: str,
                 default_currency: str = "usd",
                 dashboard_base: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("listingsTab")
        self._listings = listings
        self._actor = actor
        self._default_currency = default_currency
        self._generation = 0  # bumps on every new query so late pages of an old one are dropped
        self._pending_change_ids: set[int] = set()
        self._pending_full_reload = False
        self._last_change_reload = 0.0
        self.counts: dict[ListingStatus, int] = {}
        self.queued_changes = 0
        self._dialogs: list[Any] = []

        # --- search and filters ---
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("searchEdit")
        self.search_edit.setPlaceholderText("Search title, description, seller… (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("statusFilter")
        self.status_filter.addItem("All statuses", None)
        for status in ListingStatus:
            self.status_filter.addItem(STATUS_LABELS[status], status)
        self.sync_filter = QComboBox()
        self.sync_filter.setObjectName("syncFilter")
        self.sync_filter.addItem("Any sync state", None)
        for state in SyncState:
            self.sync_filter.addItem(SYNC_LABELS[state], state)
        # Not a sync state in the database, but the state a person acts on: rows that break
        # a rule and go nowhere until fixed.
        self.sync_filter.addItem(NEEDS_FIXING_LABEL, NEEDS_FIXING_FILTER)
        self.sync_filter.setItemData(
            self.sync_filter.count() - 1,
            "Listings that break a rule (as the website wrote them): fix them with Edit",
            Qt.ItemDataRole.ToolTipRole)
        self.counts_label = QLabel("")
        self.counts_label.setObjectName("countsLabel")
        self.shown_label = QLabel("")
        self.shown_label.setObjectName("countsLabel")

        filters = QHBoxLayout()
        filters.addWidget(self.search_edit, 3)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.sync_filter)
        filters.addWidget(self.shown_label)

        # --- table and detail ---
        self.model = ListingTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("listingsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        for column in ListingColumn:
            self.table.setColumnWidth(column.section, column.spec.width)
        header.setSortIndicator(ListingColumn.UPDATED.section, Qt.SortOrder.DescendingOrder)
        self.detail = ListingDetailPane(listings, dashboard_base=dashboard_base)
        self.empty_state = EmptyState(self.table)
        # The window adds its own (Settings, to point at a team database) for a first run.
        self.first_run_actions: list[QAction] = []
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("listingsSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([900, 380])

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.counts_label)

        # --- actions (the window puts them in menus and the toolbar) ---
        def action(text: str, tip: str,
                   shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                   ) -> QAction:
            act = QAction(text, self)
            act.setToolTip(tip)
            act.setStatusTip(tip)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            return act

        # New, edit and refresh get their shortcuts from the window's actions (one owner
        # per key sequence, or Qt calls the shortcut ambiguous and fires neither).
        self.new_action = action("&New listing…", "Create a listing (Ctrl+N)")
        self.edit_action = action("&Edit listing…", "Edit the selected listing (Ctrl+E, Enter)")
        self.submit_action = action("Submit for re&view", "Send the selected drafts to review")
        self.approve_action = action("&Approve", "Approve the selected listings pending review")
        self.reject_action = action("Re&ject…", "Reject the selected listings, with a reason")
        self.archive_action = action("Ar&chive", "Archive the selected approved listings")
        self.relist_action = action("Re&list", "Approve the selected archived listings again")
        self.draft_action = action("Back to dra&ft", "Return the selected rejected listings "
                                   "to draft, so the seller can fix and resubmit them")
        self.delete_action = action("&Delete draft…",
                                    "Delete the selected drafts that were never published",
                                    QKeySequence.StandardKey.Delete)
        self.refresh_action = action("&Refresh", "Reload from the database (F5)")
        self.clear_filters_action = action("Show &all listings",
                                           "Clear the search and the filters (Esc clears "
                                           "the search)")
        # Only while the table has focus: Delete in the search box deletes text.
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.table.addActions([self.edit_action, *self.bulk_actions_list(), self.delete_action])

        self.bulk_actions: dict[QAction, BulkKind] = {
            self.submit_action: BULK_KINDS["submit"],
            self.approve_action: BULK_KINDS["approve"],
            self.archive_action: BULK_KINDS["archive"],
            self.relist_action: BULK_KINDS["relist"],
            self.draft_action: BULK_KINDS["draft"],
        }

        # --- wiring ---
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._on_query_changed)
        self._change_timer = QTimer(self)
        self._change_timer.setSingleShot(True)
        self._change_timer.setInterval(CHANGE_COALESCE_MS)
        self._change_timer.timeout.connect(self._on_changes_settled)
        self.search_edit.textChanged.connect(self._search_timer.start)
        self.search_edit.returnPressed.connect(self._search_now)
        self.status_filter.currentIndexChanged.connect(self._on_query_changed)
        self.sync_filter.currentIndexChanged.connect(self._on_query_changed)
        self.model.sort_requested.connect(self._on_query_changed)
        self.model.more_requested.connect(self._on_more_requested)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        # Enter/Return and double-click (or single click where the platform activates on
        # one) both "activate" a row: that opens its editor.
        self.table.activated.connect(lambda _index: self.edit_selected())
        self.new_action.triggered.connect(self.open_new_dialog)
        self.edit_action.triggered.connect(self.edit_selected)
        self.reject_action.triggered.connect(self.ask_reject)
        self.delete_action.triggered.connect(self.ask_delete)
        self.refresh_action.triggered.connect(self.refresh)
        self.clear_filters_action.triggered.connect(self.clear_filters)
        for act, kind in self.bulk_actions.items():
            act.triggered.connect(lambda _checked=False, k=kind, a=act: self.ask_bulk(k, a))
        self.bridge = ChangeBridge(bus, self)
        self.bridge.changed.connect(self._on_change)
        # The runner re-enables an action's controls when it ends; whether they should be
        # enabled depends on what is selected now.
        self.tasks.busy_changed.connect(lambda _key, busy: None if busy else self._update_actions())
        self._update_actions()

    def bulk_actions_list(self) -> list[QAction]:
        return [self.submit_action, self.approve_action, self.reject_action,
                self.archive_action, self.relist_action, self.draft_action]

    # --- WorkspaceTab -----------------------------------------------------------------------

    def menu_actions(self) -> list[QAction | None]:
        return [*self.bulk_actions_list(), None, self.delete_action]

    def toolbar_actions(self) -> list[QAction]:
        return [self.approve_action, self.reject_action, self.archive_action]

    def start(self) -> None:
        self.tasks.spawn("query", self.reload())

    def refresh(self) -> None:
        self.tasks.spawn("query", self.reload_and_report())

    async def reload_and_report(self) -> Page[Listing]:
        """F5: reload, then say so with the count, so a reload that changed nothing is seen."""
        page = await self.reload(keep_selection=True)
        everything = sum(self.counts.values())
        if self.model.total == everything:
            self.status_message.emit(f"Reloaded: {everything:,} listings")
        else:
            self.status_message.emit(f"Reloaded: {self.model.total:,} of {everything:,} "
                                     "listings match")
        return page

    def focus_search(self) -> bool:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()
        return True

    def focus_first(self) -> None:
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        if not self.table.currentIndex().isValid() and self.model.rowCount():
            # Arrow keys then start at the top instead of doing nothing.
            self.table.setCurrentIndex(self.model.index(0, 0))

    def clear_search(self) -> bool:
        if not self.search_edit.text():
            return False
        self.search_edit.clear()
        self._search_now()
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        return True

    def edit_selected(self) -> bool:
        selected = self.selected_listings()
        if len(selected) != 1:
            self.status_message.emit("Select one listing to edit")
            return False
        self.open_edit_dialog(selected[0])
        return True

    def cancel_progress(self) -> None:
        if self.tasks.cancel("bulk"):
            self.status_message.emit("Cancelled; reloading what was already changed")
            self.tasks.spawn("query", self.reload(keep_selection=True))

    def save_state(self, settings: QSettings) -> None:
        settings.setValue(f"{self.state_key}/header", self.table.horizontalHeader().saveState())
        settings.setValue(f"{self.state_key}/splitter", self.splitter.saveState())

    def restore_state(self, settings: QSettings) -> None:
        header = self.table.horizontalHeader()
        state = settings.value(f"{self.state_key}/header")
        if state is not None:
            header.restoreState(state)
        splitter = settings.value(f"{self.state_key}/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        column = ListingColumn.at(header.sortIndicatorSection()) \
            if 0 <= header.sortIndicatorSection() < len(ListingColumn) else None
        if column is not None and column.spec.sort_key is not None:
            self.model.sort_key = column.spec.sort_key
            self.model.descending = header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder

    def enable_sorting(self) -> None:
        """Turn on header sorting once the saved sort has been restored (avoids a re-query)."""
        header = self.table.horizontalHeader()
        column = ListingColumn.for_sort_key(self.model.sort_key)
        if column is not None:
            order = Qt.SortOrder.DescendingOrder if self.model.descending \
                else Qt.SortOrder.AscendingOrder
            header.setSortIndicator(column.section, order)
        self.table.setSortingEnabled(True)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)

    def shutdown(self) -> None:
        self._search_timer.stop()
        self._change_timer.stop()
        self.bridge.close()
        self.detail.shutdown()
        for dialog in self._dialogs:
            dialog.close()
        super().shutdown()

    # --- querying ----------------------------------------------------------------------------

    def current_query(self, offset: int = 0) -> ListingQuery:
        # Qt hands enum item data back as plain str; the query wants the enums.
        status = _as(ListingStatus, self.status_filter.currentData())
        needs_fixing = self.sync_filter.currentData() == NEEDS_FIXING_FILTER
        sync_state = None if needs_fixing else _as(SyncState, self.sync_filter.currentData())
        return ListingQuery(
            search=self.search_edit.text().strip(),
            statuses=frozenset({status}) if status is not None else frozenset(),
            sync_states=frozenset({sync_state}) if sync_state is not None else frozenset(),
            needs_fixing=needs_fixing,
            sort=self.model.sort_key,
            descending=self.model.descending,
            offset=offset,
            limit=PAGE_SIZE,
        )

    async def reload(self, *, keep_selection: bool = True,
                     with_counts: bool = True) -> Page[Listing]:
        """Run the current query from the first page; with_counts also refreshes the status
        counts and queue length (a new search or sort leaves those as they are)."""
        self._generation += 1
        generation = self._generation
        selected_ids = [x.id for x in self.selected_listings()] if keep_selection else []
        if with_counts:
            page, counts, queued = await asyncio.gather(
                self._listings.search(self.current_query()),
                self._listings.count_by_status(),
                self._listings.queued_changes(),
            )
        else:
            page = await self._listings.search(self.current_query())
        if generation != self._generation:
            return page
        self.model.set_page(page)
        if with_counts:
            self._show_counts(counts, queued)
        else:
            self._show_shown()
        self._reselect(selected_ids)
        return page

    async def apply_search(self, text: str) -> Page[Listing]:
        """Set the search text and query at once (what the debounce timer does, undelayed)."""
        self._search_timer.stop()
        with _blocked(self.search_edit):
            self.search_edit.setText(text)
        self._search_timer.stop()
        return await self.reload(keep_selection=False, with_counts=False)

    async def fetch_more(self, offset: int) -> None:
        generation = self._generation
        try:
            page = await self._listings.search(self.current_query(offset))
        except BaseException:
            self.model.fetch_failed()
            raise
        if generation == self._generation:
            self.model.append_page(page)
            self._show_shown()
        else:
            self.model.fetch_failed()

    async def refresh_counts(self) -> None:
        counts, queued = await asyncio.gather(self._listings.count_by_status(),
                                              self._listings.queued_changes())
        self._show_counts(counts, queued)

    def _show_counts(self, counts: dict[ListingStatus, int], queued: int) -> None:
        self.counts = dict(counts)
        self.queued_changes = queued
        total = sum(counts.values())
        parts = [f"{total:,} listings"] + [
            f"{STATUS_LABELS[s]} {counts.get(s, 0):,}" for s in ListingStatus]
        if queued:
            parts.append(f"{queued:,} change(s) queued for Stripe")
        self.counts_label.setText("  ·  ".join(parts))
        self._show_shown()

    def _show_shown(self) -> None:
        self.shown_label.setText(f"{self.model.total:,} match · {self.model.loaded:,} loaded")
        self._show_guidance()

    def _show_guidance(self) -> None:
        if self.model.rowCount() or not self.counts:
            self.empty_state.hide()  # rows to show, or not loaded yet: nothing to say
        elif sum(self.counts.values()) == 0:
            self.empty_state.show_guidance(
                "No listings yet",
                "Listings come from the marketplace website's database, or you create them "
                "here. Start with a New listing (Ctrl+N); or, if your team already has a "
                "catalog, point uhadmin at its PostgreSQL database in Settings (Ctrl+,). "
                "Approved listings sync to Stripe and then appear in the Checkout lab.",
                [self.new_action, *self.first_run_actions])
        else:
            self.empty_state.show_guidance(
                "Nothing matches",
                "No listing matches this search and these filters.",
                [self.clear_filters_action])

    def clear_filters(self) -> None:
        """Show every listing: empty search, all statuses, any sync state (one query)."""
        for widget in (self.search_edit, self.status_filter, self.sync_filter):
            with _blocked(widget):
                if isinstance(widget, QComboBox):
                    widget.setCurrentIndex(0)
                else:
                    widget.clear()
        self._search_now()

    @asyncSlot()
    async def _on_query_changed(self) -> None:
        self._search_timer.stop()
        await self.tasks.run("query", self.reload(keep_selection=False, with_counts=False))

    def _search_now(self) -> None:
        self._search_timer.stop()
        self._on_query_changed()

    @asyncSlot(int)
    async def _on_more_requested(self, offset: int) -> None:
        await self.tasks.run("more", self.fetch_more(offset))

    def _sort_indicator_changed(self, section: int, _order: Qt.SortOrder) -> None:
        column = ListingColumn.at(section)
        if column.spec.sort_key is None:
            # Not sortable in the database: put the indicator back where the sort really is.
            current = ListingColumn.for_sort_key(self.model.sort_key)
            order = Qt.SortOrder.DescendingOrder if self.model.descending \
                else Qt.SortOrder.AscendingOrder
            header = self.table.horizontalHeader()
            with _blocked(header):
                header.setSortIndicator(current.section if current else -1, order)
            self.status_message.emit(f"{column.spec.header} cannot be sorted")

    # --- selection ---------------------------------------------------------------------------

    def selected_listings(self) -> tuple[Listing, ...]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return tuple(self.model.listing_at(row) for row in rows)

    def select_ids(self, ids: Iterable[int]) -> None:
        self._reselect(list(ids))

    def _reselect(self, ids: Sequence[int]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        first = True
        for listing_id in ids:
            row = self.model.row_of(listing_id)
            if row is None:
                continue
            flags = (QItemSelectionModel.SelectionFlag.Select
                     | QItemSelectionModel.SelectionFlag.Rows)
            selection.select(self.model.index(row, 0), flags)
            if first:
                selection.setCurrentIndex(self.model.index(row, 0),
                                          QItemSelectionModel.SelectionFlag.NoUpdate)
                self.table.scrollTo(self.model.index(row, 0))
                first = False
        if first:
            self._selection_changed()

    def _selection_changed(self, *_args: Any) -> None:
        selected = self.selected_listings()
        self.detail.show_listing(selected[0] if len(selected) == 1 else None)
        if len(selected) > 1:
            self.detail.title.setText(f"{len(selected)} listings selected")
        self._update_actions()
        self.selection_changed.emit(selected)

    def _update_actions(self) -> None:
        selected = self.selected_listings()
        statuses = {x.status for x in selected}
        self.edit_action.setEnabled(len(selected) == 1)
        self.submit_action.setEnabled(ListingStatus.DRAFT in statuses)
        self.approve_action.setEnabled(ListingStatus.PENDING_REVIEW in statuses)
        self.reject_action.setEnabled(ListingStatus.PENDING_REVIEW in statuses)
        self.archive_action.setEnabled(ListingStatus.APPROVED in statuses)
        self.relist_action.setEnabled(ListingStatus.ARCHIVED in statuses)
        self.draft_action.setEnabled(ListingStatus.REJECTED in statuses)
        self.delete_action.setEnabled(any(x.status == ListingStatus.DRAFT
                                          and not x.stripe_product_id for x in selected))

    # --- create / edit -----------------------------------------------------------------------

    def open_new_dialog(self) -> ListingDialog:
        dialog = ListingDialog(self._listings, actor=self._actor,
                               default_currency=self._default_currency, parent=self)
        dialog.saved.connect(self._created)
        self._open(dialog)
        return dialog

    def open_edit_dialog(self, listing: Listing) -> ListingDialog:
        dialog = ListingDialog(self._listings, actor=self._actor,
                               default_currency=self._default_currency, listing=listing,
                               parent=self)
        dialog.saved.connect(self._edited)
        self._open(dialog)
        return dialog

    def _open(self, dialog: Any) -> None:
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _result: self._dialogs.remove(dialog)
                                if dialog in self._dialogs else None)
        dialog.open()

    def _created(self, listing: Listing) -> None:
        self.status_message.emit(f"Created “{listing.title}” as a draft")
        self.tasks.spawn("query", self._reload_and_select(listing.id))

    async def _reload_and_select(self, listing_id: int) -> None:
        await self.reload(keep_selection=False)
        self.select_ids([listing_id])

    def _edited(self, listing: Listing) -> None:
        self.show_changed([listing])
        if self.detail.listing is not None and self.detail.listing.id == listing.id:
            self.detail.show_listing(listing)
        self._update_actions()
        self.status_message.emit(f"Saved “{listing.title}” (version {listing.version})")

    # --- bulk actions ---------------------------------------------------------------------

    def ask_bulk(self, kind: BulkKind, act: QAction) -> QMessageBox | None:
        """Act on the selected listings `kind` can move; a batch of destructive changes or a
        mixed selection first asks, naming the count (non-blocking: open() and a signal)."""
        selected = self.selected_listings()
        ids = [x.id for x in eligible(kind, selected)]
        if not ids:
            self.status_message.emit(f"Select listings that are "
                                     f"{STATUS_LABELS[kind.source].lower()} first")
            return None
        question = confirmation_text(kind, len(ids), len(selected))
        if question is None:
            self._start_bulk(kind, ids, act)
            return None
        box = ask_confirmation(self, f"{kind.imperative} listings", question,
                               lambda: self._start_bulk(kind, ids, act),
                               yes_text=f"{kind.imperative} {len(ids):,}")
        box.setObjectName("bulkConfirmation")
        return box

    @asyncSlot()
    async def _start_bulk(self, kind: BulkKind, ids: list[int], act: QAction,
                          reason: str = "") -> None:
        await self.tasks.run("bulk", self.change_status(ids, kind, reason=reason), act)

    async def change_status(self, ids: Sequence[int], kind: BulkKind, *,
                            reason: str = "") -> Any:
        """Move the listings to `kind.target` in one service call and summarize the outcome."""
        if not ids:
            self.status_message.emit("Select listings first")
            return None
        titles = {x.id: x.title for x in self.model.listings() if x.id in set(ids)}
        self.progress_started.emit(f"{kind.progressive} {len(ids):,} listing(s)…", 0)
        try:
            result = await self._listings.change_status_many(
                list(ids), kind.target, actor=self._actor, reason=reason, initiator=self)
        finally:
            self.progress_finished.emit()
        self.show_changed(result.succeeded)
        self._selection_changed()
        summary, details = summarize_bulk(kind, result, titles)
        self.status_message.emit(summary)
        if result.failed:
            show_message(self, f"{kind.past} with problems", summary, details=details)
        await self.refresh_counts()
        return result

    def show_changed(self, changed: Iterable[Listing]) -> None:
        """Rows still passing the filter update in place; the others leave the view and the
        match count at once (approved rows must not linger under "Pending review")."""
        query = self.current_query()
        leaving = []
        for listing in changed:
            if matches_filters(listing, query):
                self.model.update_listing(listing)
            else:
                leaving.append(listing.id)
        if leaving:
            # The rows left the database's result too, so the next page's offset (the
            # loaded count) stays right; refill if the loaded rows ran low.
            self.model.remove_ids(leaving)
            if self.model.loaded < PAGE_SIZE and self.model.canFetchMore():
                self.model.fetchMore()
        self._show_shown()

    def ask_reject(self) -> ReasonDialog | None:
        """The reason dialog is the confirmation: it names the count, and any skipped."""
        kind = BULK_KINDS["reject"]
        selected = self.selected_listings()
        ids = [x.id for x in eligible(kind, selected)]
        if not ids:
            self.status_message.emit("Select listings pending review to reject")
            return None
        dialog = ReasonDialog(len(ids), self, skipped=len(selected) - len(ids))
        dialog.reason_given.connect(
            lambda reason: self._start_bulk(kind, ids, self.reject_action, reason))
        self._open(dialog)
        return dialog

    def ask_delete(self) -> Any:
        drafts = [x for x in self.selected_listings()
                  if x.status == ListingStatus.DRAFT and not x.stripe_product_id]
        if not drafts:
            self.status_message.emit("Only drafts that were never published can be deleted")
            return None
        noun = f"“{drafts[0].title}”" if len(drafts) == 1 else f"{len(drafts)} drafts"
        return ask_confirmation(self, "Delete drafts", f"Delete {noun}? This cannot be undone.",
                                lambda: self._start_delete([x.id for x in drafts]),
                                yes_text="Delete")

    @asyncSlot()
    async def _start_delete(self, ids: list[int]) -> None:
        await self.tasks.run("bulk", self.delete_drafts(ids), self.delete_action)

    async def delete_drafts(self, ids: Sequence[int]) -> dict[int, str]:
        """Delete each draft; returns id -> message for the ones that could not be deleted."""
        failed: dict[int, str] = {}
        titles = {x.id: x.title for x in self.model.listings()}
        self.progress_started.emit(f"Deleting {len(ids)} draft(s)…", len(ids))
        try:
            for done, listing_id in enumerate(ids, start=1):
                try:
                    await self._listings.delete_draft(listing_id, actor=self._actor,
                                                      initiator=self)
                except UhadminError as exc:
                    failed[listing_id] = str(exc)
                self.progress_advanced.emit(done, len(ids), "Deleting drafts…")
        finally:
            self.progress_finished.emit()
        self.model.remove_ids([i for i in ids if i not in failed])
        self._selection_changed()
        deleted = len(ids) - len(failed)
        summary = f"Deleted {deleted} draft{'s' if deleted != 1 else ''}"
        if failed:
            summary += f"; {len(failed)} could not be deleted"
            details = "\n".join(f"#{i} {titles.get(i, '')}: {m}" for i, m in failed.items())
            show_message(self, "Delete with problems", summary, details=details)
        self.status_message.emit(summary)
        await self.refresh_counts()
        return failed

    # --- changes from elsewhere ----------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        if isinstance(change, CheckoutAttemptChanged) or change.initiator is self:
            return  # not a listing; or this tab already applied the results it got back
        refresh = refresh_for(change, self.current_query(),
                              [listing.id for listing in self.model.listings()])
        if refresh is not Refresh.RELOAD and isinstance(change, ListingsChanged):
            # The change carries the saved listings: no read for the rows.
            if refresh is Refresh.PATCH:
                self.show_changed([x for x in change.listings
                                   if self.model.row_of(x.id) is not None])
                self._selection_changed()
            self._catch_up_counts(change)
            return
        ids = listing_ids(change)
        if not ids or len(self._pending_change_ids) + len(ids) > MAX_IDS_TO_PATCH:
            self._pending_full_reload = True
        else:
            self._pending_change_ids.update(ids)
        if not self._change_timer.isActive():
            # Coalesce bursts; and while changes keep streaming in (a long sync), re-run the
            # query at most about once a second rather than after every batch.
            since = time.monotonic() - self._last_change_reload
            wait = CHANGE_COALESCE_MS if since > MIN_RELOAD_INTERVAL_S \
                else max(CHANGE_COALESCE_MS, int((MIN_RELOAD_INTERVAL_S - since) * 1000))
            self._change_timer.start(wait)

    def _catch_up_counts(self, change: ListingsChanged) -> None:
        """Status counts are read again only when a status may have moved; the Stripe
        queue's length comes with the change when the writer counted it."""
        if not change.fields or "status" in change.fields:
            self.tasks.spawn("counts", self.refresh_counts())
        elif change.queue_moved and change.queued is None:
            self.tasks.spawn("counts", self.refresh_counts())
        elif change.queued is not None:
            self._show_counts(self.counts, change.queued)

    def _on_changes_settled(self) -> None:
        ids, full = set(self._pending_change_ids), self._pending_full_reload
        self._pending_change_ids.clear()
        self._pending_full_reload = False
        if full or any(self.model.row_of(i) is None for i in ids):
            self._last_change_reload = time.monotonic()
            self.tasks.spawn("query", self.reload(keep_selection=True))
        else:
            self.tasks.spawn("patch", self.patch_listings(ids))

    async def patch_listings(self, ids: Iterable[int]) -> None:
        """Refetch these listings and update their rows in place (no jump, no lost scroll)."""
        gone: list[int] = []
        changed: list[Listing] = []
        for listing_id in ids:
            try:
                listing = await self._listings.get(listing_id)
            except NotFoundError:
                gone.append(listing_id)
                continue
            changed.append(listing)
        if gone:
            self.model.remove_ids(gone)
        self.show_changed(changed)
        self._selection_changed()
        await self.refresh_counts()


def _as(kind: type, value: Any) -> Any:
    return None if value is None else kind(value)


class _blocked:
    """Block a QObject's signals for the duration of a with-block."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __enter__(self) -> None:
        self._was = self._obj.blockSignals(True)

    def __exit__(self, *_exc: object) -> None:
        self._obj.blockSignals(self._was)
