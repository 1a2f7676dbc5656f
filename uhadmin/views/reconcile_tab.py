"""The Reconcile tab: differences between the database and Stripe, grouped by kind, each with
its fixes, a dry-run preview, and nothing changed until a fix is applied by a click."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSettings,
    Qt,
)
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from uhadmin.domain import FindingKind, Fix, ReconcileFinding, ReconcileReport
from uhadmin.errors import UhadminError
from uhadmin.views.messages import ask_confirmation, friendly_text
from uhadmin.views.workspace import WorkspaceTab

KIND_LABELS = {
    FindingKind.NEVER_PUSHED: "Approved but not in Stripe",
    FindingKind.ORPHAN: "Products no listing points to",
    FindingKind.FIELD_DRIFT: "Name, description or images differ",
    FindingKind.PRICE_DRIFT: "Price differs",
    FindingKind.ACTIVE_MISMATCH: "Active in one place, archived in the other",
    FindingKind.DUPLICATE: "More than one product for a listing",
    FindingKind.FOREIGN: "Made elsewhere (can be adopted)",
    FindingKind.STALE_PRICE: "Old prices still active",
}
FIX_LABELS = {
    Fix.PUSH_OURS: "Push ours to Stripe",
    Fix.TAKE_STRIPES: "Take Stripe's into the listing",
    Fix.ARCHIVE: "Archive the product in Stripe",
    Fix.LINK: "Link the listing to this product",
    Fix.ADOPT: "Adopt as a new listing",
    Fix.ARCHIVE_PRICES: "Archive the old prices in Stripe",
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


class ReconcileTab(WorkspaceTab):
    """`reconcile` is the ReconcileService (check, apply(choices, dry_run=...))."""

    state_key = "reconcile"

    def __init__(self, reconcile: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reconcileTab")
        self._reconcile = reconcile
        self.report: ReconcileReport | None = None
        self.last_preview: ReconcileReport | None = None

        self.check_button = QPushButton("Compare with Stripe")
        self.check_button.setObjectName("reconcileCheckButton")
        self.check_button.setToolTip("Read every product and price (read only, F5)")
        self.summary_label = QLabel("Not compared yet. Comparing only reads; nothing "
                                    "changes until you apply a fix.")
        self.summary_label.setObjectName("countsLabel")
        self.summary_label.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.check_button)
        top.addWidget(self.summary_label, 1)

        self.model = ReconcileFindingModel(self)
        self.tree = QTreeView()
        self.tree.setObjectName("reconcileTree")
        self.tree.setModel(self.model)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        for column, width in enumerate((520, 70, 230)):
            self.tree.setColumnWidth(column, width)

        self.fix_box = QComboBox()
        self.fix_box.setObjectName("fixChoice")
        self.fix_box.setMinimumWidth(260)
        self.preview_button = QPushButton("Preview (dry run)")
        self.preview_button.setObjectName("previewFixButton")
        self.apply_button = QPushButton("Apply fix…")
        self.apply_button.setObjectName("applyFixButton")
        self.selection_label = QLabel("Select findings (or a whole group) to fix them.")
        self.selection_label.setObjectName("formIntro")
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("fixPreview")
        self.preview.setReadOnly(True)
        self.preview.setPlaceholderText("A preview says exactly what a fix would do, "
                                        "without doing it.")
        self.error_label = QLabel("")
        self.error_label.setProperty("problem", True)
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.hide()
        fix_row = QHBoxLayout()
        fix_row.addWidget(QLabel("Fix:"))
        fix_row.addWidget(self.fix_box, 1)
        fix_row.addWidget(self.preview_button)
        fix_row.addWidget(self.apply_button)
        fix_panel = QWidget()
        fix_layout = QVBoxLayout(fix_panel)
        fix_layout.setContentsMargins(0, 0, 0, 0)
        fix_layout.addWidget(self.selection_label)
        fix_layout.addLayout(fix_row)
        fix_layout.addWidget(self.error_label)
        fix_layout.addWidget(self.preview, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("reconcileSplitter")
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(fix_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

        self.check_action = QAction("&Compare with Stripe", self)
        self.check_action.triggered.connect(lambda _checked=False: self.refresh())
        self.check_button.clicked.connect(self.refresh)
        self.preview_button.clicked.connect(self._on_preview)
        self.apply_button.clicked.connect(self.ask_apply)
        self.tree.selectionModel().selectionChanged.connect(lambda *_a: self._selection_changed())
        self.fix_box.currentIndexChanged.connect(lambda _i: self.preview.clear())
        self._selection_changed()

    # --- WorkspaceTab -----------------------------------------------------------------------

    def menu_actions(self) -> list[QAction | None]:
        return []  # "Compare with Stripe" sits in the window's Sync menu

    def refresh(self) -> None:
        self.tasks.spawn("check", self.check(), self.check_button, self.check_action)

    def show_error(self, error: UhadminError) -> None:
        self.error_label.setText(friendly_text(error))
        self.error_label.show()
        super().show_error(error)

    def save_state(self, settings: QSettings) -> None:
        settings.setValue(f"{self.state_key}/header", self.tree.header().saveState())
        settings.setValue(f"{self.state_key}/splitter", self.splitter.saveState())

    def restore_state(self, settings: QSettings) -> None:
        header = settings.value(f"{self.state_key}/header")
        if header is not None:
            self.tree.header().restoreState(header)
        splitter = settings.value(f"{self.state_key}/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    # --- comparing ------------------------------------------------------------------------

    async def check(self) -> ReconcileReport:
        """Compare (read only) and show the findings grouped by kind."""
        self.error_label.hide()
        self.summary_label.setText("Comparing with Stripe…")
        self.progress_started.emit("Comparing the catalog with Stripe", 0)
        try:
            report = await self._reconcile.check()
        finally:
            self.progress_finished.emit()
        self.report = report
        self.model.set_report(report)
        self.tree.expandAll()
        self.preview.clear()
        self.summary_label.setText(describe_counts(report))
        self._selection_changed()
        return report

    # --- choosing ---------------------------------------------------------------------------

    def selected_findings(self) -> list[ReconcileFinding]:
        """Selected findings; a selected group row stands for all its findings."""
        chosen: list[ReconcileFinding] = []
        for index in self.tree.selectionModel().selectedRows(0):
            finding = self.model.finding_at(index)
            if finding is not None:
                items = [finding]
            else:
                items = self.model.findings_of(self.model.kinds()[index.row()])
            chosen += [item for item in items if item not in chosen]
        return chosen

    def select_kind(self, kind: FindingKind) -> None:
        row = self.model.kinds().index(kind)
        self.tree.selectionModel().clearSelection()
        self.tree.selectionModel().select(
            self.model.index(row, 0),
            self.tree.selectionModel().SelectionFlag.Select
            | self.tree.selectionModel().SelectionFlag.Rows)

    def common_fixes(self, findings: Sequence[ReconcileFinding]) -> list[Fix]:
        if not findings:
            return []
        return [fix for fix in findings[0].fixes if all(fix in f.fixes for f in findings)]

    def _selection_changed(self) -> None:
        findings = self.selected_findings()
        fixes = self.common_fixes(findings)
        current = self.fix_box.currentData()
        self.fix_box.blockSignals(True)
        self.fix_box.clear()
        for fix in fixes:
            self.fix_box.addItem(FIX_LABELS[fix], fix.value)
        if current is not None and current in [fix.value for fix in fixes]:
            self.fix_box.setCurrentIndex([fix.value for fix in fixes].index(current))
        self.fix_box.blockSignals(False)
        if not findings:
            text = "Select findings (or a whole group) to fix them."
        elif not fixes:
            text = f"{len(findings)} selected: they have no fix in common; select fewer."
        else:
            text = f"{len(findings)} finding{'s' if len(findings) != 1 else ''} selected."
        self.selection_label.setText(text)
        enabled = bool(fixes)
        self.fix_box.setEnabled(enabled)
        self.preview_button.setEnabled(enabled and not self.tasks.is_running("apply"))
        self.apply_button.setEnabled(enabled and not self.tasks.is_running("apply"))
        self.preview.clear()

    def chosen_fix(self) -> Fix | None:
        value = self.fix_box.currentData()
        return Fix(value) if value is not None else None

    # --- preview and apply -----------------------------------------------------------------

    @asyncSlot()
    async def _on_preview(self) -> None:
        await self.tasks.run("preview", self.preview_fix(), self.preview_button)

    async def preview_fix(self) -> ReconcileReport | None:
        """Dry run of the chosen fix on the selected findings: says what would happen."""
        fix, findings = self.chosen_fix(), self.selected_findings()
        if fix is None or not findings:
            return None
        self.error_label.hide()
        report = await self._reconcile.apply([(f, fix) for f in findings], dry_run=True)
        self.last_preview = report
        self.preview.setPlainText(describe_applied(report))
        return report

    def ask_apply(self) -> Any:
        fix, findings = self.chosen_fix(), self.selected_findings()
        if fix is None or not findings:
            self.status_message.emit("Select findings and a fix first")
            return None
        noun = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
        return ask_confirmation(
            self, "Apply fix", f"{FIX_LABELS[fix]} for {noun}? This changes "
            f"{'the catalog' if fix in (Fix.TAKE_STRIPES, Fix.ADOPT) else 'Stripe'}.",
            lambda: self._start_apply(fix, findings), yes_text="Apply")

    @asyncSlot()
    async def _start_apply(self, fix: Fix, findings: list[ReconcileFinding]) -> None:
        await self.tasks.run("apply", self.apply_fix(fix, findings), self.apply_button,
                             self.preview_button)

    async def apply_fix(self, fix: Fix, findings: Sequence[ReconcileFinding]
                        ) -> ReconcileReport:
        """Apply `fix` to `findings` (the confirmed click), show the result, compare again."""
        self.error_label.hide()
        self.progress_started.emit(f"{FIX_LABELS[fix]} ({len(findings)})", 0)
        try:
            report = await self._reconcile.apply([(f, fix) for f in findings], dry_run=False)
        finally:
            self.progress_finished.emit()
        result = describe_applied(report)
        self.status_message.emit(result.splitlines()[0] if result else "Done")
        await self.check()
        self.preview.setPlainText(result)
        if report.errors:
            self.error_label.setText(f"{len(report.errors)} fix(es) failed; see below.")
            self.error_label.show()
        return report
