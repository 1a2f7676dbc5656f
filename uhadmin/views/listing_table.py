"""ListingTableModel: a passive Qt table over frozen Listings, paged and sorted by the database."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from uhadmin.domain import Listing, ListingStatus, Page, SortKey, SyncState
from uhadmin.money import format_money
from uhadmin.views.flat_table import FlatTableModel

ListingRole = Qt.ItemDataRole.UserRole + 1  # the frozen Listing of the row
SortRole = Qt.ItemDataRole.UserRole + 2  # the raw value the column sorts by

_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter

STATUS_LABELS = {
    ListingStatus.DRAFT: "Draft",
    ListingStatus.PENDING_REVIEW: "Pending review",
    ListingStatus.APPROVED: "Approved",
    ListingStatus.REJECTED: "Rejected",
    ListingStatus.ARCHIVED: "Archived",
}
SYNC_LABELS = {
    SyncState.NOT_PUBLISHED: "Not published",
    SyncState.PENDING: "Pending",
    SyncState.SYNCED: "Synced",
    SyncState.FAILED: "Failed",
}
# Mid-tone colours that stay readable on both the light and the dark palette.
STATUS_COLOURS = {
    ListingStatus.PENDING_REVIEW: QColor("#c77c02"),
    ListingStatus.APPROVED: QColor("#2e8b57"),
    ListingStatus.REJECTED: QColor("#d04545"),
    ListingStatus.ARCHIVED: QColor("#8a8a8a"),
}
SYNC_COLOURS = {
    SyncState.PENDING: QColor("#c77c02"),
    SyncState.SYNCED: QColor("#2e8b57"),
    SyncState.FAILED: QColor("#d04545"),
}
# A row that breaks a rule (the website wrote it so): its own state in the Sync column,
# because it goes nowhere until someone fixes it. Magenta: no other state uses it.
NEEDS_FIXING_LABEL = "Needs fixing"
NEEDS_FIXING_COLOUR = QColor("#b0309a")


def problems_text(listing: Listing) -> str:
    """The rules a listing breaks, one per line, for tooltips and the detail pane."""
    return "\n".join(f"• {problem}" for problem in listing.problems)


def format_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class _ColumnSpec:
    header: str
    display: Callable[[Listing], str]
    sort_key: SortKey | None  # None: the database cannot sort by it, so neither do we
    sort_value: Callable[[Listing], Any]
    alignment: Qt.AlignmentFlag = _LEFT
    tooltip: Callable[[Listing], str] | None = None
    width: int = 110


def _sync_label(listing: Listing) -> str:
    return NEEDS_FIXING_LABEL if listing.needs_fixing else SYNC_LABELS[listing.sync_state]


def _sync_tooltip(listing: Listing) -> str:
    text = SYNC_LABELS[listing.sync_state]
    if listing.needs_fixing:
        text = (f"{NEEDS_FIXING_LABEL}: not sent to Stripe until fixed (Edit)\n"
                f"{problems_text(listing)}\n\nSync: {text}")
    if listing.sync_error:
        text += f": {listing.sync_error}"
    if listing.last_synced_at:
        text += f"\nlast synced {format_time(listing.last_synced_at)}"
    return text


class ListingColumn(Enum):
    """The one list of table columns: header, display, tooltip, alignment and sort key."""

    ID = _ColumnSpec("ID", lambda x: str(x.id), SortKey.ID, lambda x: x.id, _RIGHT, width=64)
    TITLE = _ColumnSpec("Title", lambda x: x.title, SortKey.TITLE, lambda x: x.title.casefold(),
                        tooltip=lambda x: x.title + (f"\n\n{x.description[:300]}"
                                                     if x.description else ""), width=300)
    PRICE = _ColumnSpec("Price", lambda x: format_money(x.price_minor, x.currency),
                        SortKey.PRICE, lambda x: x.price_minor, _RIGHT, width=100)
    STATUS = _ColumnSpec("Status", lambda x: STATUS_LABELS[x.status], SortKey.STATUS,
                         lambda x: x.status.value,
                         tooltip=lambda x: STATUS_LABELS[x.status]
                         + (f": {x.rejection_reason}" if x.rejection_reason else ""))
    SYNC_STATE = _ColumnSpec("Sync", _sync_label, SortKey.SYNC_STATE,
                             lambda x: x.sync_state.value, tooltip=_sync_tooltip, width=100)
    PRODUCT_ID = _ColumnSpec("Stripe product", lambda x: x.stripe_product_id or "", None,
                             lambda x: x.stripe_product_id or "", width=150)
    PRICE_ID = _ColumnSpec("Stripe price", lambda x: x.stripe_price_id or "", None,
                           lambda x: x.stripe_price_id or "", width=150)
    UPDATED = _ColumnSpec("Updated", lambda x: format_time(x.updated_at), SortKey.UPDATED,
                          lambda x: x.updated_at or datetime.min,
                          tooltip=lambda x: f"updated {format_time(x.updated_at)} by "
                          f"{x.updated_by or 'unknown'}\ncreated {format_time(x.created_at)}",
                          width=130)

    @property
    def spec(self) -> _ColumnSpec:
        return self.value

    @classmethod
    def at(cls, section: int) -> ListingColumn:
        return _COLUMNS[section]

    @property
    def section(self) -> int:
        return _COLUMNS.index(self)

    @classmethod
    def for_sort_key(cls, key: SortKey) -> ListingColumn | None:
        return next((c for c in _COLUMNS if c.spec.sort_key is key), None)


_COLUMNS: list[ListingColumn] = list(ListingColumn)
_SPECS: list[_ColumnSpec] = [column.value for column in _COLUMNS]
_ALIGNMENTS: list[int] = [int(spec.alignment.value) for spec in _SPECS]
_STATUS_SECTION = _COLUMNS.index(ListingColumn.STATUS)
_SYNC_SECTION = _COLUMNS.index(ListingColumn.SYNC_STATE)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_ANSWERED_ROLES = frozenset({_DISPLAY, _TOOLTIP, _ALIGNMENT, _FOREGROUND,
                             int(ListingRole), int(SortRole)})


class ListingTableModel(FlatTableModel):
    """Rows are frozen Listings the view hands in; the model never queries anything.

    Paging: `canFetchMore` says whether the database holds more rows than loaded, and
    `fetchMore` asks for them through `more_requested(offset)`; the owning view runs the
    query and calls `append_page`. Sorting: `sort` emits `sort_requested(key, descending)`
    so the view re-queries the database (a proxy sort over 100,000 rows took 7 s).
    """

    more_requested = Signal(int)  # offset of the next page
    sort_requested = Signal(object, bool)  # SortKey, descending

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[Listing] = []
        self._row_of_id: dict[int, int] = {}
        self._display_cache: dict[int, tuple[str, ...]] = {}  # row -> text of each column
        self._total = 0
        self._fetch_pending = False
        self.sort_key: SortKey = SortKey.UPDATED
        self.descending = True

    # --- feeding the model (the view calls these with service results) --------------

    def set_page(self, page: Page[Listing]) -> None:
        self.beginResetModel()
        self._rows = list(page.items)
        self._total = max(page.total, len(self._rows))
        self._fetch_pending = False
        self._reindex()
        self.endResetModel()

    def append_page(self, page: Page[Listing]) -> None:
        self._fetch_pending = False
        new = [x for x in page.items if x.id not in self._row_of_id]
        self._total = max(page.total, len(self._rows) + len(new))
        if not new:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._rows.extend(new)
        for offset, listing in enumerate(new):
            self._row_of_id[listing.id] = first + offset
        self.endInsertRows()

    def fetch_failed(self) -> None:
        """The page request did not complete; allow `fetchMore` to ask again."""
        self._fetch_pending = False

    def update_listing(self, listing: Listing) -> bool:
        """Replace the row holding this listing's id; False if it is not loaded."""
        row = self._row_of_id.get(listing.id)
        if row is None:
            return False
        self._rows[row] = listing
        self._display_cache.pop(row, None)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(_COLUMNS) - 1))
        return True

    def remove_ids(self, ids: Iterable[int]) -> None:
        for row in sorted((self._row_of_id[i] for i in ids if i in self._row_of_id),
                          reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self._total = max(0, self._total - 1)
            self.endRemoveRows()
        self._reindex()

    def clear(self) -> None:
        self.set_page(Page(items=(), total=0))

    def _reindex(self) -> None:
        self._row_of_id = {listing.id: row for row, listing in enumerate(self._rows)}
        self._display_cache.clear()

    # --- reading ---------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Rows matching the current query in the database (loaded or not)."""
        return self._total

    @property
    def loaded(self) -> int:
        return len(self._rows)

    def listing_at(self, row: int) -> Listing:
        return self._rows[row]

    def row_of(self, listing_id: int) -> int | None:
        return self._row_of_id.get(listing_id)

    def listings(self) -> tuple[Listing, ...]:
        return tuple(self._rows)

    # --- QAbstractTableModel ------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_COLUMNS)

    def cell(self, row: int, column: int, role: int) -> Any:
        # Called for ~7 roles of every visible cell per paint: plain-int role checks, cached
        # display text (babel's money formatting is the expensive part), no enum lookups.
        if role not in _ANSWERED_ROLES:
            return None
        if not (0 <= row < len(self._rows) and 0 <= column < len(_COLUMNS)):
            return None
        if role == _DISPLAY:
            texts = self._display_cache.get(row)
            if texts is None:
                listing = self._rows[row]
                texts = self._display_cache[row] = tuple(spec.display(listing)
                                                         for spec in _SPECS)
            return texts[column]
        if role == _ALIGNMENT:
            return _ALIGNMENTS[column]
        listing = self._rows[row]
        if role == _FOREGROUND:
            if column == _STATUS_SECTION:
                return STATUS_COLOURS.get(listing.status)
            if column == _SYNC_SECTION:
                if listing.needs_fixing:
                    return NEEDS_FIXING_COLOUR
                return SYNC_COLOURS.get(listing.sync_state)
            return None
        spec = _SPECS[column]
        if role == _TOOLTIP:
            return (spec.tooltip or spec.display)(listing)
        if role == ListingRole:
            return listing
        return spec.sort_value(listing)  # SortRole

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(_COLUMNS):
            return None
        spec = _COLUMNS[section].spec
        if role == Qt.ItemDataRole.DisplayRole:
            return spec.header
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"Sort by {spec.header.lower()} (in the database)" if spec.sort_key
                    else f"{spec.header} (not sortable)")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(spec.alignment)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        # Asked for every index of a selection (thousands after Select all): one constant
        # rather than an enum union built per call (#11).
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return (not parent.isValid() and not self._fetch_pending
                and len(self._rows) < self._total)

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if not self.canFetchMore(parent):
            return
        self._fetch_pending = True
        self.more_requested.emit(len(self._rows))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(_COLUMNS):
            return
        key = _COLUMNS[column].spec.sort_key
        if key is None:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if (key, descending) == (self.sort_key, self.descending):
            return
        self.sort_key, self.descending = key, descending
        self.sort_requested.emit(key, descending)
