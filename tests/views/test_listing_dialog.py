"""The create/edit dialog: inline validation as you type, save through the service, conflicts."""

from __future__ import annotations

from PySide6.QtCore import Qt

from uhadmin.domain import ListingChanges, ListingStatus
from uhadmin.views.listing_dialog import ListingDialog


def new_dialog(qtbot, listings, **kwargs) -> ListingDialog:
    dialog = ListingDialog(listings, actor="reviewer@hawaii.edu", **kwargs)
    qtbot.addWidget(dialog)
    return dialog


def test_problems_show_next_to_their_field_as_you_type(qtbot, listings):
    dialog = new_dialog(qtbot, listings)
    assert not dialog.save_button.isEnabled()
    assert dialog.problems["title"].startswith("required")
    assert dialog.problem_labels["title"].isHidden()  # no red before the field is touched
    qtbot.keyClicks(dialog.title_edit, "B")
    dialog.title_edit.clear()
    assert dialog.problem_labels["title"].text().startswith("required")
    dialog.title_edit.setText("Bike lock")
    qtbot.keyClicks(dialog.price_edit, "0.25")
    assert "at least $0.50" in dialog.problem_labels["price"].text()
    assert not dialog.problem_labels["price"].isHidden()
    assert not dialog.save_button.isEnabled()
    dialog.price_edit.setText("12.345")
    assert dialog.problems["price"] == "at most 2 decimal places for USD"
    dialog.currency_box.setCurrentText("JPY")
    dialog.price_edit.setText("500")
    assert "price" not in dialog.problems
    dialog.images_edit.setPlainText("ftp://example.com/lock.jpg")
    assert "http" in dialog.problem_labels["images"].text()
    dialog.images_edit.setPlainText("https://example.com/lock.jpg")
    assert dialog.problems == {}
    assert dialog.save_button.isEnabled()
    assert dialog.problem_labels["title"].isHidden()


def test_stripe_length_limits_are_named(qtbot, listings):
    dialog = new_dialog(qtbot, listings)
    dialog.title_edit.setText("x" * 5001)
    dialog.price_edit.setText("5")
    assert "at most 5,000 characters" in dialog.problem_labels["title"].text()


def test_save_creates_through_the_service_and_closes(qtbot, listings, run):
    dialog = new_dialog(qtbot, listings, default_currency="usd")
    dialog.title_edit.setText("Rice cooker")
    dialog.price_edit.setText("35")
    dialog.category_box.setCurrentText("Kitchen")
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        run(dialog.tasks.wait_idle())
    created = saved.args[0]
    assert (created.title, created.price_minor, created.category) == ("Rice cooker", 3500,
                                                                      "Kitchen")
    assert created.status == ListingStatus.DRAFT
    assert dialog.result() == ListingDialog.DialogCode.Accepted


def test_edit_sends_only_changed_fields(qtbot, listings, make_listing, run):
    original = make_listing("Desk lamp", 800, description="Clamp included")
    dialog = new_dialog(qtbot, listings, listing=original)
    assert "No changes" in dialog.hint_label.text() and not dialog.save_button.isEnabled()
    dialog.price_edit.setText("9.50")
    assert dialog.changes() == ListingChanges(price_minor=950)
    saved = run(dialog.save())
    assert saved.price_minor == 950 and saved.description == "Clamp included"
    assert saved.version == original.version + 1


def test_conflict_offers_reload_that_keeps_my_changes(qtbot, listings, make_listing, run):
    original = make_listing("Desk lamp", 800)
    dialog = new_dialog(qtbot, listings, listing=original)
    # Someone else saves first.
    run(listings.update(original.id, ListingChanges(description="Bulb included"),
                        expected_version=original.version, actor="other"))
    dialog.price_edit.setText("9.50")
    assert run(dialog.save()) is None
    assert not dialog.conflict_banner.isHidden()
    assert dialog.isVisible() or dialog.result() == 0  # still open, nothing saved
    qtbot.mouseClick(dialog.reload_button, Qt.MouseButton.LeftButton)
    run(dialog.tasks.wait_idle())
    assert dialog.conflict_banner.isHidden()
    assert dialog.description_edit.toPlainText() == "Bulb included"  # theirs
    assert dialog.price_edit.text() == "9.50"  # mine, kept
    saved = run(dialog.save())
    assert (saved.price_minor, saved.description) == (950, "Bulb included")


def test_service_errors_show_in_the_dialog(qtbot, listings, make_listing, run):
    original = make_listing("Desk lamp", 800)
    run(listings.delete_draft(original.id, actor="other"))
    dialog = new_dialog(qtbot, listings, listing=original)
    dialog.title_edit.setText("Desk lamp, white")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    run(dialog.tasks.wait_idle())
    assert not dialog.error_label.isHidden()
    assert str(original.id) in dialog.error_label.text()
