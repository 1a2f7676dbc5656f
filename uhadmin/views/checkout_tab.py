"""The Checkout lab tab: pick listings and quantities, create a NEW Checkout Session, copy or
open its page, pay with a test card, and watch the history of attempts update live."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from uhadmin.domain import (
    DEFAULT_EXPIRY,
    CheckoutAttempt,
    Listing,
    ListingQuery,
    ListingStatus,
    Outcome,
    SortKey,
    describe_duration,
)
from uhadmin.errors import ModeMismatchError, UhadminError
from uhadmin.money import format_money
from uhadmin.views.change_bridge import ChangeBridge
from uhadmin.views.listing_table import SYNC_LABELS, format_time
from uhadmin.views.messages import ask_confirmation, friendly_text
from uhadmin.views.row_table import Column, RowTableModel
from uhadmin.views.test_cards_panel import TestCardsPanel
from uhadmin.views.workspace import WorkspaceTab

SEARCH_DEBOUNCE_MS = 250
PICK_LIMIT = 200
HISTORY_LIMIT = 200
MAX_QUANTITY = 99
EXPIRY_CHOICES = (timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2),
                  timedelta(hours=6), timedelta(hours=24))
OUTCOME_COLOURS = {Outcome.PAID: "#2e8b57", Outcome.DECLINED: "#d04545",
                   Outcome.CANCELED: "#c77c02", Outcome.EXPIRED: "#8c8f94"}


def _amount(attempt: CheckoutAttempt) -> str:
    if attempt.amount_total is None:
        return "—"
    return format_money(attempt.amount_total, attempt.currency)


def _listings_text(attempt: CheckoutAttempt) -> str:
    return ", ".join(f"{line.quantity}× {line.title or '#' + str(line.listing_id)}"
                     for line in attempt.lines)


def _outcome_text(attempt: CheckoutAttempt) -> str:
    return "creating…" if attempt.status == "creating" else str(attempt.outcome)


def _reason(attempt: CheckoutAttempt) -> str:
    if attempt.decline_code and attempt.decline_message:
        return f"{attempt.decline_code}: {attempt.decline_message}"
    return attempt.decline_code or attempt.decline_message


STRIPE_CALLS_HEADER = "Stripe"


def attempt_columns() -> list[Column[CheckoutAttempt]]:
    return [
        Column("#", lambda a: str(a.id), sort_value=lambda a: a.id, align_right=True, width=44),
        Column("Created", lambda a: format_time(a.created_at), width=120),
        Column("Outcome", _outcome_text, width=80,
               foreground=lambda a: QColor(OUTCOME_COLOURS[a.outcome])
               if a.outcome in OUTCOME_COLOURS else None),
        Column("Amount", _amount, align_right=True, width=90),
        Column("Listings", _listings_text, tooltip=_listings_text, width=220),
        Column("Decline reason", _reason, tooltip=_reason, width=200),
        Column("Session", lambda a: a.session_id or "—", tooltip=lambda a: a.url or "",
               width=200),
        Column("Expires", lambda a: format_time(a.expires_at), width=120),
        Column("Tester", lambda a: a.tester, width=120),
        # One click opens the Stripe log at this attempt's calls (CheckoutTab.clicked).
        Column(STRIPE_CALLS_HEADER, lambda a: "calls ›", width=60),
    ]


class CheckoutAttemptTableModel(RowTableModel[CheckoutAttempt]):
    """The lab's history: one row per Checkout Session, newest first."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(attempt_columns(), key=lambda attempt: attempt.id, parent=parent)


class PickListingTableModel(RowTableModel[Listing]):
    """Published listings a session can sell."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__([
            Column("Title", lambda x: x.title, tooltip=lambda x: x.title, width=220),
            Column("Price", lambda x: format_money(x.price_minor, x.currency),
                   align_right=True, width=90),
            Column("Sync", lambda x: SYNC_LABELS[x.sync_state], width=90),
        ], key=lambda listing: listing.id, parent=parent)


class CheckoutCartModel(QAbstractTableModel):
    """The lines of the next session: listing, unit price, quantity (editable), amount."""

    HEADERS = ("Listing", "Unit price", "Qty", "Amount")
    QUANTITY_COLUMN = 2

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._lines: list[tuple[Listing, int]] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._lines)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == self.QUANTITY_COLUMN:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._lines):
            return None
        listing, quantity = self._lines[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == self.QUANTITY_COLUMN:
                return quantity if role == Qt.ItemDataRole.EditRole else str(quantity)
            return [listing.title, format_money(listing.price_minor, listing.currency), "",
                    format_money(listing.price_minor * quantity, listing.currency)][column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == self.QUANTITY_COLUMN:
            return f"Double-click to change (1 to {MAX_QUANTITY})"
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != self.QUANTITY_COLUMN \
                or role != Qt.ItemDataRole.EditRole:
            return False
        try:
            quantity = int(str(value).strip())
        except ValueError:
            return False
        if not 1 <= quantity <= MAX_QUANTITY:
            return False
        listing, _ = self._lines[index.row()]
        self._lines[index.row()] = (listing, quantity)
        self.dataChanged.emit(self.index(index.row(), 0),
                              self.index(index.row(), len(self.HEADERS) - 1))
        return True

    def add(self, listing: Listing, quantity: int = 1) -> None:
        """Add a listing, or one more of it if it is already there."""
        for row, (existing, count) in enumerate(self._lines):
            if existing.id == listing.id:
                self.setData(self.index(row, self.QUANTITY_COLUMN),
                             min(count + quantity, MAX_QUANTITY))
                return
        self.beginInsertRows(QModelIndex(), len(self._lines), len(self._lines))
        self._lines.append((listing, quantity))
        self.endInsertRows()

    def remove_rows(self, rows: Sequence[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self._lines):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._lines[row]
                self.endRemoveRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._lines.clear()
        self.endResetModel()

    def lines(self) -> list[tuple[int, int]]:
        """(listing id, quantity) pairs, as CheckoutService.create takes them."""
        return [(listing.id, quantity) for listing, quantity in self._lines]

    def total_text(self) -> str:
        if not self._lines:
            return "No listings chosen"
        currencies = {listing.currency for listing, _ in self._lines}
        if len(currencies) > 1:
            return "Mixed currencies: a session sells in one currency"
        total = sum(listing.price_minor * quantity for listing, quantity in self._lines)
        return f"Total {format_money(total, currencies.pop())}"


class CheckoutTab(WorkspaceTab):
    """`checkout` is the CheckoutService; `listings` the ListingService; `bus` the ChangeBus.

    The first time the tab is shown it starts the success/cancel/webhook receiver and
    refreshes unfinished attempts; a LIVE key refused by the service disables the lab and
    says why. Outcomes arrive through the ChangeBus ("checkout" changes) without polling.
    """

    state_key = "checkout"
    stripe_calls_requested = Signal(int)  # attempt id

    def __init__(self, checkout: Any, listings: Any, bus: Any, *, actor: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("checkoutTab")
        self._checkout = checkout
        self._listings = listings
        self._actor = actor
        self._opened = False
        self.refused: str = ""
        self.attempt: CheckoutAttempt | None = None

        # --- the live-mode refusal (hidden unless the service refuses) ---
        self.banner = QFrame()
        self.banner.setObjectName("noticeBanner")
        self.banner_label = QLabel("")
        self.banner_label.setObjectName("labRefusal")
        self.banner_label.setWordWrap(True)
        self.banner_label.setTextFormat(Qt.TextFormat.PlainText)
        QVBoxLayout(self.banner).addWidget(self.banner_label)
        self.banner.hide()

        # --- pick listings ---
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("labSearch")
        self.search_edit.setPlaceholderText("Search published listings…")
        self.search_edit.setClearButtonEnabled(True)
        self.pick_model = PickListingTableModel(self)
        self.pick_table = self._table(self.pick_model, "labPickTable")
        self.pick_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.add_button = QPushButton("Add ↓")
        self.add_button.setObjectName("labAddButton")
        self.add_button.setToolTip("Add the selected listings to the session (or double-click)")
        self.cart_model = CheckoutCartModel(self)
        self.cart_table = self._table(self.cart_model, "labCartTable")
        self.cart_table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                        | QAbstractItemView.EditTrigger.EditKeyPressed
                                        | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.cart_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.cart_table.setColumnWidth(1, 90)
        self.cart_table.setColumnWidth(2, 40)
        self.cart_table.setColumnWidth(3, 90)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("labRemoveButton")
        self.total_label = QLabel(self.cart_model.total_text())
        self.total_label.setObjectName("labTotal")
        self.expiry_box = QComboBox()
        self.expiry_box.setObjectName("labExpiry")
        for choice in EXPIRY_CHOICES:
            self.expiry_box.addItem(f"expires in {describe_duration(choice)}", choice)
        self.expiry_box.setCurrentIndex(EXPIRY_CHOICES.index(DEFAULT_EXPIRY))
        self.create_button = QPushButton("Create checkout session")
        self.create_button.setObjectName("labCreateButton")
        self.create_button.setDefault(True)
        self.create_button.setToolTip("A NEW Checkout Session every time (Ctrl+Return)")
        pick_box = QGroupBox("1. Listings and quantities")
        pick = QVBoxLayout(pick_box)
        pick.addWidget(self.search_edit)
        pick.addWidget(self.pick_table, 3)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        add_row.addWidget(self.remove_button)
        pick.addLayout(add_row)
        pick.addWidget(self.cart_table, 2)
        create_row = QHBoxLayout()
        create_row.addWidget(self.total_label, 1)
        create_row.addWidget(self.expiry_box)
        create_row.addWidget(self.create_button)
        pick.addLayout(create_row)

        # --- the session just made ---
        self.session_edit = QLineEdit()
        self.session_edit.setObjectName("labSessionId")
        self.session_edit.setReadOnly(True)
        self.session_edit.setPlaceholderText("no session yet")
        self.url_edit = QLineEdit()
        self.url_edit.setObjectName("labSessionUrl")
        self.url_edit.setReadOnly(True)
        self.copy_id_button = QPushButton("Copy")
        self.copy_id_button.setObjectName("labCopyId")
        self.copy_url_button = QPushButton("Copy")
        self.copy_url_button.setObjectName("labCopyUrl")
        self.open_button = QPushButton("Open in browser")
        self.open_button.setObjectName("labOpenButton")
        self.outcome_label = QLabel("Create a session, open it, pay with a test card.")
        self.outcome_label.setObjectName("labOutcome")
        self.outcome_label.setWordWrap(True)
        self.outcome_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label = QLabel("")
        self.error_label.setProperty("problem", True)
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.hide()
        session_box = QGroupBox("2. Session")
        form = QFormLayout(session_box)
        id_row = QHBoxLayout()
        id_row.addWidget(self.session_edit, 1)
        id_row.addWidget(self.copy_id_button)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url_edit, 1)
        url_row.addWidget(self.copy_url_button)
        form.addRow("Session id", id_row)
        form.addRow("Page", url_row)
        form.addRow("", self.open_button)
        form.addRow("Outcome", self.outcome_label)
        form.addRow("", self.error_label)
        self.receiver_label = QLabel("Receiver: not started")
        self.receiver_label.setObjectName("formIntro")
        self.receiver_label.setWordWrap(True)
        form.addRow("", self.receiver_label)

        self.cards = TestCardsPanel(checkout.test_cards())
        cards_box = QGroupBox("3. Pay with a test card")
        QVBoxLayout(cards_box).addWidget(self.cards)

        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(session_box)
        middle_layout.addWidget(cards_box, 1)

        # --- history ---
        self.history_model = CheckoutAttemptTableModel(self)
        self.history_table = self._table(self.history_model, "labHistoryTable")
        self.history_table.horizontalHeader().setStretchLastSection(True)
        self.refresh_button = QPushButton("Refresh from Stripe")
        self.refresh_button.setObjectName("labRefreshButton")
        self.refresh_button.setToolTip("Ask Stripe about the selected attempts, or every "
                                       "unfinished one if none is selected (F5)")
        self.expire_button = QPushButton("Expire")
        self.expire_button.setObjectName("labExpireButton")
        self.expire_button.setToolTip("Expire the selected open session now")
        self.expire_mine_button = QPushButton("Expire all my open sessions…")
        self.expire_mine_button.setObjectName("labExpireMineButton")
        self.open_selected_button = QPushButton("Open selected")
        self.open_selected_button.setObjectName("labOpenSelected")
        history_head = QHBoxLayout()
        title = QLabel("History")
        title.setObjectName("detailTitle")
        history_head.addWidget(title)
        history_head.addStretch(1)
        for button in (self.open_selected_button, self.refresh_button, self.expire_button,
                       self.expire_mine_button):
            history_head.addWidget(button)
        history = QWidget()
        history_layout = QVBoxLayout(history)
        history_layout.setContentsMargins(0, 0, 0, 0)
        history_layout.addLayout(history_head)
        history_layout.addWidget(self.history_table, 1)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("labTopSplitter")
        top.addWidget(pick_box)
        top.addWidget(middle)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("labSplitter")
        self.splitter.addWidget(top)
        self.splitter.addWidget(history)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.top_splitter = top
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        # --- actions and wiring ---
        self.create_action = QAction("&Create checkout session", self)
        self.create_action.setShortcut("Ctrl+Return")
        self.create_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.create_action)
        self.expire_mine_action = QAction("E&xpire all my open sessions…", self)
        self.create_action.triggered.connect(lambda _checked=False: self.start_create())
        self.expire_mine_action.triggered.connect(lambda _checked=False: self.ask_expire_mine())

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
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
        self._show_attempt(None)
        self._update_buttons()

    @staticmethod
    def _table(model: Any, name: str) -> QTableView:
        table = QTableView()
        table.setObjectName(name)
        table.setModel(model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(24)
        columns = getattr(model, "columns", ())
        for number, column in enumerate(columns):
            table.setColumnWidth(number, column.width)
        return table

    # --- WorkspaceTab -----------------------------------------------------------------------

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

    async def load_listings(self) -> list[Listing]:
        page = await self._listings.search(ListingQuery(
            search=self.search_edit.text().strip(),
            statuses=frozenset({ListingStatus.APPROVED}), sort=SortKey.TITLE,
            descending=False, limit=PICK_LIMIT))
        self.pick_model.set_rows(page.items)
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
        if attempt is None:
            self.outcome_label.setText("Create a session, open it, pay with a test card.")
            self.outcome_label.setStyleSheet("")
        else:
            text = f"{_outcome_text(attempt)} · {_amount(attempt)} · {_listings_text(attempt)}"
            if _reason(attempt):
                text += f"\nLast decline: {_reason(attempt)}"
            self.outcome_label.setText(text)
            colour = OUTCOME_COLOURS.get(attempt.outcome)
            self.outcome_label.setStyleSheet(f"color: {colour}; font-weight: bold;"
                                             if colour else "font-weight: bold;")
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

    def _history_clicked(self, index: QModelIndex) -> None:
        if self.history_model.columns[index.column()].header == STRIPE_CALLS_HEADER:
            self.stripe_calls_requested.emit(self.history_model.row_at(index.row()).id)

    def selected_attempts(self) -> list[CheckoutAttempt]:
        rows = sorted({i.row() for i in self.history_table.selectionModel().selectedRows()})
        return [self.history_model.row_at(row) for row in rows]

    def selected_attempt(self) -> CheckoutAttempt | None:
        chosen = self.selected_attempts()
        return chosen[0] if chosen else None

    def _on_change(self, change: Any) -> None:
        if change.kind == "checkout":
            self.tasks.spawn(f"change-{id(change)}", self.apply_change(change.ids))
        elif change.kind in ("listing", "sync") and not self._search_timer.isActive():
            self._search_timer.start()  # published listings may have come or gone

    async def apply_change(self, ids: Any) -> None:
        """An attempt changed (success/cancel page, webhook, refresh): show it as it is now."""
        if not ids:
            await self.load_history()
            return
        for attempt_id in ids:
            attempt = await self._checkout.get(int(attempt_id))
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
