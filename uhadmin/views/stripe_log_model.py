"""The Stripe log tab's table model: pages of frozen log entries, fetched as the view scrolls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex
from PySide6.QtGui import QColor

from uhadmin.domain.stripe_log import StripeLogEntry, StripeLogFilter
from uhadmin.views.row_table import Column, RowTableModel

PAGE_SIZE = 200
_ERROR_COLOUR = QColor("#c62828")


class StripeLogSource(Protocol):
    """What the tab needs of the Stripe log service."""

    async def page(self, where: StripeLogFilter | None = None, *, before_id: int | None = None,
                   after_id: int | None = None, limit: int = 200,
                   ) -> list[StripeLogEntry]: ...

    async def entry(self, entry_id: int) -> StripeLogEntry: ...


def _status(entry: StripeLogEntry) -> str:
    if entry.kind == "webhook":
        return "verified" if entry.signature_verified else "REFUSED"
    return "no answer" if not entry.status else str(entry.status)


def _what(entry: StripeLogEntry) -> str:
    if entry.kind == "webhook":
        return f"webhook {entry.event_type or ''}".rstrip()
    return entry.path


def _for(entry: StripeLogEntry) -> str:
    parts = [entry.served] if entry.served and entry.served != "webhook" else []
    if entry.listing_id is not None:
        parts.append(f"listing {entry.listing_id}"
                     + (f" r{entry.listing_revision}" if entry.listing_revision else ""))
    if entry.attempt_id is not None:
        parts.append(f"attempt {entry.attempt_id}")
    return ", ".join(parts)


def log_columns() -> list[Column[StripeLogEntry]]:
    red = lambda e: _ERROR_COLOUR if e.is_error else None  # noqa: E731
    return [
        Column("Time", lambda e: e.time.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
               sort_value=lambda e: e.id, width=150),
        Column("Method", lambda e: e.method, width=60),
        Column("Path", _what, tooltip=lambda e: e.endpoint or _what(e), width=260),
        Column("Status", _status, align_right=True, width=70, foreground=red),
        Column("Latency", lambda e: "" if e.latency_ms is None else f"{e.latency_ms:.0f} ms",
               align_right=True, width=70),
        Column("Retry", lambda e: str(e.retry) if e.retry else "", align_right=True, width=45),
        Column("For", _for, width=170),
        Column("Request id", lambda e: e.request_id or e.event_id or "", width=170),
        Column("Error", lambda e: e.error_code or e.error_type or "",
               tooltip=lambda e: e.error_message or "", width=150, foreground=red),
    ]


class StripeLogTableModel(RowTableModel[StripeLogEntry]):
    """Newest first; `canFetchMore`/`fetchMore` ask for the next older page, never all.

    Passive: `fetchMore` calls `request_page(before_id)` (the tab loads it asynchronously
    and hands it back with `append_page`); no I/O happens here.
    """

    def __init__(self, request_page: Callable[[int | None], None] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(log_columns(), key=lambda entry: entry.id, parent=parent)
        self.request_page = request_page
        self._exhausted = True
        self._loading = False

    def reset_pages(self, first_page: Sequence[StripeLogEntry]) -> None:
        """Show `first_page` (the newest entries) and allow fetching older ones."""
        self._loading = False
        self._exhausted = len(first_page) < PAGE_SIZE
        self.set_rows(first_page)

    def append_page(self, page: Sequence[StripeLogEntry]) -> None:
        self._loading = False
        self._exhausted = len(page) < PAGE_SIZE
        if not page:
            return
        start = self.rowCount()
        self.beginInsertRows(QModelIndex(), start, start + len(page) - 1)
        self._rows.extend(page)
        self.endInsertRows()

    def prepend_newer(self, newer: Sequence[StripeLogEntry]) -> None:
        """Entries newer than the first row (newest first), added at the top."""
        if not newer:
            return
        self.beginInsertRows(QModelIndex(), 0, len(newer) - 1)
        self._rows[0:0] = list(newer)
        self.endInsertRows()

    def newest_id(self) -> int | None:
        return self._rows[0].id if self._rows else None

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and not self._exhausted and not self._loading \
            and self.request_page is not None

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if not self.canFetchMore(parent):
            return
        self._loading = True
        assert self.request_page is not None
        self.request_page(self._rows[-1].id if self._rows else None)

    def loading_failed(self) -> None:
        self._loading = False

    def entry_at(self, row: int) -> StripeLogEntry:
        return self.row_at(row)
