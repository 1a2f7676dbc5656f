"""The Listings tab's bulk actions: on the selected rows, or on every listing the filter
matches (in the service, in batches, with progress, Cancel and a count of what was skipped),
each recorded for undo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox
from qasync import asyncSlot

from uhadmin.domain import CancelToken, ListingStatus
from uhadmin.domain.bulk import BulkOutcome, BulkProgress, ListingVersion
from uhadmin.errors import UhadminError
from uhadmin.views.bulk_actions import (
    BULK_KINDS,
    BulkKind,
    action_name,
    confirmation_text,
    eligible,
    listings_noun,
    matching_confirmation_text,
    summarize_bulk,
    summarize_outcome,
)
from uhadmin.views.listing_table import STATUS_LABELS
from uhadmin.views.listings_loading import ListingsLoading
from uhadmin.views.messages import ask_confirmation, show_message
from uhadmin.views.reason_dialog import ReasonDialog
from uhadmin.views.repaint import lay_out_and_paint_now
from uhadmin.views.select_matching_bar import SelectMatchingBar
from uhadmin.views.undo_history import UndoHistory


class ListingsBulk(ListingsLoading):
    """Bulk status changes and draft deletion for the Listings tab (built by ListingsTab)."""

    _actor: str
    undo: UndoHistory
    matching_bar: SelectMatchingBar
    edit_action: QAction
    submit_action: QAction
    approve_action: QAction
    reject_action: QAction
    archive_action: QAction
    relist_action: QAction
    draft_action: QAction
    delete_action: QAction
    select_matching_action: QAction
    matching_selected: bool
    _bulk_cancel: CancelToken | None

    _dialogs: list[Any]

    def _open(self, dialog: Any) -> None:
        """Open a dialog the tab keeps (and closes with itself)."""
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _result: self._dialogs.remove(dialog)
                                if dialog in self._dialogs else None)
        dialog.open()

    # --- all matching ------------------------------------------------------------------------

    def select_all_matching(self) -> bool:
        """Select every listing the search and filters match, loaded or not (Ctrl+Shift+A);
        False when there is nothing to select."""
        if self.model.total == 0:
            return False
        self.table.selectAll()  # the loaded rows show it; the actions take all matches
        self._set_matching(True)
        return True

    def _set_matching(self, chosen: bool) -> None:
        self.matching_selected = chosen and self.model.total > 0
        self._selection_changed()  # the bar, the actions and the detail pane's count

    def _show_matching_offer(self) -> None:
        loaded, total = self.model.rowCount(), self.model.total
        self.select_matching_action.setText(f"Select all {total:,} &matching")
        if self.matching_selected:
            self.matching_bar.show_chosen(total)
        elif loaded and total > loaded and \
                len(self.selected_rows()) == loaded:
            self.matching_bar.offer(loaded, total)
        else:
            self.matching_bar.withdraw()

    def clear_matching(self) -> None:
        self.matching_selected = False
        self.table.clearSelection()
        self._show_matching_offer()

    def bulk_actions_list(self) -> list[QAction]:
        return [self.submit_action, self.approve_action, self.reject_action,
                self.archive_action, self.relist_action, self.draft_action]

    def _update_actions(self) -> None:
        selected = self.selected_listings()
        statuses = {x.status for x in selected}
        if self.matching_selected:
            # Rows not loaded may be in any status the filter allows.
            wanted = self.current_query().statuses
            statuses = set(wanted or ListingStatus)
            selected = ()
        self.edit_action.setEnabled(len(selected) == 1)
        self.submit_action.setEnabled(ListingStatus.DRAFT in statuses)
        self.approve_action.setEnabled(ListingStatus.PENDING_REVIEW in statuses)
        self.reject_action.setEnabled(ListingStatus.PENDING_REVIEW in statuses)
        self.archive_action.setEnabled(ListingStatus.APPROVED in statuses)
        self.relist_action.setEnabled(ListingStatus.ARCHIVED in statuses)
        self.draft_action.setEnabled(ListingStatus.REJECTED in statuses)
        self.delete_action.setEnabled(any(x.status == ListingStatus.DRAFT
                                          and not x.stripe_product_id for x in selected))

    def ask_bulk_matching(self, kind: BulkKind, act: QAction) -> QMessageBox:
        """Every match, after a question naming the count; Esc or Cancel changes nothing."""
        total = self.model.total
        box = ask_confirmation(self, f"{kind.imperative} all matching listings",
                               matching_confirmation_text(kind, total),
                               lambda: self._start_matching(kind, act),
                               yes_text=f"{kind.imperative} {total:,}")
        box.setObjectName("bulkConfirmation")
        return box

    @asyncSlot()
    async def _start_matching(self, kind: BulkKind, act: QAction, reason: str = "") -> None:
        await self.tasks.run("bulk", self.change_status_matching(kind, reason=reason), act)

    async def change_status_matching(self, kind: BulkKind, *,
                                     reason: str = "") -> BulkOutcome:
        """Move every listing the current query matches, in the service's batches; progress
        below, Cancel stops between batches; then one line counting what changed and what
        was skipped and why."""
        query, total = self.current_query(), self.model.total
        token = self._bulk_cancel = CancelToken()
        text = f"{kind.progressive} {listings_noun(total)}…"
        self.progress_started.emit(text, total)

        def progress(step: BulkProgress) -> None:
            self.progress_advanced.emit(step.done, step.total, text)

        lay_out_and_paint_now()
        try:
            outcome: BulkOutcome = await self._listings.change_status_matching(
                query, kind.target, actor=self._actor, reason=reason, initiator=self,
                on_progress=progress, cancel=token)
        finally:
            self._bulk_cancel = None
            self.progress_finished.emit()
        self.undo.record(action_name(kind, len(outcome.changed)), outcome.changed)
        self.status_message.emit(summarize_outcome(kind, outcome))
        await self.reload(keep_selection=False)
        self._set_matching(False)
        return outcome

    # --- the selected rows -------------------------------------------------------------------

    def ask_bulk(self, kind: BulkKind, act: QAction) -> QMessageBox | None:
        """Act on the selected listings `kind` can move; a batch of destructive changes or a
        mixed selection first asks, naming the count (non-blocking: open() and a signal).
        With all matching selected it acts on every match, and always asks first."""
        if self.matching_selected:
            return self.ask_bulk_matching(kind, act)
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
        if result.succeeded:
            first = result.succeeded[0]
            self.undo.record(action_name(kind, len(result.succeeded), first.title),
                             [ListingVersion(x.id, x.version) for x in result.succeeded])
        summary, details = summarize_bulk(kind, result, titles)
        self.status_message.emit(summary)
        if result.failed:
            show_message(self, f"{kind.past} with problems", summary, details=details)
        await self.refresh_counts()
        return result

    def ask_reject(self) -> ReasonDialog | None:
        """The reason dialog is the confirmation: it names the count, and any skipped."""
        kind = BULK_KINDS["reject"]
        if self.matching_selected:
            dialog = ReasonDialog(self.model.total, self)
            dialog.reason_given.connect(
                lambda reason: self._start_matching(kind, self.reject_action, reason))
            self._open(dialog)
            return dialog
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

