"""The GUI composition root: settings and services wired into a working main window."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from uhadmin.app import build_gui, run_gui
from uhadmin.views.main_window import MainWindow


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
    assert run_gui() == 0
    assert windows and windows[0].listings_tab.model.total == 0
