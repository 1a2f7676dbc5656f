"""The detail pane of one listing: every field, its first image, Stripe link, sync and history."""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from uhadmin.domain import Listing, SyncState
from uhadmin.money import format_money
from uhadmin.views.image_loader import ImageLoader
from uhadmin.views.listing_table import (
    NEEDS_FIXING_LABEL,
    STATUS_LABELS,
    SYNC_LABELS,
    format_time,
    problems_text,
)
from uhadmin.views.ports import ListingReader
from uhadmin.views.product_repair_panel import ProductRepairPanel
from uhadmin.views.tasks import TaskRunner

IMAGE_SIZE = QSize(210, 140)


def _selectable(label: QLabel, *, rich: bool = False) -> QLabel:
    # Sellers type titles and descriptions: plain text, so "<b>" shows as typed.
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                  | Qt.TextInteractionFlag.LinksAccessibleByMouse)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


def _details_text(details: Any, *, limit: int | None = 90) -> str:
    """Audit details as one readable line: "from: draft, to: pending_review"."""
    if not details:
        return ""
    if isinstance(details, dict):
        parts = []
        for key, value in details.items():
            if isinstance(value, dict):
                value = "; ".join(f"{k}={_short(v)}" for k, v in value.items())
            parts.append(f"{key}: {value}")
        text = ", ".join(parts)
    else:
        text = json.dumps(details, default=str)
    if limit is not None and len(text) > limit:
        return text[:limit - 1] + "…"
    return text


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


class ListingDetailPane(QWidget):
    """Shows the selected listing; loads its image and history without blocking."""

    stripe_calls_requested = Signal(int, object)  # listing id, revision (or None)

    def __init__(self, listings: ListingReader, *, dashboard_base: str | None = None,
                 image_loader: ImageLoader | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("listingDetail")
        self._listings = listings
        self._dashboard_base = dashboard_base
        self.listing: Listing | None = None
        self.tasks = TaskRunner(self._show_history_error, self)
        self.images = image_loader or ImageLoader(self)
        self.images.loaded.connect(self._image_loaded)
        self.images.failed.connect(self._image_failed)
        self._image_url = ""

        body = self._build_fields()
        history_box = self._build_history()
        # Fields scroll on their own; the history keeps its share of the height below them.
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("detailSplitter")
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(history_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([620, 130])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.splitter)
        self.setMinimumWidth(320)
        self.show_listing(None)

    def _build_fields(self) -> QWidget:
        """Image, title, problems and one labelled value per field of the listing."""
        body = QWidget()
        layout = QVBoxLayout(body)
        self.image = QLabel("No listing selected")
        self.image.setObjectName("imageView")
        self.image.setFixedSize(IMAGE_SIZE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setWordWrap(True)
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        self.title = _selectable(QLabel(""))
        self.title.setObjectName("detailTitle")
        layout.addWidget(self.title)
        self.problems = _selectable(QLabel(""), rich=True)  # rules are escaped below
        self.problems.setObjectName("detailProblems")
        self.problems.hide()
        layout.addWidget(self.problems)
        self.repair_panel = ProductRepairPanel(self.show_listing)
        layout.addWidget(self.repair_panel)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.fields: dict[str, QLabel] = {}
        for key, label in (("id", "ID"), ("price", "Price"), ("status", "Status"),
                           ("category", "Category"), ("condition", "Condition"),
                           ("seller", "Seller contact"), ("images", "Images"),
                           ("product", "Stripe product"), ("price_id", "Stripe price"),
                           ("sync", "Sync state"), ("sync_error", "Last sync error"),
                           ("synced_at", "Last synced"), ("version", "Version"),
                           ("created", "Created"), ("updated", "Updated")):
            value = _selectable(QLabel(""), rich=key in ("product", "price_id"))
            value.setOpenExternalLinks(True)
            self.fields[key] = value
            form.addRow(label + ":", value)
        layout.addLayout(form)

        self.description = _selectable(QLabel(""))
        self.description.setObjectName("detailDescription")
        form.addRow("Description:", self.description)
        layout.addStretch(1)
        return body

    def _build_history(self) -> QWidget:
        """The listing's audit history, newest first, with links to its Stripe calls."""
        history_box = QWidget()
        history_layout = QVBoxLayout(history_box)
        history_layout.setContentsMargins(0, 4, 0, 0)
        history_layout.addWidget(QLabel("<b>History</b> (newest first)"))
        self.history = QTreeWidget()
        self.history.setObjectName("historyList")
        self.history.setHeaderLabels(["When", "Who", "What", "Details", "Stripe"])
        # One click on "calls ›" opens the Stripe log at the calls behind that row.
        self.history.itemClicked.connect(self._history_clicked)
        self.history.setRootIsDecorated(False)
        self.history.setUniformRowHeights(True)
        self.history.setMinimumHeight(90)
        self.history.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.history.header().setStretchLastSection(True)
        history_layout.addWidget(self.history, 1)
        return history_box

    # --- showing --------------------------------------------------------------------------

    def show_listing(self, listing: Listing | None) -> None:
        """Show `listing` at once; its image and history follow asynchronously."""
        previous = self.listing
        self.listing = listing
        if listing is None:
            self.title.setText("No listing selected")
            for value in self.fields.values():
                value.setText("")
            self.description.setText("")
            self.problems.hide()
            self.repair_panel.show_for(None)
            self.history.clear()
            self._set_placeholder("No listing selected")
            return
        self.title.setText(listing.title)
        rules = html.escape(problems_text(listing), quote=False).replace("\n", "<br>")
        self.problems.setText(f"<b>{NEEDS_FIXING_LABEL}</b>: not sent to Stripe until it is "
                              f"fixed (Edit)<br>{rules}")
        self.problems.setVisible(listing.needs_fixing)
        self.repair_panel.show_for(listing)
        status = STATUS_LABELS[listing.status]
        if listing.rejection_reason:
            status += f" (reason: {listing.rejection_reason})"
        sync_error = listing.sync_error or ("-" if listing.sync_state != SyncState.FAILED
                                            else "failed (no message)")
        values = {
            "id": str(listing.id),
            "price": format_money(listing.price_minor, listing.currency),
            "status": status,
            "category": listing.category or "-",
            "condition": listing.condition or "-",
            "seller": listing.seller_contact or "-",
            "images": "\n".join(listing.image_urls) or "none",
            "product": self._stripe_link("products", listing.stripe_product_id),
            "price_id": self._stripe_link("prices", listing.stripe_price_id),
            "sync": SYNC_LABELS[listing.sync_state] + (
                f" ({NEEDS_FIXING_LABEL.lower()})" if listing.needs_fixing else ""),
            "sync_error": sync_error,
            "synced_at": format_time(listing.last_synced_at) or "never",
            "version": str(listing.version),
            "created": f"{format_time(listing.created_at)} by {listing.created_by or '-'}",
            "updated": f"{format_time(listing.updated_at)} by {listing.updated_by or '-'}",
        }
        for key, text in values.items():
            self.fields[key].setText(text)
        self.fields["sync_error"].setProperty("problem", bool(listing.sync_error))
        self.fields["sync_error"].style().polish(self.fields["sync_error"])
        self.description.setText(listing.description or "(no description)")
        self._load_image(listing)
        same_version = (previous is not None and previous.id == listing.id
                        and previous.version == listing.version)
        if not same_version:
            self.tasks.spawn("history", self.load_history(listing.id))

    def set_repair(self, repair: Any) -> None:
        """The ways out for a deleted product (ProductRepairService), once Stripe is up."""
        self.repair_panel.repair = repair
        self.repair_panel.show_for(self.listing)

    def _stripe_link(self, kind: str, object_id: str | None) -> str:
        if not object_id:
            return "not in Stripe yet"
        shown = html.escape(object_id)
        if self._dashboard_base:
            target = html.escape(f"{self._dashboard_base}/{kind}/{quote(object_id)}", quote=True)
            return f'<a href="{target}">{shown}</a>'
        return shown

    async def load_history(self, listing_id: int) -> None:
        entries = await self._listings.history(listing_id)
        if self.listing is None or self.listing.id != listing_id:
            return
        self.history.clear()
        for entry in entries:
            item = QTreeWidgetItem([format_time(entry.at), entry.actor, entry.action,
                                    _details_text(entry.details)])
            item.setToolTip(3, _details_text(entry.details, limit=None))
            if entry.action.startswith("sync"):
                item.setText(4, "calls ›")
                item.setData(4, Qt.ItemDataRole.UserRole, entry.details.get("revision"))
            self.history.addTopLevelItem(item)
        if not entries:
            self.history.addTopLevelItem(QTreeWidgetItem(["", "", "no history recorded", ""]))

    def _history_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 4 and item.text(4) and self.listing is not None:
            self.stripe_calls_requested.emit(self.listing.id,
                                             item.data(4, Qt.ItemDataRole.UserRole))

    def _show_history_error(self, error: Exception) -> None:
        self.history.clear()
        self.history.addTopLevelItem(QTreeWidgetItem(["", "", f"history unavailable: {error}",
                                                      ""]))

    # --- image ------------------------------------------------------------------------------

    def _load_image(self, listing: Listing) -> None:
        if not listing.image_urls:
            self._image_url = ""
            self._set_placeholder("No image")
            return
        if any(p.field in ("images", "images[1]") for p in listing.problems):
            # Never fetch an address that breaks the rules (javascript:, file:, raw text).
            self._image_url = ""
            self._set_placeholder("Image address needs fixing")
            return
        url = listing.image_urls[0]
        if url == self._image_url and self.image.pixmap() is not None \
                and not self.image.pixmap().isNull():
            return
        self._image_url = url
        self._set_placeholder("Loading image…")
        self.images.request(url)

    def _image_loaded(self, url: str, pixmap: QPixmap) -> None:
        if url != self._image_url:
            return
        self.image.setPixmap(pixmap.scaled(IMAGE_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))

    def _image_failed(self, url: str, reason: str) -> None:
        if url != self._image_url:
            return
        self._set_placeholder(f"Image unavailable\n({reason})")

    def _set_placeholder(self, text: str) -> None:
        self.image.setPixmap(QPixmap())
        self.image.setText(text)

    def shutdown(self) -> None:
        self.tasks.cancel_all()
        self.repair_panel.tasks.cancel_all()
        self.images.abort_all()
