"""The Reconcile tab's findings: a tree of differences grouped by kind, and their wording."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from uhadmin.domain import FindingKind, Fix, ReconcileFinding, ReconcileReport

KIND_LABELS = {
    FindingKind.NEVER_PUSHED: "Approved but not in Stripe",
    FindingKind.ORPHAN: "Products no listing points to",
    FindingKind.FIELD_DRIFT: "Name, description or images differ",
    FindingKind.PRICE_DRIFT: "Price differs",
    FindingKind.ACTIVE_MISMATCH: "Active in one place, archived in the other",
    FindingKind.DUPLICATE: "More than one product for a listing",
    FindingKind.FOREIGN: "Made elsewhere (can be adopted)",
    FindingKind.STALE_PRICE: "Old prices still active",
    FindingKind.PRODUCT_DELETED: "Product deleted in Stripe",
}
FIX_LABELS = {
    Fix.PUSH_OURS: "Push ours to Stripe",
    Fix.TAKE_STRIPES: "Take Stripe's into the listing",
    Fix.ARCHIVE: "Archive the product in Stripe",
    Fix.LINK: "Link the listing to this product",
    Fix.ADOPT: "Adopt as a new listing",
    Fix.ARCHIVE_PRICES: "Archive the old prices in Stripe",
    Fix.RECREATE: "Re-create the product in Stripe",
    Fix.UNLINK: "Unlink and take the listing off sale",
}
HEADERS = ("Finding", "Listing", "Product", "Fixes")
FindingRole = Qt.ItemDataRole.UserRole + 1
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_FINDING = int(FindingRole)


class ReconcileFindingModel(QAbstractItemModel):
    """A two-level tree: one row per finding kind present, its findings beneath it.

    A kind row's internal id is 0; a finding's is its kind row + 1, which is all `parent`
    needs. Passive: `set_report` replaces everything, no I/O here.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._groups: list[tuple[FindingKind, list[ReconcileFinding]]] = []

    def set_report(self, report: ReconcileReport | None) -> None:
        self.beginResetModel()
        grouped: dict[FindingKind, list[ReconcileFinding]] = {}
        for finding in report.findings if report is not None else ():
            grouped.setdefault(finding.kind, []).append(finding)
        self._groups = [(kind, grouped[kind]) for kind in FindingKind if kind in grouped]
        self.endResetModel()

    def kinds(self) -> list[FindingKind]:
        return [kind for kind, _ in self._groups]

    def findings_of(self, kind: FindingKind) -> list[ReconcileFinding]:
        return next((list(items) for k, items in self._groups if k == kind), [])

    def finding_count(self) -> int:
        return sum(len(items) for _, items in self._groups)

    # --- Qt ------------------------------------------------------------------------------

    def index(self, row: int, column: int,
              parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        if not 0 <= column < len(HEADERS):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if 0 <= row < len(self._groups) \
                else QModelIndex()
        if parent.internalId() != 0 or parent.column() != 0:
            return QModelIndex()
        group = parent.row()
        if not 0 <= group < len(self._groups) or not 0 <= row < len(self._groups[group][1]):
            return QModelIndex()
        return self.createIndex(row, column, group + 1)

    def parent(self, child: QModelIndex | QPersistentModelIndex = QModelIndex()  # type: ignore[override]
               ) -> QModelIndex:
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        return self.createIndex(int(child.internalId()) - 1, 0, 0)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._groups)
        if parent.internalId() == 0 and parent.column() == 0 \
                and 0 <= parent.row() < len(self._groups):
            return len(self._groups[parent.row()][1])
        return 0

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and int(role) == _DISPLAY \
                and 0 <= section < len(HEADERS):
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        role = int(role)
        if index.internalId() == 0:
            kind, items = self._groups[index.row()]
            if role == _DISPLAY:
                return f"{KIND_LABELS[kind]} ({len(items)})" if index.column() == 0 else ""
            if role == _FONT and index.column() == 0:
                font = QFont()
                font.setBold(True)
                return font
            return None
        finding = self._groups[int(index.internalId()) - 1][1][index.row()]
        if role == _FINDING:
            return finding
        if role in (_DISPLAY, _TOOLTIP):
            return [finding.detail,
                    f"#{finding.listing_id}" if finding.listing_id is not None else "—",
                    finding.product_id or "—",
                    ", ".join(FIX_LABELS[fix] for fix in finding.fixes)][index.column()]
        return None

    def finding_at(self, index: QModelIndex) -> ReconcileFinding | None:
        value = self.data(index, FindingRole)
        return value if isinstance(value, ReconcileFinding) else None


def describe_counts(report: ReconcileReport) -> str:
    found = len(report.findings)
    head = "Database and Stripe agree" if not found \
        else f"{found:,} difference{'s' if found != 1 else ''}"
    return (f"{head} · compared {report.listings_seen:,} listings with "
            f"{report.products_seen:,} products and {report.prices_seen:,} prices "
            f"({report.api_calls:,} Stripe calls)")


def describe_applied(report: ReconcileReport) -> str:
    """The dry-run preview or the result of applying, one line per fix."""
    verb = "Would" if report.dry_run else "Done:"
    lines = [f"{verb} {item.detail}" for item in report.applied]
    lines += [f"Failed {target}: {why}" for target, why in report.errors.items()]
    return "\n".join(lines) or "Nothing to do."
