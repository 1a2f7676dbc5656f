"""The settings dialog: non-secrets to the preferences file, the Stripe key and webhook secret
to the key store (OS keyring, or memory only), never to a file."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from uhadmin.config import (
    STRIPE_KEY_NAME,
    WEBHOOK_SECRET_NAME,
    PreferencesStore,
    Settings,
    key_mode,
)
from uhadmin.errors import ConfigError, UhadminError
from uhadmin.views.listing_form import CURRENCIES
from uhadmin.views.messages import friendly_text
from uhadmin.views.tasks import TaskRunner

# Tests a Stripe connection: (key as typed, or None for the stored one; "" for none at all,
# API base or None) -> a line naming the account and mode; raises UhadminError if it fails.
ConnectionTester = Callable[[str | None, str | None], Awaitable[str]]

# Preference keys this dialog edits, in PreferencesStore's vocabulary.
_TEXT_PREFERENCES = ("database_url", "stripe_api_base", "success_url", "cancel_url")


class _SecretField(QWidget):
    """A password field that shows the stored secret only as its mask; empty keeps it."""

    def __init__(self, stored_mask: str | None, placeholder: str) -> None:
        super().__init__()
        self.remove_requested = False
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText(
            f"{stored_mask} (stored; type to replace)" if stored_mask else placeholder)
        self.show_box = QCheckBox("Show")
        self.show_box.toggled.connect(lambda on: self.edit.setEchoMode(
            QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))
        self.remove_button = QPushButton("Remove")
        self.remove_button.setEnabled(bool(stored_mask))
        self.remove_button.clicked.connect(self._remove)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.show_box)
        row.addWidget(self.remove_button)

    def _remove(self) -> None:
        self.remove_requested = True
        self.edit.clear()
        self.edit.setPlaceholderText("will be removed when you save")
        self.remove_button.setEnabled(False)

    def value(self) -> str:
        return self.edit.text().strip()


class SettingsDialog(QDialog):
    """Edit settings; open with `open()`. `saved()` fires after everything was stored.

    Secrets go through `keys` (a uhadmin KeyStore: get/set/delete, .persistent, .notice),
    everything else through `preferences` (a PreferencesStore). Database, key and Stripe
    address changes apply when uhadmin next starts, and the dialog says so.
    """

    saved = Signal()

    def __init__(self, settings: Settings, keys: Any, preferences: PreferencesStore, *,
                 connection_tester: ConnectionTester | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.setMinimumWidth(640)
        self._keys = keys
        self._preferences = preferences
        self._connection_tester = connection_tester
        self.tasks = TaskRunner(self._show_error, self)
        self.problems: dict[str, str] = {}
        self._build_fields(settings, keys, preferences.load())
        form = self._build_form(self._build_connection_test())
        self._build_page(settings, form)
        self._connect_fields()
        self.revalidate()

    def _build_fields(self, settings: Settings, keys: Any, saved_prefs: dict[str, Any],
                      ) -> None:
        """The inputs, showing the saved preference, else the setting in effect."""
        def text_field(name: str, current: str | None, placeholder: str) -> QLineEdit:
            edit = QLineEdit(str(saved_prefs.get(name, current or "")))
            edit.setPlaceholderText(placeholder)
            edit.setObjectName(f"{name}Edit")
            return edit

        self.database_edit = text_field(
            "database_url", settings.database_url,
            "sqlite:///path/to/uhadmin.sqlite3 or postgresql+psycopg://user:pw@host/db")
        stored_key = keys.get(STRIPE_KEY_NAME)
        stored_secret = keys.get(WEBHOOK_SECRET_NAME)
        self.key_field = _SecretField(stored_key.masked if stored_key else None,
                                      "sk_test_… (empty: use the offline sandbox)")
        self.key_field.edit.setObjectName("stripeKeyEdit")
        self.api_base_edit = text_field("stripe_api_base", settings.stripe_api_base,
                                        "default: https://api.stripe.com")
        self.success_edit = text_field(
            "success_url", settings.success_url,
            "default: the built-in page (…?session_id={CHECKOUT_SESSION_ID})")
        self.cancel_edit = text_field("cancel_url", settings.cancel_url,
                                      "default: the built-in page")
        self.secret_field = _SecretField(stored_secret.masked if stored_secret else None,
                                         "whsec_… (for webhook signature checks)")
        self.secret_field.edit.setObjectName("webhookSecretEdit")
        self.currency_box = QComboBox()
        self.currency_box.setEditable(True)
        self.currency_box.addItems([c.upper() for c in CURRENCIES])
        self.currency_box.setCurrentText(str(saved_prefs.get("currency",
                                                             settings.currency)).upper())
        self.live_box = QCheckBox("Allow live mode (real cards are charged)")
        self.live_box.setObjectName("allowLiveBox")
        self.live_box.setChecked(bool(saved_prefs.get("allow_live_mode",
                                                      settings.allow_live_mode)))

    def _build_connection_test(self) -> QWidget:
        """Test connection and the line that says which account and mode the key reaches."""
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("testConnectionButton")
        self.test_button.setToolTip("Ask Stripe (or the sandbox) which account and mode this "
                                    "key reaches; nothing is saved")
        self.test_button.setEnabled(self._connection_tester is not None)
        self.test_result = QLabel("")
        self.test_result.setObjectName("connectionResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextFormat(Qt.TextFormat.PlainText)
        self.test_result.hide()
        test_row = QWidget()
        test_layout = QHBoxLayout(test_row)
        test_layout.setContentsMargins(0, 0, 0, 0)
        test_layout.addWidget(self.test_button)
        test_layout.addWidget(self.test_result, 1)
        self.test_button.clicked.connect(self._on_test)
        return test_row

    def _build_form(self, test_row: QWidget) -> QFormLayout:
        """The inputs in labelled rows, each with its problem shown under it."""
        self.problem_labels: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, label, widget in (
                ("database_url", "&Database URL", self.database_edit),
                ("stripe_key", "Stripe &key", self.key_field),
                ("stripe_api_base", "Stripe &API base", self.api_base_edit),
                ("connection", "", test_row),
                ("success_url", "&Success URL", self.success_edit),
                ("cancel_url", "&Cancel URL", self.cancel_edit),
                ("webhook_secret", "&Webhook secret", self.secret_field),
                ("currency", "C&urrency", self.currency_box),
                ("allow_live_mode", "", self.live_box)):
            problem = QLabel("")
            problem.setProperty("problem", True)
            problem.setWordWrap(True)
            problem.hide()
            self.problem_labels[name] = problem
            holder = QWidget()
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            column.addWidget(widget)
            column.addWidget(problem)
            form.addRow(label, holder)
        return form

    def _build_page(self, settings: Settings, form: QFormLayout) -> None:
        """The form between the key-storage notice and the restart note, error and buttons."""
        self.notice = QLabel(self._key_notice())
        self.notice.setObjectName("keyNotice")
        self.notice.setWordWrap(True)
        notice_frame = QFrame()
        notice_frame.setObjectName("noticeBanner")
        QVBoxLayout(notice_frame).addWidget(self.notice)
        notice_frame.setVisible(not self._keys.persistent)
        restart = QLabel("Database, Stripe key and API base changes apply the next time "
                         "uhadmin starts. Current mode: " + settings.mode.upper() + ".")
        restart.setObjectName("formIntro")
        restart.setWordWrap(True)
        self.error_label = QLabel("")
        self.error_label.setProperty("problem", True)
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)

        layout = QVBoxLayout(self)
        layout.addWidget(notice_frame)
        layout.addLayout(form)
        if self._keys.persistent:
            layout.addWidget(QLabel(f"Secrets are {self._keys.notice}."))
        layout.addWidget(restart)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def _connect_fields(self) -> None:
        for name, signal in (("database_url", self.database_edit.textChanged),
                             ("stripe_api_base", self.api_base_edit.textChanged),
                             ("success_url", self.success_edit.textChanged),
                             ("cancel_url", self.cancel_edit.textChanged),
                             ("stripe_key", self.key_field.edit.textChanged),
                             ("webhook_secret", self.secret_field.edit.textChanged),
                             ("currency", self.currency_box.currentTextChanged),
                             ("allow_live_mode", self.live_box.toggled)):
            signal.connect(lambda _value=None, n=name: self._field_changed(n))
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)

    def _key_notice(self) -> str:
        if self._keys.persistent:
            return ""
        return ("No OS keyring is available: secrets you enter are kept in memory for this "
                "session only and must be entered again next time (they are never written "
                "to a file).")

    # --- validation -----------------------------------------------------------------------

    def preference_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "database_url": self.database_edit.text().strip() or None,
            "stripe_api_base": self.api_base_edit.text().strip() or None,
            "success_url": self.success_edit.text().strip() or None,
            "cancel_url": self.cancel_edit.text().strip() or None,
            "currency": self.currency_box.currentText().strip().lower() or None,
            "allow_live_mode": self.live_box.isChecked(),
        }
        return values

    def revalidate(self) -> None:
        """Check the secrets as typed (prefix and mode); the rest is checked on save."""
        problems: dict[str, str] = {}
        key = self.key_field.value()
        if key:
            try:
                if key_mode(key) == "live" and not self.live_box.isChecked():
                    problems["stripe_key"] = ("a LIVE key charges real cards; tick "
                                              "“Allow live mode” to use it")
            except ConfigError as exc:
                problems["stripe_key"] = str(exc).split(": ", 1)[-1]
        secret = self.secret_field.value()
        if secret and not re.fullmatch(r"whsec_[A-Za-z0-9_+/=]+", secret):
            problems["webhook_secret"] = "must start with whsec_ (Stripe's signing secret)"
        # Problems found on the last save stay until their field changes value.
        for name, rule in self.problems.items():
            if name not in ("stripe_key", "webhook_secret"):
                problems.setdefault(name, rule)
        self._show_problems(problems)

    def _show_problems(self, problems: dict[str, str]) -> None:
        self.problems = problems
        for name, label in self.problem_labels.items():
            label.setText(problems.get(name, ""))
            label.setVisible(name in problems)
        self.save_button.setEnabled(not problems and not self.tasks.is_running("save"))

    def _field_changed(self, name: str) -> None:
        self.problems.pop(name, None)
        self.revalidate()

    # --- saving -------------------------------------------------------------------------

    @asyncSlot()
    async def _on_save(self) -> None:
        await self.tasks.run("save", self.save(), self.save_button)

    async def save(self) -> bool:
        """Store preferences and secrets (off the GUI thread: a keyring may be slow)."""
        self.error_label.hide()
        values = self.preference_values()
        try:
            await asyncio.to_thread(self._preferences.save, values)
        except ConfigError as exc:
            self._show_problems(self._map_preference_problems(str(exc)))
            return False
        key, secret = self.key_field.value(), self.secret_field.value()
        await asyncio.to_thread(self._store_secret, STRIPE_KEY_NAME, key,
                                self.key_field.remove_requested)
        await asyncio.to_thread(self._store_secret, WEBHOOK_SECRET_NAME, secret,
                                self.secret_field.remove_requested)
        self.saved.emit()
        self.accept()
        return True

    def _store_secret(self, name: str, value: str, remove: bool) -> None:
        if value:
            self._keys.set(value, name)
        elif remove:
            self._keys.delete(name)

    def _map_preference_problems(self, message: str) -> dict[str, str]:
        """PreferencesStore reports "field (VARIABLE): rule; …": put each under its field."""
        problems: dict[str, str] = {}
        for part in message.split("; "):
            field, _, rule = part.partition(": ")
            name = field.split(" ", 1)[0]
            if name in self.problem_labels:
                problems[name] = rule
            else:
                self.error_label.setText(message)
                self.error_label.show()
        return problems

    def _show_error(self, error: UhadminError) -> None:
        self.error_label.setText(friendly_text(error))
        self.error_label.show()

    # --- test connection ------------------------------------------------------------------

    @asyncSlot()
    async def _on_test(self) -> None:
        await self.tasks.run("test", self.test_connection(), self.test_button)

    async def test_connection(self) -> str:
        """Ask the tester about the key and API base as typed (the stored key if the field
        is empty); shows the account and mode, or the error, next to the button."""
        if self._connection_tester is None:
            return ""
        key: str | None = self.key_field.value() or None
        if key is None and self.key_field.remove_requested:
            key = ""  # the key is about to go: test what uhadmin would use without one
        base = self.api_base_edit.text().strip() or None
        self.test_result.setProperty("problem", False)
        self._show_test("Testing…")
        try:
            text = await self._connection_tester(key, base)
        except UhadminError as error:
            self.test_result.setProperty("problem", True)
            self._show_test(friendly_text(error))
            return ""
        self._show_test(text)
        return text

    def _show_test(self, text: str) -> None:
        self.test_result.setText(text)
        self.test_result.style().unpolish(self.test_result)
        self.test_result.style().polish(self.test_result)
        self.test_result.show()

    def done(self, result: int) -> None:
        self.tasks.cancel_all()
        super().done(result)
