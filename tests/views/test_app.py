"""The GUI composition root: settings and services wired into a working main window."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from uhadmin.app import StartingBus, build_gui, open_gui, run_gui
from uhadmin.domain import NewListing
from uhadmin.views.main_window import MainWindow


@pytest.mark.slow
def test_build_gui_wires_real_services(qapp, qt_loop, run, app_settings, key_store,
                                       preferences, qsettings, tmp_path: Path, make_listing):
    make_listing("Mini fridge", 7000)
    settings = dataclasses.replace(app_settings, data_dir=tmp_path / "data")
    parts = build_gui(settings=settings, keys=key_store, preferences=preferences,
                      qsettings=qsettings)
    try:
        window = parts.window
        assert isinstance(window, MainWindow)
        window.show()
        window.start()
        run(window.listings_tab.tasks.wait_idle())
        assert window.listings_tab.model.rowCount() == 1
        assert window.mode_badge.text() == "SANDBOX"
    finally:
        parts.close()
        run(window.tasks.wait_idle())


@pytest.mark.slow
def test_run_gui_starts_and_quits_when_the_window_closes(qapp, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("UHADMIN_DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    windows: list[MainWindow] = []

    def close_main_window() -> None:
        found = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, MainWindow) and w.isVisible()]
        windows.extend(found)
        for window in found:
            window.close()

    QTimer.singleShot(1500, close_main_window)
    assert run_gui(create_database=True) == 0
    assert windows and windows[0].listings_tab.model.total == 0


@pytest.mark.slow
def test_open_gui_paints_the_window_before_the_services_start(
        qapp, qt_loop, run, app_settings, key_store, preferences, qsettings, tmp_path: Path,
        make_listing):
    make_listing("Mini fridge", 7000)
    settings = dataclasses.replace(app_settings, data_dir=tmp_path / "data")
    seen_before_services = []

    async def scenario():
        opening = asyncio.ensure_future(open_gui(settings=settings, keys=key_store,
                                                 preferences=preferences, qsettings=qsettings))
        await asyncio.sleep(0)
        window = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, MainWindow) and w.isVisible())
        seen_before_services.append(window.statusBar().currentMessage())
        parts = await opening
        await window.listings_tab.tasks.wait_idle()
        return parts

    parts = run(scenario())
    try:
        assert seen_before_services == ["Opening the catalog…"]
        assert parts.services is not None
        assert parts.window.listings_tab.model.rowCount() == 1  # the waiting query completed
        # The bus moved over: a change made now reaches the window's views.
        run(parts.services.listings.create(
            NewListing(title="Desk lamp", price_minor=800, currency="usd"), actor="x"))
        run(asyncio.sleep(0.4))
        run(parts.window.listings_tab.tasks.wait_idle())
        assert parts.window.listings_tab.model.rowCount() == 2
    finally:
        parts.close()


def test_starting_bus_moves_subscriptions_to_the_real_bus():
    from uhadmin.domain.changes import ListingsChanged
    from uhadmin.services.change_bus import ChangeBus

    starting, real = StartingBus(), ChangeBus()
    heard, dropped = [], []
    starting.subscribe(heard.append)
    unsubscribe = starting.subscribe(dropped.append)
    starting.attach(real)
    unsubscribe()
    real.publish(ListingsChanged(ids=frozenset({1})))
    assert [c.ids for c in heard] == [frozenset({1})] and dropped == []
