"""The detail pane: fields, history from the service, the image loaded without blocking."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from uhadmin.cli.screenshot_commands import draw_demo_photos, serve_folder
from uhadmin.domain import ListingStatus
from uhadmin.views.listing_detail import ListingDetailPane


def make_pane(qtbot, listings) -> ListingDetailPane:
    pane = ListingDetailPane(listings, dashboard_base="https://dashboard.stripe.com/test")
    qtbot.addWidget(pane, before_close_func=lambda widget: widget.shutdown())
    return pane


def image_answered(pane: ListingDetailPane) -> asyncio.Event:
    """Set when the image loader answers (loaded or failed) the next request."""
    answered = asyncio.Event()
    pane.images.loaded.connect(lambda *_args: answered.set())
    pane.images.failed.connect(lambda *_args: answered.set())
    return answered


def test_fields_and_history(qtbot, listings, make_listing, run):
    listing = make_listing("Mini fridge", 7000, ListingStatus.REJECTED,
                           seller_contact="kai@hawaii.edu")
    pane = make_pane(qtbot, listings)
    pane.show_listing(listing)
    run(pane.tasks.wait_idle())
    assert pane.title.text() == "Mini fridge"
    assert pane.fields["price"].text() == "$70.00"
    assert pane.fields["status"].text() == "Rejected (reason: not allowed)"
    assert pane.fields["product"].text() == "not in Stripe yet"
    actions = [pane.history.topLevelItem(i).text(2)
               for i in range(pane.history.topLevelItemCount())]
    assert actions[-1] == "create" and len(actions) == 3  # newest first


def test_stripe_ids_link_to_the_dashboard(qtbot, listings, make_listing, run):
    from dataclasses import replace

    listing = replace(make_listing("Kettle", 1200), stripe_product_id="prod_123",
                      stripe_price_id="price_456")
    pane = make_pane(qtbot, listings)
    pane.show_listing(listing)
    run(pane.tasks.wait_idle())
    assert 'href="https://dashboard.stripe.com/test/products/prod_123"' in \
        pane.fields["product"].text()


def test_text_people_typed_is_shown_as_typed(qtbot, listings, make_listing, run):
    listing = make_listing("<b>Bold</b> lamp", 800, description="<img src=x>")
    pane = make_pane(qtbot, listings)
    pane.show_listing(listing)
    run(pane.tasks.wait_idle())
    assert pane.title.textFormat() == Qt.TextFormat.PlainText
    assert pane.description.textFormat() == Qt.TextFormat.PlainText
    assert pane.title.text() == "<b>Bold</b> lamp"


@pytest.mark.slow
def test_image_loads_asynchronously_and_falls_back_to_a_placeholder(
        qtbot, listings, make_listing, run, tmp_path: Path):
    photo = draw_demo_photos(tmp_path / "photos")[0]
    with serve_folder(tmp_path / "photos") as base:
        good = make_listing("Calculus", 4500, image_urls=(f"{base}/{photo.name}",))
        missing = make_listing("Bike", 12000, image_urls=(f"{base}/nothing-here.png",))
        pane = make_pane(qtbot, listings)
        answered = image_answered(pane)
        pane.show_listing(good)
        assert pane.image.text() == "Loading image…"  # returned at once: nothing blocked
        run(answered.wait())
        assert not pane.image.pixmap().isNull()
        answered.clear()
        pane.show_listing(missing)
        run(answered.wait())
        assert pane.image.text().startswith("Image unavailable")
        pane.show_listing(good)  # from the memory cache, at once
        assert not pane.image.pixmap().isNull()
    no_image = make_listing("Lamp", 800)
    pane.show_listing(no_image)
    assert pane.image.text() == "No image"
    run(pane.tasks.wait_idle())
