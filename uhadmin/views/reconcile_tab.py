"""The Reconcile tab: differences between the database and Stripe, grouped by kind, each with
its fixes, a dry-run preview, and nothing changed until a fix is applied by a click."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QSettings,
    Qt,
)
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
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
from uhadmin.views.empty_state import EmptyState
from uhadmin.views.messages import ask_confirmation, friendly_text
from uhadmin.views.reconcile_findings import (
    FIX_LABELS,
    KIND_LABELS,
    ReconcileFindingModel,
    describe_applied,
    describe_counts,
)
from uhadmin.views.workspace import WorkspaceTab

__all__ = ["FIX_LABELS", "KIND_LABELS", "ReconcileFindingModel", "ReconcileTab",
           "describe_applied", "describe_counts"]

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
        self.link_button = QPushButton("Link to another product…")
        self.link_button.setObjectName("reconcileLinkButton")
        self.link_button.setToolTip("For one listing whose product was deleted: point it "
                                    "at another product that exists in Stripe (prod_…)")
        self.link_dialog: QInputDialog | None = None
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
        fix_row.addWidget(self.link_button)
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
        self.link_button.clicked.connect(self.ask_link)
        self.empty = EmptyState(self.tree)
        self.empty.show_guidance(
            "Not compared yet", "Compare with Stripe reads every product and price (read "
            "only) and lists what differs, each with the fixes that make sense; nothing "
            "changes until you apply one.", [self.check_action])
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
        if report.findings:
            self.empty.hide()
        else:
            self.empty.show_guidance("Database and Stripe agree", "Nothing to fix.")
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
        self.link_button.setEnabled(len(findings) == 1 and findings[0].kind
                                    is FindingKind.PRODUCT_DELETED
                                    and not self.tasks.is_running("apply"))
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
            f"{'the catalog' if fix in (Fix.TAKE_STRIPES, Fix.ADOPT, Fix.UNLINK) else 'Stripe'}.",
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

    # --- link to another product (a deleted product's third way out) -------------------------

    def ask_link(self) -> None:
        findings = self.selected_findings()
        if len(findings) != 1 or findings[0].listing_id is None:
            return
        listing_id = findings[0].listing_id
        dialog = QInputDialog(self)
        dialog.setObjectName("reconcileLinkDialog")
        dialog.setWindowTitle("Link to another product")
        dialog.setLabelText(f"Listing {listing_id}: id of a product that exists in Stripe "
                            "(prod_…):")
        dialog.textValueSelected.connect(lambda text: self.tasks.spawn(
            "apply", self.link(listing_id, text.strip()), self.link_button,
            self.apply_button))
        self.link_dialog = dialog
        dialog.open()  # never exec() inside the event loop's coroutines

    async def link(self, listing_id: int, product_id: str) -> None:
        """Point the listing at `product_id` (synced at once), then compare again."""
        self.error_label.hide()
        listing = await self._reconcile.repair.link(listing_id, product_id)
        await self.check()
        self.preview.setPlainText(f"Done: linked listing {listing_id} to {product_id}; "
                                  f"sync {listing.sync_state.value}"
                                  + (f" ({listing.sync_error})" if listing.sync_error
                                     else ""))
