"""The Listings tab: database-paged and -sorted table, search, filters, detail, bulk actions."""

from __future__ import annotations

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
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from uhadmin.domain import Listing, ListingStatus, Page, SyncState
from uhadmin.domain.bulk import ListingVersion
from uhadmin.views.bulk_actions import BULK_KINDS, BulkKind
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
from uhadmin.views.listings_bulk import ListingsBulk
from uhadmin.views.listings_loading import (
    CHANGE_COALESCE_MS,
    NEEDS_FIXING_FILTER,
    PAGE_SIZE,
)
from uhadmin.views.ports import ChangeSource, ListingWriter
from uhadmin.views.select_matching_bar import SelectMatchingBar
from uhadmin.views.undo_history import UndoHistory

__all__ = ["PAGE_SIZE", "ListingsTab"]

SEARCH_DEBOUNCE_MS = 250


class ListingsTab(ListingsBulk):
    """Every listing, 200 rows at a time from the database.

    Searching, filtering and sorting re-query the database (latest wins); scrolling near the
    end fetches the next page. Mutations go through the service; the ChangeBus tells this tab
    (and every other view) what changed, and it patches or reloads what it shows.
    """

    state_key = "listings"
    selection_changed = Signal(object)  # tuple[Listing, ...]

    def __init__(self, listings: ListingWriter, bus: ChangeSource, *, actor: str,
                 default_currency: str = "usd", dashboard_base: str | None = None,
                 undo: UndoHistory | None = None, parent: QWidget | None = None) -> None:
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
        self.matching_selected = False
        self._bulk_cancel = None
        # The window shares one history between its tabs; a tab on its own keeps its own.
        self.undo = undo if undo is not None else UndoHistory(listings, actor=actor,
                                                              parent=self)

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
        # The header reads the selection only to shade sections, which whole-row selection
        # never does, yet each of its paints asked whether every loaded row was selected in
        # every column: 1,400 calls into the model after Select all (#11). An empty
        # selection of its own spares that; the table's selection is untouched.
        header.setSelectionModel(QItemSelectionModel(self.model, header))
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

        self.matching_bar = SelectMatchingBar()

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.matching_bar)
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
        self.select_matching_action = action(
            "Select all &matching", "Select every listing the search and filters match, "
            "loaded or not, for the bulk actions (Ctrl+Shift+A)", "Ctrl+Shift+A")
        self.select_matching_action.setShortcutContext(
            Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.select_matching_action)
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
        self.select_matching_action.triggered.connect(self.select_all_matching)
        self.matching_bar.select_matching.connect(self.select_all_matching)
        self.matching_bar.clear_requested.connect(self.clear_matching)
        for signal, relay in ((self.undo.status_message, self.status_message),
                              (self.undo.progress_started, self.progress_started),
                              (self.undo.progress_advanced, self.progress_advanced),
                              (self.undo.progress_finished, self.progress_finished)):
            signal.connect(relay)
        for act, kind in self.bulk_actions.items():
            act.triggered.connect(lambda _checked=False, k=kind, a=act: self.ask_bulk(k, a))
        self.bridge = ChangeBridge(bus, self)
        self.bridge.changed.connect(self._on_change)
        # The runner re-enables an action's controls when it ends; whether they should be
        # enabled depends on what is selected now.
        self.tasks.busy_changed.connect(self._busy_changed)
        self._update_actions()

    def _busy_changed(self, _key: str, busy: bool) -> None:
        if not busy:
            self._update_actions()

    # --- WorkspaceTab -----------------------------------------------------------------------

    def menu_actions(self) -> list[QAction | None]:
        return [*self.bulk_actions_list(), None, self.select_matching_action, None,
                self.delete_action]

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
        if self.undo.cancel():
            self.status_message.emit("Cancelling the undo after its current batch…")
        elif self._bulk_cancel is not None:
            # A bulk over every match stops between batches and reports what it did.
            self._bulk_cancel.cancel()
            self.status_message.emit("Cancelling after the current batch…")
        elif self.tasks.cancel("bulk"):
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

    def shutdown(self) -> None:
        self._search_timer.stop()
        self._change_timer.stop()
        self.bridge.close()
        self.detail.shutdown()
        for dialog in self._dialogs:
            dialog.close()
        super().shutdown()

    # --- selection ---------------------------------------------------------------------------

    def _selection_changed(self, *_args: Any) -> None:
        selected = self.selected_listings()
        if self.matching_selected and len(selected) < self.model.rowCount():
            self.matching_selected = False  # a click chose rows again
        self._show_matching_offer()
        self._describe_selection(selected)
        self._update_actions()
        self.selection_changed.emit(selected)

    def _describe_selection(self, selected: tuple[Listing, ...]) -> None:
        """The detail pane: the one listing selected, or how many are (all that match,
        once "Select all matching" chose them, not only the loaded ones)."""
        count = self.model.total if self.matching_selected else len(selected)
        self.detail.show_listing(selected[0] if count == 1 and selected else None)
        if count > 1:
            self.detail.title.setText(f"{count:,} listings selected")

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
        dialog.saved.connect(lambda saved, before=listing: self._edited(saved, before))
        self._open(dialog)
        return dialog

    def _created(self, listing: Listing) -> None:
        self.status_message.emit(f"Created “{listing.title}” as a draft")
        self.tasks.spawn("query", self._reload_and_select(listing.id))

    async def _reload_and_select(self, listing_id: int) -> None:
        await self.reload(keep_selection=False)
        self.select_ids([listing_id])

    def _edited(self, listing: Listing, before: Listing | None = None) -> None:
        if before is not None and listing.version != before.version:
            self.undo.record(f"Edit “{listing.title[:40]}”",
                             [ListingVersion(listing.id, listing.version)])
        self.show_changed([listing])
        if self.detail.listing is not None and self.detail.listing.id == listing.id:
            self.detail.show_listing(listing)
        self._update_actions()
        self.status_message.emit(f"Saved “{listing.title}” (version {listing.version})")

