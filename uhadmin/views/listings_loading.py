"""The Listings tab's loading: the query from its filters, pages, counts, and changes from
elsewhere patched in place or reloaded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QTableView
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
from uhadmin.errors import NotFoundError
from uhadmin.views.empty_state import EmptyState
from uhadmin.views.listing_table import STATUS_LABELS, ListingColumn, ListingTableModel
from uhadmin.views.ports import ListingWriter
from uhadmin.views.undo_history import UndoHistory
from uhadmin.views.workspace import WorkspaceTab

PAGE_SIZE = 200
NEEDS_FIXING_FILTER = "needs_fixing"  # the sync filter's data for "Needs fixing"
CHANGE_COALESCE_MS = 120
MIN_RELOAD_INTERVAL_S = 1.0


def reload_delay_ms(last_reload: float) -> int:
    """How long a view waits before re-running its query for changes made elsewhere: long
    enough to coalesce a burst, and while changes keep streaming in (a long sync, a bulk
    action's batches) about a second after its last reload, not after every batch."""
    since = time.monotonic() - last_reload
    return max(CHANGE_COALESCE_MS, int((MIN_RELOAD_INTERVAL_S - since) * 1000))


# Above this many changed ids, re-running the query is cheaper than fetching each one.
MAX_IDS_TO_PATCH = 100


class ListingsLoading(WorkspaceTab):
    """What the Listings tab shows and how it stays true: searching, filtering and sorting
    re-query the database (latest wins); scrolling near the end fetches the next page; the
    ChangeBus says what changed elsewhere, and rows are patched or the query re-run.

    The widgets are built by ListingsTab; this layer reads and fills them.
    """

    _listings: ListingWriter
    _generation: int
    _pending_change_ids: set[int]
    _pending_full_reload: bool
    _last_change_reload: float
    _search_timer: QTimer
    _change_timer: QTimer
    undo: UndoHistory
    counts: dict[ListingStatus, int]
    queued_changes: int
    model: ListingTableModel
    table: QTableView
    search_edit: QLineEdit
    status_filter: QComboBox
    sync_filter: QComboBox
    counts_label: QLabel
    shown_label: QLabel
    empty_state: EmptyState
    new_action: QAction
    clear_filters_action: QAction
    first_run_actions: list[QAction]

    def _selection_changed(self, *_args: Any) -> None:
        """The selection changed: the tab shows it (detail pane, which actions apply)."""

    # --- selection ---------------------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        """The selected rows, in order.

        From the selection's ranges (whole rows: the table selects rows), not from Qt's
        selectedRows(), which asks the model for every cell of every row (`index` and
        `flags`, each a call into Python that waits for the GIL): with 200 rows selected,
        2,800 calls and 6-22 ms, asked several times per selection change (#11)."""
        rows: set[int] = set()
        selection = self.table.selectionModel().selection()
        for at in range(selection.count()):  # PySide's stubs do not know it is iterable
            selected = selection.at(at)
            rows.update(range(selected.top(), selected.bottom() + 1))
        return sorted(rows)

    def selected_listings(self) -> tuple[Listing, ...]:
        return tuple(self.model.listing_at(row) for row in self.selected_rows())

    def select_ids(self, ids: Iterable[int]) -> None:
        self._reselect(list(ids))

    def _reselect(self, ids: Sequence[int]) -> None:
        """Select these listings' rows in one step: one selectionChanged for all of them
        (row by row, each would re-read the whole selection: seconds for a few hundred)."""
        rows = [row for row in map(self.model.row_of, ids) if row is not None]
        chosen = QItemSelection()
        for top, bottom in row_runs(rows):  # a range per run of rows, not one per row
            chosen.select(self.model.index(top, 0), self.model.index(bottom, 0))
        selection = self.table.selectionModel()
        if rows:
            first = self.model.index(rows[0], 0)
            selection.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.table.scrollTo(first)
        was = selection.hasSelection()
        selection.select(chosen, QItemSelectionModel.SelectionFlag.ClearAndSelect
                         | QItemSelectionModel.SelectionFlag.Rows)
        if not rows and not was:
            self._selection_changed()  # nothing selected before or after: still say so

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
        with blocked(self.search_edit):
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
                "catalog, point uhadmin at its PostgreSQL database in Settings (Ctrl+,).",
                [self.new_action, *self.first_run_actions])
        else:
            self.empty_state.show_guidance(
                "Nothing matches",
                "No listing matches this search and these filters.",
                [self.clear_filters_action])

    def clear_filters(self) -> None:
        """Show every listing: empty search, all statuses, any sync state (one query)."""
        with blocked(self.search_edit):
            self.search_edit.clear()
        for combo in (self.status_filter, self.sync_filter):
            with blocked(combo):
                combo.setCurrentIndex(0)
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

    def _sort_indicator_changed(self, section: int, _order: Qt.SortOrder) -> None:
        column = ListingColumn.at(section)
        if column.spec.sort_key is None:
            # Not sortable in the database: put the indicator back where the sort really is.
            current = ListingColumn.for_sort_key(self.model.sort_key)
            order = Qt.SortOrder.DescendingOrder if self.model.descending \
                else Qt.SortOrder.AscendingOrder
            header = self.table.horizontalHeader()
            with blocked(header):
                header.setSortIndicator(current.section if current else -1, order)
            self.status_message.emit(f"{column.spec.header} cannot be sorted")


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
            self._change_timer.start(reload_delay_ms(self._last_change_reload))

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
        if self.tasks.is_running("bulk") or self.undo.busy:
            # A bulk change (or its undo or redo) is still writing, batch by batch: the rows
            # would show it half done, and a reload's repaint fights the writing thread for
            # the GIL (stalls of 60-120 ms at 2,000 rows, #11). Look again shortly: the
            # rows catch up as soon as it ends.
            self._change_timer.start(CHANGE_COALESCE_MS)
            return
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


class blocked:
    """Block a QObject's signals for the duration of a with-block."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __enter__(self) -> None:
        self._was = self._obj.blockSignals(True)

    def __exit__(self, *_exc: object) -> None:
        self._obj.blockSignals(self._was)



def row_runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """The rows as (first, last) runs of consecutive numbers, in order."""
    runs: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
