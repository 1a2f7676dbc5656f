"""The checkout lab's widgets and their arrangement, which adapts to the window's size.

Wide (at least WIDE_LAYOUT_PX): three columns, listings | session | test cards, above the
history, so at 1280x800 everything shows without scrolling. Narrower: the test cards go
under the session. The top part sits in a scroll area and never squeezes a control below
its minimum size, and the cards table is always tall and wide enough for every card's
outcome: at 1024x640 what does not fit is reachable by scrolling, never cut off.
"""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
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
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from uhadmin.domain import DEFAULT_EXPIRY, TestCard, describe_duration
from uhadmin.views.checkout_models import (
    CheckoutAttemptTableModel,
    CheckoutCartModel,
    PickListingTableModel,
)
from uhadmin.views.empty_state import EmptyState
from uhadmin.views.test_cards_panel import TestCardsPanel
from uhadmin.views.workspace import WorkspaceTab

WIDE_LAYOUT_PX = 1200
EXPIRY_CHOICES = (timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2),
                  timedelta(hours=6), timedelta(hours=24))
ROW_HEIGHT = 24


def lab_table(model: object, name: str) -> QTableView:
    """A read-only, row-selecting table with the model's column widths."""
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)  # type: ignore[arg-type]
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    for number, column in enumerate(getattr(model, "columns", ())):
        table.setColumnWidth(number, column.width)
    return table


class CheckoutLabLayout(WorkspaceTab):
    """Builds the lab's widgets (as attributes) and keeps them arranged for the width."""

    def _build(self, cards: tuple[TestCard, ...]) -> None:
        self._build_banner()
        pick_box = self._build_pick()
        session_box = self._build_session()
        self.cards = TestCardsPanel(cards)
        self.cards_box = QGroupBox("3. Pay with a test card")
        QVBoxLayout(self.cards_box).addWidget(self.cards)
        history = self._build_history()
        self._arrange(pick_box, session_box, history)

    def _build_banner(self) -> None:
        """The live-mode refusal (hidden unless the service refuses)."""
        self.banner = QFrame()
        self.banner.setObjectName("noticeBanner")
        self.banner_label = QLabel("")
        self.banner_label.setObjectName("labRefusal")
        self.banner_label.setWordWrap(True)
        self.banner_label.setTextFormat(Qt.TextFormat.PlainText)
        QVBoxLayout(self.banner).addWidget(self.banner_label)
        self.banner.hide()

    def _build_pick(self) -> QGroupBox:
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("labSearch")
        self.search_edit.setPlaceholderText("Search published listings…")
        self.search_edit.setClearButtonEnabled(True)
        self.pick_model = PickListingTableModel(self)
        self.pick_table = lab_table(self.pick_model, "labPickTable")
        self.pick_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.pick_empty = EmptyState(self.pick_table)
        self.add_button = QPushButton("Add ↓")
        self.add_button.setObjectName("labAddButton")
        self.add_button.setToolTip("Add the selected listings to the session (or double-click)")
        self.cart_model = CheckoutCartModel(self)
        self.cart_table = lab_table(self.cart_model, "labCartTable")
        self.cart_table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                        | QAbstractItemView.EditTrigger.EditKeyPressed
                                        | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.cart_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        for column, width in ((1, 90), (2, 40), (3, 90)):
            self.cart_table.setColumnWidth(column, width)
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
        # Total above, expiry and create below: each keeps its full text at any width.
        pick.addWidget(self.total_label)
        create_row = QHBoxLayout()
        create_row.addWidget(self.expiry_box)
        create_row.addStretch(1)
        create_row.addWidget(self.create_button)
        pick.addLayout(create_row)
        return pick_box

    def _build_session(self) -> QGroupBox:
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
        self.receiver_label = QLabel("Receiver: not started")
        self.receiver_label.setObjectName("formIntro")
        self.receiver_label.setWordWrap(True)
        session_box = QGroupBox("2. Session")
        form = QFormLayout(session_box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for label, edit, button in (("Session id", self.session_edit, self.copy_id_button),
                                    ("Page", self.url_edit, self.copy_url_button)):
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(button)
            form.addRow(label, row)
        form.addRow("", self.open_button)
        form.addRow("Outcome", self.outcome_label)
        form.addRow("", self.error_label)
        form.addRow("", self.receiver_label)
        return session_box

    def _build_history(self) -> QWidget:
        self.history_model = CheckoutAttemptTableModel(self)
        self.history_table = lab_table(self.history_model, "labHistoryTable")
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
        head = QHBoxLayout()
        title = QLabel("History")
        title.setObjectName("detailTitle")
        head.addWidget(title)
        head.addStretch(1)
        for button in (self.open_selected_button, self.refresh_button, self.expire_button,
                       self.expire_mine_button):
            head.addWidget(button)
        history = QWidget()
        layout = QVBoxLayout(history)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.history_table, 1)
        history.setMinimumHeight(4 * ROW_HEIGHT + head.sizeHint().height())
        return history

    def _arrange(self, pick_box: QGroupBox, session_box: QGroupBox, history: QWidget) -> None:
        self.middle = QWidget()
        self.middle_layout = QVBoxLayout(self.middle)
        self.middle_layout.setContentsMargins(0, 0, 0, 0)
        self.middle_layout.addWidget(session_box)
        self.middle_layout.addWidget(self.cards_box, 1)
        self.top_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.top_splitter.setObjectName("labTopSplitter")
        self.top_splitter.setChildrenCollapsible(False)
        self.top_splitter.addWidget(pick_box)
        self.top_splitter.addWidget(self.middle)
        self.top_scroll = QScrollArea()
        self.top_scroll.setObjectName("labTopScroll")
        self.top_scroll.setWidgetResizable(True)
        self.top_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.top_scroll.setWidget(self.top_splitter)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("labSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.top_scroll)
        self.splitter.addWidget(history)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.wide = False

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's naming
        super().resizeEvent(event)
        self.arrange_for_width(event.size().width())

    def arrange_for_width(self, width: int) -> None:
        """Test cards in their own column when wide enough, under the session otherwise."""
        wide = width >= WIDE_LAYOUT_PX
        if wide == self.wide:
            return
        self.wide = wide
        if wide:
            self.top_splitter.addWidget(self.cards_box)
        else:
            self.middle_layout.addWidget(self.cards_box, 1)
        for index in range(self.top_splitter.count()):
            self.top_splitter.setStretchFactor(index, 1)


def show_pick_guidance(empty: EmptyState, shown: int, search: str) -> None:
    """What the listing picker says when it has nothing to offer (first run, or a search)."""
    if shown:
        empty.hide()
    elif search:
        empty.show_guidance("No approved listing matches",
                            "Only approved listings can be bought; clear the search to see "
                            "them all.")
    else:
        empty.show_guidance(
            "No listings to buy yet",
            "Listings must be approved and synced to Stripe (a product and its price) to "
            "be bought. Approve listings in the Review tab (Ctrl+2): they appear here and "
            "sync by themselves while Stripe answers; creating a session syncs any that "
            "have not reached Stripe yet.")
