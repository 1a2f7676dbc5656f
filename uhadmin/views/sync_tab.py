"""The Sync tab: push queued changes (all, or the selected listings), see progress, cancel,
resume, and retry what Stripe refused; the window's connection state follows the service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from uhadmin.domain import (
    CancelToken,
    ConnectionState,
    Listing,
    ListingQuery,
    SortKey,
    SyncProgress,
    SyncReport,
    SyncState,
    SyncStatus,
)
from uhadmin.domain.changes import (
    Change,
    CheckoutAttemptChanged,
    ListingsChanged,
    Refresh,
    SyncChanged,
    refresh_for,
)
from uhadmin.errors import UhadminError
from uhadmin.views.account_banner import AccountBanner
from uhadmin.views.change_bridge import ChangeBridge
from uhadmin.views.empty_state import EmptyState
from uhadmin.views.messages import friendly_text
from uhadmin.views.ports import ChangeSource, ListingReader, SyncPort
from uhadmin.views.sync_activity import BackgroundRunsView, run_name
from uhadmin.views.sync_failures import (
    SyncFailureTableModel,
    failures_table,
    show_failure_count,
)
from uhadmin.views.sync_texts import (
    apply_sync_status,
    describe_report,
    describe_waited,
    state_text,
)
from uhadmin.views.workspace import WorkspaceTab

__all__ = ["SyncFailureTableModel", "SyncTab", "apply_sync_status", "describe_report"]

PROGRESS_INTERVAL_S = 0.1  # status-bar updates at most ten times a second
FAILURES_SHOWN = 500
# The failures list: the listings whose last push failed, most recent first.
FAILED_LISTINGS = ListingQuery(sync_states=frozenset({SyncState.FAILED}), sort=SortKey.UPDATED,
                               descending=True, limit=FAILURES_SHOWN)
FAILURE_RELOAD_MS = 1000  # sync changes stream in per batch: reload the list once a second


class SyncTab(BackgroundRunsView, WorkspaceTab):
    """Sync with Stripe on demand. `sync` is the SyncService (run, status, subscribe_status,
    queued), `listings` the ListingService (for the failed listings), `bus` the ChangeBus.

    Selected listings come from the Listings tab through `set_selection`. Cancel stops after
    the listings already at Stripe; the queue is the resume point, so "Sync" continues.
    """

    state_key = "sync"
    connection_changed = Signal(object)  # SyncStatus
    finished = Signal(object)  # SyncReport

    def __init__(self, sync: SyncPort, listings: ListingReader, bus: ChangeSource,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncTab")
        self._sync = sync
        self._listings = listings
        self._token: CancelToken | None = None
        self._selected: tuple[int, ...] = ()
        self._last_progress = 0.0
        self.last_report: SyncReport | None = None
        self._what = ""  # what the manual run in progress pushes ("all queued changes")
        self._waiting = False  # a manual run waits behind the background one
        self._waited_behind: SyncReport | None = None  # what that background run did
        self._background_shown = False  # a background run's progress is in the status bar
        self._behind = "background"

        self.sync_all_button = QPushButton("Sync all queued changes")
        self.sync_all_button.setObjectName("syncAllButton")
        self.sync_all_button.setToolTip("Push every queued change to Stripe (Ctrl+Shift+S)")
        self.sync_selected_button = QPushButton("Sync selected listings")
        self.sync_selected_button.setObjectName("syncSelectedButton")
        self.sync_selected_button.setToolTip("Push only the listings selected in the "
                                             "Listings tab")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("syncCancelButton")
        self.cancel_button.setToolTip("Stop after the listings already at Stripe; Sync "
                                      "resumes where it stopped")
        self.cancel_button.setEnabled(False)
        self.state_label = QLabel("")
        self.state_label.setObjectName("syncState")
        buttons = QHBoxLayout()
        buttons.addWidget(self.sync_all_button)
        buttons.addWidget(self.sync_selected_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.state_label)

        self.account_banner = AccountBanner()
        self.account_banner.use_requested.connect(
            lambda: self.tasks.spawn("account", self.use_current_account()))
        self.summary_label = QLabel("No sync has run in this session yet. Changes also "
                                    "sync by themselves in the background while Stripe "
                                    "answers; their progress shows here and below too.")
        self.summary_label.setObjectName("syncSummary")
        self.error_label = QLabel("")
        self.error_label.setProperty("problem", True)
        self.notes_label = QLabel("")
        self.notes_label.setObjectName("formIntro")
        for label in (self.summary_label, self.error_label, self.notes_label):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.hide()
        self.notes_label.hide()

        self.failures_title = QLabel("Failures")
        self.failures_title.setObjectName("detailTitle")
        self.failures_model = SyncFailureTableModel(self)
        self.failures_table = failures_table(self.failures_model)
        self.retry_button = QPushButton("Retry selected")
        self.retry_button.setObjectName("retrySelectedButton")
        self.retry_button.setToolTip("Push the selected failed listings again now")
        self.retry_all_button = QPushButton("Retry all failed")
        self.retry_all_button.setObjectName("retryAllButton")
        retry_row = QHBoxLayout()
        retry_row.addWidget(self.failures_title)
        retry_row.addStretch(1)
        retry_row.addWidget(self.retry_button)
        retry_row.addWidget(self.retry_all_button)

        self.failures_empty = EmptyState(self.failures_table)
        layout = QVBoxLayout(self)
        layout.addWidget(self.account_banner)
        layout.addLayout(buttons)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.error_label)
        layout.addLayout(retry_row)
        layout.addWidget(self.failures_table, 1)

        self.sync_action = QAction("Sync &all queued changes", self)
        self.sync_action.triggered.connect(lambda _checked=False: self.start_sync())
        self.sync_selected_action = QAction("Sync &selected listings", self)
        self.sync_selected_action.triggered.connect(
            lambda _checked=False: self.start_sync(self._selected))
        self.retry_action = QAction("&Retry selected failures", self)
        self.retry_action.triggered.connect(lambda _checked=False: self.start_retry())
        self.cancel_action = QAction("&Cancel sync", self)
        self.cancel_action.setEnabled(False)
        self.cancel_action.triggered.connect(lambda _checked=False: self.cancel_progress())

        self.sync_all_button.clicked.connect(lambda: self.start_sync())
        self.sync_selected_button.clicked.connect(lambda: self.start_sync(self._selected))
        self.cancel_button.clicked.connect(self.cancel_progress)
        self.retry_button.clicked.connect(lambda: self.start_retry())
        self.retry_all_button.clicked.connect(lambda: self.start_retry(all_failed=True))
        self.failures_table.selectionModel().selectionChanged.connect(
            lambda *_args: self._update_buttons())
        self.tasks.busy_changed.connect(lambda _key, _busy: self._update_buttons())

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(FAILURE_RELOAD_MS)
        self._reload_timer.timeout.connect(
            lambda: self.tasks.spawn("failures", self.load_failures()))
        self.bridge = ChangeBridge(bus, self)
        self.bridge.changed.connect(self._on_change)
        self._unsubscribe_status: Callable[[], None] | None = sync.subscribe_status(
            self._status_changed)
        self._unsubscribe_activity = sync.activity.subscribe(self._activity)
        self._show_state(sync.status)
        self._update_buttons()

    # --- WorkspaceTab -----------------------------------------------------------------------

    def menu_actions(self) -> list[QAction | None]:
        return []  # the window's Sync menu holds them (menu_entries), whichever tab is in front

    def menu_entries(self) -> list[QAction]:
        return [self.sync_selected_action, self.retry_action, self.cancel_action]

    def start(self) -> None:
        self.tasks.spawn("failures", self.load_failures())

    def refresh(self) -> None:
        self.tasks.spawn("failures", self.load_failures())

    def cancel_progress(self) -> None:
        """Stop the sync in progress, whoever started it (one sync, one Cancel)."""
        mine = self._token is not None and not self._token.cancelled
        if mine:
            assert self._token is not None
            self._token.cancel()
        if self._sync.activity.cancel_running() or mine:
            self.cancel_button.setEnabled(False)
            self.status_message.emit("Cancelling: the listings already at Stripe finish, "
                                     "the rest stays queued")

    def save_state(self, settings: QSettings) -> None:
        settings.setValue(f"{self.state_key}/failures",
                          self.failures_table.horizontalHeader().saveState())

    def restore_state(self, settings: QSettings) -> None:
        state = settings.value(f"{self.state_key}/failures")
        if state is not None:
            self.failures_table.horizontalHeader().restoreState(state)

    def shutdown(self) -> None:
        if self._token is not None:
            self._token.cancel()
        self._reload_timer.stop()
        self.bridge.close()
        if self._unsubscribe_status is not None:
            self._unsubscribe_status()
            self._unsubscribe_status = None
            self._unsubscribe_activity()
        super().shutdown()

    def show_error(self, error: UhadminError) -> None:
        self.summary_label.setText(f"The sync at {time.strftime('%H:%M')} did not run.")
        if self._sync.status.state is ConnectionState.WRONG_ACCOUNT:
            # The banner above names both accounts and the way out: said once, not twice.
            self.status_message.emit("Sync stopped: the key points at another Stripe account")
            return
        self.error_label.setText(friendly_text(error))
        self.error_label.show()
        super().show_error(error)

    # --- selection from the Listings tab --------------------------------------------------

    def set_selection(self, listings: Iterable[Listing]) -> None:
        self._selected = tuple(listing.id for listing in listings)
        self._update_buttons()

    def selected_failures(self) -> list[Listing]:
        rows = sorted({i.row() for i in self.failures_table.selectionModel().selectedRows()})
        return [self.failures_model.row_at(row) for row in rows]

    def _update_buttons(self) -> None:
        running = self.tasks.is_running("sync")
        count = len(self._selected)
        self.sync_selected_button.setText(f"Sync selected listings ({count})" if count
                                          else "Sync selected listings")
        for control in (self.sync_all_button, self.sync_action):
            control.setEnabled(not running)
        for control in (self.sync_selected_button, self.sync_selected_action):
            control.setEnabled(not running and bool(count))
        has_failures = self.failures_model.rowCount() > 0
        for control in (self.retry_button, self.retry_action):
            control.setEnabled(not running and bool(self.selected_failures()))
        self.retry_all_button.setEnabled(not running and has_failures)
        self.cancel_button.setEnabled(
            (running and self._token is not None and not self._token.cancelled)
            or (self._background_shown and not running))
        self.cancel_action.setEnabled(self.cancel_button.isEnabled())

    # --- syncing --------------------------------------------------------------------------

    def start_sync(self, listing_ids: Sequence[int] | None = None) -> None:
        """What the buttons, the menu and Ctrl+Shift+S do (ignored while a sync runs)."""
        if not self.tasks.is_running("sync"):
            self._run_sync(None if listing_ids is None else tuple(listing_ids))

    @asyncSlot()
    async def _run_sync(self, listing_ids: tuple[int, ...] | None) -> None:
        await self.tasks.run("sync", self.sync(listing_ids))

    def start_retry(self, *, all_failed: bool = False) -> None:
        chosen = self.failures_model.rows() if all_failed else self.selected_failures()
        if not chosen:
            self.status_message.emit("Select failed listings to retry")
            return
        self.start_sync([listing.id for listing in chosen])

    async def sync(self, listing_ids: Sequence[int] | None = None) -> SyncReport:
        """Run one sync (all queued changes, or those of `listing_ids`) with progress in the
        status bar; returns the report. Expected errors propagate to the task runner."""
        self.error_label.hide()
        self._token = CancelToken()
        self._last_progress = 0.0
        self._waited_behind = None
        what = "all queued changes" if listing_ids is None \
            else f"{len(listing_ids)} listing{'s' if len(listing_ids) != 1 else ''}"
        self._what = what
        if not self._background_shown:
            self.progress_started.emit(f"Syncing {what}", 0)
        self._background_shown = False  # the status bar's progress is this run's now
        self.summary_label.setText(f"Syncing {what}…")
        self._update_buttons()
        try:
            report = await self._sync.run(progress=self._progress, cancel=self._token,
                                          listing_ids=listing_ids, initiator="manual")
        finally:
            self.progress_finished.emit()
            self._token = None
            self._waiting = False
        self.last_report = report
        # Said as a past event, without the queue count (the state label has the live one).
        said = describe_waited(self._waited_behind, report, run_name(self._behind))
        self.summary_label.setText(f"Last sync, at {time.strftime('%H:%M')}: {said}")
        self.notes_label.setText("\n".join(report.notes))
        self.notes_label.setVisible(bool(report.notes))
        self.status_message.emit(describe_report(report))
        await self.load_failures()
        self.finished.emit(report)
        return report

    def _progress(self, step: SyncProgress) -> None:
        now = time.monotonic()
        if step.done < step.total and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        text = "Syncing"
        if step.current_title:
            text = f"Syncing “{_short(step.current_title)}”"
        self.progress_advanced.emit(step.done, step.total, text)

    # --- failures -------------------------------------------------------------------------

    async def load_failures(self) -> list[Listing]:
        """The listings whose last push failed, most recent first."""
        page = await self._listings.search(FAILED_LISTINGS)
        kept = {listing.id for listing in self.selected_failures()}
        self.failures_model.set_rows(page.items)
        for row, listing in enumerate(page.items):
            if listing.id in kept:
                self.failures_table.selectRow(row)
        show_failure_count(self.failures_title, self.failures_empty, page.total)
        self._update_buttons()
        # The queue moves with every edit, not only when a sync reports: keep it current.
        status = self._sync.status
        self._show_state(SyncStatus(status.state, await self._sync.queued(), status.message))
        return list(page.items)

    def _on_change(self, change: Change) -> None:
        if isinstance(change, CheckoutAttemptChanged):
            return
        if isinstance(change, ListingsChanged) and change.queued is not None:
            status = self._sync.status  # the writer counted the queue: no read for it
            self._show_state(SyncStatus(status.state, change.queued, status.message))
            queue_read = False
        else:
            queue_read = isinstance(change, SyncChanged) or change.queue_moved
        shown = [listing.id for listing in self.failures_model.rows()]
        if ((queue_read or refresh_for(change, FAILED_LISTINGS, shown) is not Refresh.NOTHING)
                and not self._reload_timer.isActive()):
            self._reload_timer.start()

    # --- connection -------------------------------------------------------------------------

    def _status_changed(self, status: SyncStatus) -> None:
        self._show_state(status)
        self.connection_changed.emit(status)

    def _show_state(self, status: SyncStatus) -> None:
        self.state_label.setText(state_text(status))
        self.state_label.setToolTip(status.message)
        colour = {ConnectionState.ONLINE: QColor("#2e8b57"),
                  ConnectionState.OFFLINE: QColor("#d04545"),
                  ConnectionState.STOPPED: QColor("#d04545"),
                  ConnectionState.WRONG_ACCOUNT: QColor("#d04545")}.get(status.state)
        self.state_label.setStyleSheet(f"color: {colour.name()};" if colour else "")
        if status.state is ConnectionState.WRONG_ACCOUNT:
            self.account_banner.show_message(status.message)
        else:
            self.account_banner.hide()
        if status.state is ConnectionState.STOPPED and status.message:
            self.error_label.setText(status.message)
            self.error_label.show()

    async def use_current_account(self) -> None:
        """Re-point the catalog at the key's account (the banner asked first), then sync."""
        account = await self._sync.use_current_account(self._sync.actor)
        self.account_banner.hide()
        if account is not None:
            self.status_message.emit(f"This catalog now syncs with {account.describe()}")
        self.start_sync()

def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
