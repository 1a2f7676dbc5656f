"""The way out for a listing whose Stripe product was deleted: re-create, link, or unlink."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from uhadmin.domain import Listing
from uhadmin.domain.sync_failures import deleted_product_of
from uhadmin.errors import UhadminError
from uhadmin.views.messages import friendly_text
from uhadmin.views.tasks import TaskRunner


class ProductRepairPanel(QFrame):
    """Shown in a listing's detail while its last sync says the product was deleted in
    Stripe. `repair` is the ProductRepairService (recreate, link, unlink); each fix syncs
    the listing and hands the result to `on_fixed`, so the failure clears at once."""

    def __init__(self, on_fixed: Callable[[Listing], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("productRepair")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.repair: Any = None  # set once the Stripe side is up (set_repair)
        self.listing: Listing | None = None
        self._on_fixed = on_fixed
        self.tasks = TaskRunner(self._failed, self)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.error = QLabel("")
        self.error.setProperty("problem", True)
        self.error.setWordWrap(True)
        self.error.hide()
        self.recreate_button = QPushButton("Re-create product")
        self.recreate_button.setObjectName("recreateProductButton")
        self.recreate_button.setToolTip("Make a new Stripe product from this listing and "
                                        "sync it")
        self.link_button = QPushButton("Link to product…")
        self.link_button.setObjectName("linkProductButton")
        self.link_button.setToolTip("Point this listing at another product that exists in "
                                    "Stripe (its id, prod_…)")
        self.unlink_button = QPushButton("Unlink")
        self.unlink_button.setObjectName("unlinkProductButton")
        self.unlink_button.setToolTip("Forget the deleted product and take the listing off "
                                      "sale (archived)")
        buttons = QHBoxLayout()
        for button in (self.recreate_button, self.link_button, self.unlink_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        self.link_dialog: QInputDialog | None = None
        self.recreate_button.clicked.connect(lambda: self._fix("recreate"))
        self.unlink_button.clicked.connect(lambda: self._fix("unlink"))
        self.link_button.clicked.connect(self.ask_product)
        self.hide()

    def show_for(self, listing: Listing | None) -> None:
        product = deleted_product_of(listing.sync_error) if listing is not None else None
        self.listing = listing
        self.error.hide()
        if product is None or self.repair is None:
            self.hide()
            return
        self.label.setText(f"Its Stripe product {product} was deleted in Stripe (e.g. in "
                           "the Dashboard), so Retry cannot help. Re-create it, link the "
                           "listing to another product, or unlink it:")
        self.show()

    def ask_product(self) -> None:
        dialog = QInputDialog(self)
        dialog.setObjectName("linkProductDialog")
        dialog.setWindowTitle("Link to a Stripe product")
        dialog.setLabelText("Id of a product that exists in Stripe (prod_…):")
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.textValueSelected.connect(lambda text: self._fix("link", text.strip()))
        self.link_dialog = dialog
        dialog.open()  # never exec() inside the event loop's coroutines

    def _fix(self, how: str, product_id: str | None = None) -> None:
        if self.listing is None or self.repair is None:
            return
        self.error.hide()
        self.tasks.spawn(how, self._apply(how, self.listing.id, product_id),
                         self.recreate_button, self.link_button, self.unlink_button)

    async def _apply(self, how: str, listing_id: int, product_id: str | None) -> None:
        if how == "link":
            fixed = await self.repair.link(listing_id, product_id)
        else:
            fixed = await getattr(self.repair, how)(listing_id)
        self._on_fixed(fixed)

    def _failed(self, error: UhadminError) -> None:
        self.error.setText(friendly_text(error))
        self.error.show()
