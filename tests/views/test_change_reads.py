"""How many database reads one change costs the whole main window (the typed change bus lets
each view refresh only what a change touches): counted on the engine, in the real window."""

from __future__ import annotations

import asyncio
import dataclasses
import traceback
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import event

from uhadmin.app import build_gui
from uhadmin.domain import ListingStatus, NewListing

# Where a read came from: the first uhadmin frame outside the database facade.
_FACADE = ("uhadmin/services/database.py",)


def _caller() -> str:
    """The service function that read (reads run in the database's worker threads, so the
    view that asked is not on this stack)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/uhadmin/" in frame.filename and not frame.filename.endswith(_FACADE):
            return f"{frame.filename.rsplit('/uhadmin/', 1)[1]}:{frame.name}"
    return "?"


class ReadCounter:
    """Counts SELECTs on an engine, by the uhadmin function that asked, while `on`."""

    def __init__(self, engine) -> None:
        self.on = False
        self.by_caller: Counter[str] = Counter()
        self.queued_reads = 0
        self._engine = engine
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement: str, *_rest) -> None:
        text = statement.lstrip().upper()
        if not self.on or not text.startswith("SELECT"):
            return
        self.by_caller[_caller()] += 1
        # The queue length: a count of the outbox's pending rows.
        if "COUNT(" in text and "FROM STRIPE_CHANGES" in text and "DONE_AT IS NULL" in text:
            self.queued_reads += 1

    @property
    def total(self) -> int:
        return sum(self.by_caller.values())

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


async def settled(window) -> None:
    """Every view's debounce timer has fired and every task it started has finished."""
    for _ in range(3):
        await asyncio.sleep(0.8)  # longer than any view's change-coalescing timer
        for tab in list(window.tabs_by_key.values()):
            await tab.tasks.wait_idle()
        await window.tasks.wait_idle()


@pytest.mark.slow  # the whole main window, every tab loaded
def test_one_price_edit_costs_at_most_three_reads(qtbot, qt_loop, run, app_settings,
                                                  key_store, preferences, qsettings,
                                                  tmp_path: Path):
    """As a person edits: select a row, Enter, type the price, save. Three reads for the
    whole window (the edit's version check, the Stripe queue's new length, the detail
    pane's history with the new audit row); the other tabs read nothing."""
    settings = dataclasses.replace(app_settings, data_dir=tmp_path / "data")
    parts = build_gui(settings=settings, keys=key_store, preferences=preferences,
                      qsettings=qsettings)
    services, window = parts.services, parts.window
    assert services is not None
    counter = ReadCounter(services.db.engine)

    async def scenario() -> None:
        listings = services.listings
        for number in range(3):
            await listings.create(NewListing(title=f"Lamp {number}", price_minor=800 + number,
                                             currency="usd", status=ListingStatus.APPROVED),
                                  actor="seller@hawaii.edu")
        window.show()
        window.start()
        await settled(window)
        tab = window.listings_tab
        target = tab.model.listing_at(0)
        tab.select_ids([target.id])
        await settled(window)
        tab.table.setFocus()
        qtbot.keyClick(tab.table, Qt.Key.Key_Return)  # Enter edits the selected listing
        dialog = tab._dialogs[-1]
        dialog.price_edit.setText("12.50")
        counter.on = True
        saved = await dialog.save()
        await settled(window)
        counter.on = False
        assert saved is not None and saved.price_minor == 1250
        # The table and the detail pane show the new price without reading the listing again.
        row = tab.model.row_of(target.id)
        assert row is not None and tab.model.listing_at(row).price_minor == 1250
        assert tab.detail.listing is not None and tab.detail.listing.price_minor == 1250

    try:
        run(asyncio.wait_for(scenario(), timeout=30))
    finally:
        counter.close()
        parts.close()
    print("reads per price edit:", counter.total, dict(counter.by_caller),
          "queue-length reads:", counter.queued_reads)
    assert counter.total <= 3, dict(counter.by_caller)
    assert counter.queued_reads <= 1, dict(counter.by_caller)
