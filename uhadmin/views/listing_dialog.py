"""The create/edit listing dialog: validates as you type, names each problem by its field."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from uhadmin.domain import Listing, ListingChanges, ListingStatus, NewListing
from uhadmin.errors import ConflictError, FieldProblem, UhadminError, ValidationError
from uhadmin.money import format_plain, is_known_currency
from uhadmin.views.listing_form import (
    CATEGORIES,
    CONDITIONS,
    CURRENCIES,
    FIELD_ROWS,
    edit_changes,
    read_form,
    row_name,
)
from uhadmin.views.messages import friendly_text
from uhadmin.views.ports import ListingWriter
from uhadmin.views.tasks import TaskRunner


class ListingDialog(QDialog):
    """Create a listing (`listing=None`) or edit one. Open it with `open()`, never `exec()`.

    `saved(listing)` fires with what the service stored. Save stays disabled while any
    field breaks a rule; the problem shows under the field as you type. A version conflict
    keeps the dialog open with a Reload button that fetches the fresh listing and keeps the
    person's own changes on top of it.
    """

    saved = Signal(object)  # Listing

    def __init__(self, listings: ListingWriter, *, actor: str, default_currency: str = "usd",
                 listing: Listing | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("listingDialog")
        self._listings = listings
        self._actor = actor
        self.base = listing
        self.tasks = TaskRunner(self._show_error, self)
        self.problems: dict[str, str] = {}
        self.setWindowTitle("Edit listing" if listing else "New listing")
        self.setMinimumWidth(560)

        self._build_fields(default_currency, listing)
        form = self._build_form()
        self._build_conflict_banner()
        footer = self._build_footer()
        layout = QVBoxLayout(self)
        if listing is not None:
            intro = QLabel(self._edit_intro(listing))
            intro.setObjectName("formIntro")
            intro.setWordWrap(True)
            layout.addWidget(intro)
        layout.addWidget(self.conflict_banner)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addLayout(footer)
        if listing is not None:
            self._fill(listing)
        else:
            self.currency_box.setCurrentText(default_currency.upper())
        # A blank new form shows no red: a field's problem appears once it was touched
        # (or on a save attempt); Save stays disabled either way.
        self.touched: set[str] = set(FIELD_ROWS) if listing is not None else set()
        self._connect_fields()
        self.revalidate()

    def _build_fields(self, default_currency: str, listing: Listing | None) -> None:
        """The input widgets, and a hidden problem label for each form row."""
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("e.g. Calculus: Early Transcendentals, 8th ed.")
        self.price_edit = QLineEdit()
        self.price_edit.setPlaceholderText("12.50")
        self.price_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.currency_box = QComboBox()
        currencies = list(CURRENCIES)
        for code in (default_currency, listing.currency if listing else None):
            if code and code not in currencies:
                currencies.insert(0, code)
        self.currency_box.addItems([c.upper() for c in currencies])
        self.description_edit = QPlainTextEdit()
        self.description_edit.setPlaceholderText("Condition details, pick-up place, edition…")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setFixedHeight(96)
        self.images_edit = QPlainTextEdit()
        self.images_edit.setPlaceholderText("https://… (one image address per line, up to 8)")
        self.images_edit.setTabChangesFocus(True)
        self.images_edit.setFixedHeight(60)
        self.seller_edit = QLineEdit()
        self.seller_edit.setPlaceholderText("student email or phone")
        self.category_box = QComboBox()
        self.category_box.setEditable(True)
        self.category_box.addItems(["", *CATEGORIES])
        self.condition_box = QComboBox()
        self.condition_box.setEditable(True)
        self.condition_box.addItems(["", *CONDITIONS])

        self.problem_labels: dict[str, QLabel] = {}
        for name in FIELD_ROWS:
            label = QLabel("")
            label.setObjectName(f"problem_{name}")
            label.setProperty("problem", True)
            label.setWordWrap(True)
            label.hide()
            self.problem_labels[name] = label

    def _build_form(self) -> QFormLayout:
        """The fields in labelled rows, each with its problem shown under it."""
        price_row = QHBoxLayout()
        price_row.setContentsMargins(0, 0, 0, 0)
        price_row.addWidget(self.price_edit, 1)
        price_row.addWidget(self.currency_box)
        price_widget = QWidget()
        price_widget.setLayout(price_row)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        rows = (("&Title *", self.title_edit, ("title",)),
                ("&Price *", price_widget, ("price", "currency")),
                ("&Description", self.description_edit, ("description",)),
                ("&Images", self.images_edit, ("images",)),
                ("&Seller contact", self.seller_edit, ("seller_contact",)),
                ("C&ategory", self.category_box, ("category",)),
                ("C&ondition", self.condition_box, ("condition",)))
        for text, widget, problem_names in rows:
            column = QVBoxLayout()
            column.setSpacing(2)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(widget)
            for name in problem_names:
                column.addWidget(self.problem_labels[name])
            holder = QWidget()
            holder.setLayout(column)
            label = QLabel(text)
            label.setBuddy(widget if widget is not price_widget else self.price_edit)
            form.addRow(label, holder)
        return form

    def _build_conflict_banner(self) -> None:
        self.conflict_banner = QFrame()
        self.conflict_banner.setObjectName("conflictBanner")
        banner_row = QHBoxLayout(self.conflict_banner)
        self.conflict_text = QLabel("")
        self.conflict_text.setWordWrap(True)
        self.reload_button = QPushButton("&Reload")
        self.reload_button.setToolTip("Fetch the saved listing; your changes stay on top of it")
        banner_row.addWidget(self.conflict_text, 1)
        banner_row.addWidget(self.reload_button)
        self.conflict_banner.hide()

    def _build_footer(self) -> QHBoxLayout:
        """The dialog-wide error, the hint and the Save and Cancel buttons."""
        self.error_label = QLabel("")
        self.error_label.setObjectName("dialogError")
        self.error_label.setProperty("problem", True)
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setDefault(True)
        # Enter in a single-line field saves. Qt makes the first enabled auto-default button
        # the default when the dialog shows (Save starts disabled until something changes),
        # which made the hidden Reload button take Enter; only Save may be the default.
        for button in (self.reload_button,
                       self.buttons.button(QDialogButtonBox.StandardButton.Cancel)):
            button.setAutoDefault(False)
        self.hint_label = QLabel("")
        self.hint_label.setObjectName("formIntro")

        footer = QHBoxLayout()
        footer.addWidget(self.hint_label, 1)
        footer.addWidget(self.buttons)
        return footer

    def _connect_fields(self) -> None:
        for name, signal in (("title", self.title_edit.textChanged),
                             ("price", self.price_edit.textChanged),
                             ("seller_contact", self.seller_edit.textChanged),
                             ("description", self.description_edit.textChanged),
                             ("images", self.images_edit.textChanged),
                             ("currency", self.currency_box.currentTextChanged),
                             ("category", self.category_box.currentTextChanged),
                             ("condition", self.condition_box.currentTextChanged)):
            signal.connect(lambda *_args, n=name: self._field_edited(n))
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        self.reload_button.clicked.connect(self._on_reload)

    @staticmethod
    def _edit_intro(listing: Listing) -> str:
        text = f"Listing #{listing.id}, version {listing.version}, {listing.status.value}."
        if listing.status == ListingStatus.APPROVED or listing.stripe_product_id:
            text += " Saving queues the change for Stripe; the next sync pushes it."
        if listing.needs_fixing:
            text += (" It needs fixing: the fields in red break a rule as stored, and it is "
                     "not sent to Stripe until they are fixed.")
        return text

    # --- form <-> values ---------------------------------------------------------------

    def _fill(self, listing: Listing) -> None:
        self.title_edit.setText(listing.title)
        self.currency_box.setCurrentText(listing.currency.upper())
        self.price_edit.setText("")
        self.price_edit.setPlaceholderText("12.50")
        if is_known_currency(listing.currency.strip().lower()) and not (
                listing.price_minor == 0 and listing.needs_fixing):
            self.price_edit.setText(format_plain(listing.price_minor, listing.currency))
        else:
            # Minor units of a currency Stripe does not know (or a price that was no number)
            # have no decimal form; the person types the price again in a real currency.
            self.price_edit.setPlaceholderText(
                f"stored: {listing.price_minor} minor units of {listing.currency!r}")
        self.description_edit.setPlainText(listing.description)
        self.images_edit.setPlainText("\n".join(listing.image_urls))
        self.seller_edit.setText(listing.seller_contact)
        self.category_box.setCurrentText(listing.category)
        self.condition_box.setCurrentText(listing.condition)

    def _currency(self) -> str:
        return self.currency_box.currentText().strip().lower()

    def _form_values(self) -> tuple[NewListing, list[FieldProblem]]:
        """What the form says, as a NewListing, with every rule it breaks."""
        return read_form(
            title=self.title_edit.text(), price=self.price_edit.text(),
            currency=self._currency(), description=self.description_edit.toPlainText(),
            images=self.images_edit.toPlainText(), seller_contact=self.seller_edit.text(),
            category=self.category_box.currentText(),
            condition=self.condition_box.currentText())

    def changes(self) -> ListingChanges:
        """The edit as a partial change: only the fields that differ from the base listing."""
        assert self.base is not None
        return edit_changes(self.base, self._form_values()[0])

    def revalidate(self) -> None:
        """Show each rule the form breaks next to its field; enable Save only when none."""
        _, problems = self._form_values()
        self.problems = {}
        for problem in problems:
            self.problems.setdefault(row_name(problem.field), problem.rule)
        self._show_problems()
        has_changes = self.base is None or self.changes() != ListingChanges()
        self.save_button.setEnabled(not self.problems and has_changes
                                    and not self.tasks.is_running("save"))
        if self.problems:
            self.hint_label.setText(f"{len(self.problems)} field(s) to fix")
        elif not has_changes:
            self.hint_label.setText("No changes yet")
        else:
            self.hint_label.setText("")

    def _field_edited(self, name: str) -> None:
        self.touched.add(name)
        if name == "currency":
            self.touched.add("price")  # the price's rules depend on the currency
        self.revalidate()

    def _show_problems(self) -> None:
        for name, label in self.problem_labels.items():
            rule = self.problems.get(name) if name in self.touched else None
            label.setText(rule or "")
            label.setVisible(bool(rule))
        unknown = {f: r for f, r in self.problems.items() if f not in self.problem_labels}
        if unknown:
            self._show_error(ValidationError([FieldProblem(f, r) for f, r in unknown.items()]))

    # --- saving -------------------------------------------------------------------------

    @asyncSlot()
    async def _on_save(self) -> None:
        await self.tasks.run("save", self.save(), self.save_button)

    async def save(self) -> Listing | None:
        """Create or update through the service; close on success."""
        self.error_label.hide()
        new, problems = self._form_values()
        if problems:
            self.touched.update(FIELD_ROWS)
            self.revalidate()
            return None
        try:
            if self.base is None:
                result = await self._listings.create(new, actor=self._actor, initiator=self)
            else:
                result = await self._listings.update(
                    self.base.id, self.changes(), expected_version=self.base.version,
                    actor=self._actor, initiator=self)
        except ValidationError as exc:
            self.problems = {row_name(p.field): p.rule for p in exc.problems}
            self.touched.update(self.problems)
            self._show_problems()
            return None
        except ConflictError as exc:
            self._show_conflict(exc)
            return None
        self.saved.emit(result)
        self.accept()
        return result

    def _show_conflict(self, error: ConflictError) -> None:
        now = f" (now version {error.actual_version})" if error.actual_version else ""
        self.conflict_text.setText(
            f"Someone else saved this listing while you were editing{now}. "
            "Reload to see their version; your own changes are kept on top of it.")
        self.conflict_banner.show()

    @asyncSlot()
    async def _on_reload(self) -> None:
        await self.tasks.run("reload", self.reload(), self.reload_button)

    async def reload(self) -> Listing | None:
        """Fetch the fresh listing, and keep the person's changes on top of it."""
        if self.base is None:
            return None
        mine = self.changes()
        fresh = await self._listings.get(self.base.id)
        self.base = fresh
        self._fill(fresh)
        if mine.title is not None:
            self.title_edit.setText(mine.title)
        if mine.currency is not None:
            self.currency_box.setCurrentText(mine.currency.upper())
        if mine.price_minor and is_known_currency(self._currency()):
            self.price_edit.setText(format_plain(mine.price_minor, self._currency()))
        if mine.description is not None:
            self.description_edit.setPlainText(mine.description)
        if mine.image_urls is not None:
            self.images_edit.setPlainText("\n".join(mine.image_urls))
        if mine.seller_contact is not None:
            self.seller_edit.setText(mine.seller_contact)
        if mine.category is not None:
            self.category_box.setCurrentText(mine.category)
        if mine.condition is not None:
            self.condition_box.setCurrentText(mine.condition)
        self.conflict_banner.hide()
        self.hint_label.setText(f"Reloaded version {fresh.version}")
        self.revalidate()
        return fresh

    def _show_error(self, error: UhadminError) -> None:
        self.error_label.setText(friendly_text(error))
        self.error_label.show()

    def done(self, result: int) -> None:
        self.tasks.cancel_all()
        super().done(result)
