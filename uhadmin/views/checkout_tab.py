"""The Checkout lab tab: pick listings and quantities, create a NEW Checkout Session, copy or
open its page, pay with a test card, and watch the history of attempts update live."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from PySide6.QtCore import QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QShowEvent
from PySide6.QtWidgets import QWidget
from qasync import asyncSlot

from uhadmin.domain import CheckoutAttempt, Listing, ListingQuery, ListingStatus, SortKey
from uhadmin.domain.changes import (
    Change,
    CheckoutAttemptChanged,
    ListingsChanged,
    Refresh,
    refresh_for,
)
from uhadmin.domain.filtering import matches_filters
from uhadmin.errors import ModeMismatchError, UhadminError
from uhadmin.views.change_bridge import ChangeBridge
from uhadmin.views.checkout_attempt_text import attempt_summary
from uhadmin.views.checkout_layout import CheckoutLabLayout, show_pick_guidance
from uhadmin.views.checkout_models import (
    STRIPE_CALLS_HEADER,
    CheckoutAttemptTableModel,
    CheckoutCartModel,
    PickListingTableModel,
)
from uhadmin.views.messages import ask_confirmation, friendly_text
from uhadmin.views.ports import ChangeSource, ListingReader

SEARCH_DEBOUNCE_MS = 250
PICK_LIMIT = 200
HISTORY_LIMIT = 200


class CheckoutTab(CheckoutLabLayout):
    """`checkout` is the CheckoutService; `listings` the ListingService; `bus` the ChangeBus.

    The first time the tab is shown it starts the success/cancel/webhook receiver and
    refreshes unfinished attempts; a LIVE key refused by the service disables the lab and
    says why. Outcomes arrive through the ChangeBus ("checkout" changes) without polling.
    """

    state_key = "checkout"
    stripe_calls_requested = Signal(int)  # attempt id

    def __init__(self, checkout: Any, listings: ListingReader, bus: ChangeSource, *, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("checkoutTab")
        self._checkout = checkout
        self._listings = listings
        self._actor = actor
        self._opened = False
        self.refused: str = ""
        self.attempt: CheckoutAttempt | None = None
        self._build(checkout.test_cards())
        self._build_actions()
        self._connect_signals(bus)
        self._show_attempt(None)
        self._update_buttons()

    def _build_actions(self) -> None:
        self.create_action = QAction("&Create checkout session", self)
        self.create_action.setShortcut("Ctrl+Return")
        self.create_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.create_action)
        self.expire_mine_action = QAction("E&xpire all my open sessions…", self)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)

    def _history_clicked(self, index: QModelIndex) -> None:
        if self.history_model.columns[index.column()].header == STRIPE_CALLS_HEADER:
            self.stripe_calls_requested.emit(self.history_model.row_at(index.row()).id)

    def _connect_signals(self, bus: Any) -> None:
        self.create_action.triggered.connect(lambda _checked=False: self.start_create())
        self.expire_mine_action.triggered.connect(lambda _checked=False: self.ask_expire_mine())

        self._search_timer.timeout.connect(
            lambda: self.tasks.spawn("pick", self.load_listings()))
        self.search_edit.textChanged.connect(self._search_timer.start)
        self.add_button.clicked.connect(self.add_selected)
        self.pick_table.doubleClicked.connect(lambda _index: self.add_selected())
        self.remove_button.clicked.connect(self.remove_selected)
        self.cart_model.dataChanged.connect(lambda *_a: self._cart_changed())
        self.cart_model.rowsInserted.connect(lambda *_a: self._cart_changed())
        self.cart_model.rowsRemoved.connect(lambda *_a: self._cart_changed())
        self.cart_model.modelReset.connect(self._cart_changed)
        self.create_button.clicked.connect(self.start_create)
        self.copy_id_button.clicked.connect(lambda: self._copy(self.session_edit.text(),
                                                               "session id"))
        self.copy_url_button.clicked.connect(lambda: self._copy(self.url_edit.text(), "URL"))
        self.open_button.clicked.connect(lambda: self._start_open(self.attempt))
        self.open_selected_button.clicked.connect(
            lambda: self._start_open(self.selected_attempt()))
        self.refresh_button.clicked.connect(self._on_refresh)
        self.expire_button.clicked.connect(self._on_expire)
        self.expire_mine_button.clicked.connect(self.ask_expire_mine)
        self.history_table.selectionModel().selectionChanged.connect(
            lambda *_a: self._update_buttons())
        self.history_table.clicked.connect(self._history_clicked)
        self.tasks.busy_changed.connect(lambda _key, _busy: self._update_buttons())
        self.bridge = ChangeBridge(bus, self)
        self.bridge.changed.connect(self._on_change)

    def menu_actions(self) -> list[QAction | None]:
        return [self.create_action, None, self.expire_mine_action]

    def start(self) -> None:
        self.tasks.spawn("pick", self.load_listings())
        self.tasks.spawn("history", self.load_history())

    def refresh(self) -> None:
        self.tasks.spawn("pick", self.load_listings())
        self._on_refresh()

    def focus_search(self) -> bool:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()
        return True

    def save_state(self, settings: QSettings) -> None:
        settings.setValue(f"{self.state_key}/history",
                          self.history_table.horizontalHeader().saveState())
        settings.setValue(f"{self.state_key}/splitter", self.splitter.saveState())
        settings.setValue(f"{self.state_key}/top", self.top_splitter.saveState())

    def restore_state(self, settings: QSettings) -> None:
        for key, target in (("history", self.history_table.horizontalHeader()),
                            ("splitter", self.splitter), ("top", self.top_splitter)):
            value = settings.value(f"{self.state_key}/{key}")
            if value is not None:
                target.restoreState(value)

    def shutdown(self) -> None:
        self._search_timer.stop()
        self.bridge.close()
        super().shutdown()

    def show_error(self, error: UhadminError) -> None:
        text = friendly_text(error)
        if isinstance(error, ModeMismatchError):
            self._refuse(text)
        self.error_label.setText(text)
        self.error_label.show()
        super().show_error(error)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._opened:
            self._opened = True
            self.tasks.spawn("open", self.open_lab())

    # --- opening the lab -----------------------------------------------------------------

    async def open_lab(self) -> None:
        """Refresh unfinished attempts (the service refuses a LIVE key here, before any
        network call, unless settings allow it) and start the receiver."""
        try:
            await self._checkout.refresh_open(initiator=self)
        except ModeMismatchError as refused:
            self._refuse(friendly_text(refused))
            return
        receiver = await self._checkout.start_receiver()
        self.receiver_label.setText(f"Receiver: success, cancel and webhooks at {receiver.url}")
        await self.load_history()

    def _refuse(self, text: str) -> None:
        self.refused = text
        self.banner_label.setText(f"The checkout lab is off: {text}")
        self.banner.show()
        self._update_buttons()

    # --- picking ---------------------------------------------------------------------------

    def pick_query(self) -> ListingQuery:
        """The listings to pick from: approved ones matching the search, by title."""
        return ListingQuery(search=self.search_edit.text().strip(),
                            statuses=frozenset({ListingStatus.APPROVED}), sort=SortKey.TITLE,
                            descending=False, limit=PICK_LIMIT)

    async def load_listings(self) -> list[Listing]:
        page = await self._listings.search(self.pick_query())
        self.pick_model.set_rows(page.items)
        show_pick_guidance(self.pick_empty, len(page.items), self.search_edit.text().strip())
        return list(page.items)

    def add_selected(self) -> None:
        rows = sorted({i.row() for i in self.pick_table.selectionModel().selectedRows()})
        if not rows:
            self.status_message.emit("Select listings to add")
            return
        for row in rows:
            self.cart_model.add(self.pick_model.row_at(row))

    def add_listing(self, listing: Listing, quantity: int = 1) -> None:
        self.cart_model.add(listing, quantity)

    def remove_selected(self) -> None:
        self.cart_model.remove_rows([i.row() for i in
                                     self.cart_table.selectionModel().selectedRows()])

    def _cart_changed(self) -> None:
        self.total_label.setText(self.cart_model.total_text())
        self._update_buttons()

    def expires_in(self) -> timedelta:
        return self.expiry_box.currentData()

    # --- creating --------------------------------------------------------------------------

    def start_create(self) -> None:
        """The button, Ctrl+Return: one session per click; ignored while one is made."""
        if not self.tasks.is_running("create") and self.create_button.isEnabled():
            # Disabled now, not when the task first runs: a second click of a double click
            # arrives before that and must find the button off.
            self.create_button.setEnabled(False)
            self.create_action.setEnabled(False)
            self._run_create()

    @asyncSlot()
    async def _run_create(self) -> None:
        await self.tasks.run("create", self.create_session(), self.create_button,
                             self.create_action)

    async def create_session(self) -> CheckoutAttempt:
        """A NEW Checkout Session for the chosen lines; shows its id and page."""
        self.error_label.hide()
        lines = self.cart_model.lines()
        self.status_message.emit("Creating a checkout session…")
        attempt = await self._checkout.create(lines, expires_in=self.expires_in(),
                                              initiator=self)
        self.history_model.upsert(attempt)
        self._show_attempt(attempt)
        self.status_message.emit(f"Created session {attempt.session_id}")
        return attempt

    def _show_attempt(self, attempt: CheckoutAttempt | None) -> None:
        self.attempt = attempt
        self.session_edit.setText(attempt.session_id or "" if attempt else "")
        self.url_edit.setText(attempt.url or "" if attempt else "")
        self.url_edit.setCursorPosition(0)
        self.session_edit.setCursorPosition(0)
        text, style = attempt_summary(attempt)
        self.outcome_label.setText(text)
        self.outcome_label.setStyleSheet(style)
        self._update_buttons()

    def _copy(self, text: str, what: str) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)
            self.status_message.emit(f"Copied the {what}")

    # --- opening the page -------------------------------------------------------------------

    def _start_open(self, attempt: CheckoutAttempt | None) -> None:
        if attempt is None:
            self.status_message.emit("Choose a session first")
            return
        self.tasks.spawn("open-page", self.open_page(attempt))

    async def open_page(self, attempt: CheckoutAttempt) -> str:
        url = await self._checkout.open_in_browser(attempt)
        self.status_message.emit(f"Opened {url} in the browser")
        return url

    # --- history ----------------------------------------------------------------------------

    async def load_history(self) -> list[CheckoutAttempt]:
        attempts = await self._checkout.list_attempts(limit=HISTORY_LIMIT)
        kept = {a.id for a in self.selected_attempts()}
        self.history_model.set_rows(attempts)
        for row, attempt in enumerate(attempts):
            if attempt.id in kept:
                self.history_table.selectRow(row)
        self._update_buttons()
        return attempts

    def selected_attempts(self) -> list[CheckoutAttempt]:
        rows = sorted({i.row() for i in self.history_table.selectionModel().selectedRows()})
        return [self.history_model.row_at(row) for row in rows]

    def selected_attempt(self) -> CheckoutAttempt | None:
        chosen = self.selected_attempts()
        return chosen[0] if chosen else None

    def _on_change(self, change: Change) -> None:
        if isinstance(change, CheckoutAttemptChanged):
            self.tasks.spawn(f"change-{id(change)}", self.apply_change(change.attempt_id))
            return
        query = self.pick_query()
        refresh = refresh_for(change, query, [x.id for x in self.pick_model.rows()])
        if (refresh is Refresh.PATCH and isinstance(change, ListingsChanged)
                and all(matches_filters(x, query) for x in change.listings
                        if self.pick_model.row_of(x.id) is not None)):
            for listing in change.listings:  # no read: the change carries them
                if self.pick_model.row_of(listing.id) is not None:
                    self.pick_model.upsert(listing)
        elif refresh is not Refresh.NOTHING and not self._search_timer.isActive():
            self._search_timer.start()  # published listings may have come or gone

    async def apply_change(self, attempt_id: int | None) -> None:
        """An attempt changed (success/cancel page, webhook, refresh): show it as it is now
        (None: several or unknown, the whole history again)."""
        if attempt_id is None:
            await self.load_history()
            return
        attempt = await self._checkout.get(attempt_id)
        self.history_model.upsert(attempt)
        if self.attempt is not None and self.attempt.id == attempt.id:
            self._show_attempt(attempt)
        self._update_buttons()

    @asyncSlot()
    async def _on_refresh(self) -> None:
        await self.tasks.run("refresh", self.refresh_attempts(), self.refresh_button)

    async def refresh_attempts(self) -> list[CheckoutAttempt]:
        """Ask Stripe about the selected attempts, or about every unfinished one."""
        chosen = self.selected_attempts()
        if chosen:
            fresh = [await self._checkout.refresh(a.id, initiator=self) for a in chosen]
        else:
            fresh = await self._checkout.refresh_open(initiator=self)
        for attempt in fresh:
            self.history_model.upsert(attempt)
            if self.attempt is not None and self.attempt.id == attempt.id:
                self._show_attempt(attempt)
        self.status_message.emit(f"Refreshed {len(fresh)} attempt(s) from Stripe")
        return fresh

    @asyncSlot()
    async def _on_expire(self) -> None:
        await self.tasks.run("expire", self.expire_selected(), self.expire_button)

    async def expire_selected(self) -> list[CheckoutAttempt]:
        expired = []
        for attempt in self.selected_attempts():
            done = await self._checkout.expire(attempt.id, initiator=self)
            self.history_model.upsert(done)
            if self.attempt is not None and self.attempt.id == done.id:
                self._show_attempt(done)
            expired.append(done)
        self.status_message.emit(f"Expired {len(expired)} session(s)")
        return expired

    def ask_expire_mine(self) -> Any:
        return ask_confirmation(
            self, "Expire my open sessions",
            f"Expire every open checkout session made by {self._actor}? Buyers on those "
            "pages can no longer pay.", self._start_expire_mine, yes_text="Expire all")

    @asyncSlot()
    async def _start_expire_mine(self) -> None:
        await self.tasks.run("expire", self.expire_mine(), self.expire_mine_button)

    async def expire_mine(self) -> list[CheckoutAttempt]:
        expired = await self._checkout.expire_mine(initiator=self)
        for attempt in expired:
            self.history_model.upsert(attempt)
            if self.attempt is not None and self.attempt.id == attempt.id:
                self._show_attempt(attempt)
        self.status_message.emit(f"Expired {len(expired)} open session(s) of {self._actor}")
        return expired

    # --- enabling -----------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        allowed = not self.refused
        creating = self.tasks.is_running("create")
        chosen = self.selected_attempts()
        can_create = allowed and not creating and bool(self.cart_model.lines())
        self.create_button.setEnabled(can_create)
        self.create_action.setEnabled(can_create)
        self.remove_button.setEnabled(bool(self.cart_model.lines()))
        has_page = self.attempt is not None and bool(self.attempt.url) \
            and self.attempt.status == "open"
        self.open_button.setEnabled(allowed and has_page)
        self.copy_id_button.setEnabled(bool(self.session_edit.text()))
        self.copy_url_button.setEnabled(bool(self.url_edit.text()))
        self.open_selected_button.setEnabled(
            allowed and len(chosen) == 1 and chosen[0].status == "open" and bool(chosen[0].url))
        self.refresh_button.setEnabled(allowed and not self.tasks.is_running("refresh"))
        self.expire_button.setEnabled(allowed and not self.tasks.is_running("expire") and any(
            a.status == "open" for a in chosen))
        self.expire_mine_button.setEnabled(allowed and not self.tasks.is_running("expire"))
        self.expire_mine_action.setEnabled(self.expire_mine_button.isEnabled())


__all__ = ["CheckoutAttemptTableModel", "CheckoutCartModel", "CheckoutTab",
           "PickListingTableModel"]
