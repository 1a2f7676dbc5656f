"""The settings dialog: secrets to the key store only, other settings to preferences, inline
problems, and the memory-only notice on a box without a keyring."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt

from uhadmin.config import STRIPE_KEY_NAME, WEBHOOK_SECRET_NAME
from uhadmin.views.settings_dialog import SettingsDialog

TEST_KEY = "sk_test_51AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
LIVE_KEY = "sk_live_51AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
WEBHOOK_SECRET = "whsec_AbCdEfGhIjKlMnOpQrStUvWx"


def make_dialog(qtbot, app_settings, key_store, preferences) -> SettingsDialog:
    dialog = SettingsDialog(app_settings, key_store, preferences)
    qtbot.addWidget(dialog)
    return dialog


def files_containing(text: str, *roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                try:
                    if text.encode() in path.read_bytes():
                        found.append(path)
                except OSError:
                    continue
    return found


def test_saves_preferences_and_keeps_secrets_out_of_every_file(
        qtbot, app_settings, key_store, preferences, qsettings, tmp_path, run):
    dialog = make_dialog(qtbot, app_settings, key_store, preferences)
    assert not dialog.notice.text() == ""  # headless: the memory-only notice shows
    dialog.key_field.edit.setText(TEST_KEY)
    dialog.secret_field.edit.setText(WEBHOOK_SECRET)
    dialog.currency_box.setCurrentText("EUR")
    dialog.success_edit.setText("https://market.example.edu/paid?session={CHECKOUT_SESSION_ID}")
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    run(dialog.tasks.wait_idle())
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    saved = preferences.load()
    assert saved["currency"] == "eur"
    assert saved["success_url"].endswith("{CHECKOUT_SESSION_ID}")
    assert key_store.get(STRIPE_KEY_NAME).reveal() == TEST_KEY
    assert key_store.get(WEBHOOK_SECRET_NAME).reveal() == WEBHOOK_SECRET
    qsettings.sync()
    roots = [tmp_path, Path(os.environ["XDG_CONFIG_HOME"]), Path(os.environ["XDG_DATA_HOME"])]
    assert files_containing(TEST_KEY, *roots) == []
    assert files_containing(WEBHOOK_SECRET, *roots) == []


def test_stored_key_is_shown_masked_and_can_be_removed(qtbot, app_settings, key_store,
                                                       preferences, run):
    key_store.set(TEST_KEY)
    dialog = make_dialog(qtbot, app_settings, key_store, preferences)
    assert dialog.key_field.edit.text() == ""
    assert "sk_test_…6789" in dialog.key_field.edit.placeholderText()
    assert TEST_KEY not in dialog.key_field.edit.placeholderText()
    qtbot.mouseClick(dialog.key_field.remove_button, Qt.MouseButton.LeftButton)
    assert run(dialog.save())
    assert key_store.get(STRIPE_KEY_NAME) is None


def test_key_problems_are_inline_and_block_saving(qtbot, app_settings, key_store, preferences):
    dialog = make_dialog(qtbot, app_settings, key_store, preferences)
    dialog.key_field.edit.setText("pk_test_123456789012345")
    assert "publishable key" in dialog.problem_labels["stripe_key"].text()
    assert not dialog.save_button.isEnabled()
    dialog.key_field.edit.setText(LIVE_KEY)
    assert "Allow live mode" in dialog.problem_labels["stripe_key"].text()
    dialog.live_box.setChecked(True)
    assert dialog.problems == {} and dialog.save_button.isEnabled()
    dialog.secret_field.edit.setText("not-a-secret")
    assert "whsec_" in dialog.problem_labels["webhook_secret"].text()


def test_bad_preference_is_named_under_its_field_and_nothing_is_saved(
        qtbot, app_settings, key_store, preferences, run):
    dialog = make_dialog(qtbot, app_settings, key_store, preferences)
    dialog.success_edit.setText("https://market.example.edu/paid")
    dialog.key_field.edit.setText(TEST_KEY)
    assert not run(dialog.save())
    assert "{CHECKOUT_SESSION_ID}" in dialog.problem_labels["success_url"].text()
    assert not dialog.save_button.isEnabled()
    assert preferences.load() == {}
    assert key_store.get(STRIPE_KEY_NAME) is None  # no half-saved settings
    dialog.success_edit.setText("https://market.example.edu/paid?s={CHECKOUT_SESSION_ID}")
    assert dialog.save_button.isEnabled()
