"""Offline review in the GUI: the start-up choice, the switch mid-review with its banner,
the way back, and the conflict view — real widgets, a private PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel
from sqlalchemy import create_engine, text

from uhadmin.app import open_gui
from uhadmin.domain import ListingChanges, ListingStatus, NewListing
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.services.offline.service import OfflineService, open_replica
from uhadmin.views.main_window import MainWindow
from uhadmin.views.offline_conflicts import ConflictView

pytest_plugins = ["private_postgres"]

SHOTS = "screenshots"


async def seed(url: str, titles: list[str]) -> list:
    db = Database(url)
    db.upgrade()
    service = ListingService(db, ChangeBus())
    made = [await service.create(NewListing(title=title, price_minor=1000 + n, currency="usd",
                                            status=ListingStatus.PENDING_REVIEW),
                                 actor="web") for n, title in enumerate(titles)]
    db.close()
    return made


def catalog_rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def shot(widget, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert widget.grab().save(str(path))
    return path


async def idle(window: MainWindow, *more) -> None:
    for _ in range(3):
        for tab in list(window.tabs_by_key.values()):
            await tab.tasks.wait_idle()
        for runner in more:
            await runner.wait_idle()
        await asyncio.sleep(0.05)


@pytest.mark.slow
def test_catalog_drops_mid_review_banner_then_back(qtbot, qt_loop, run, app_settings,
                                                     key_store, preferences, qsettings,
                                                     private_cluster, tmp_path: Path):
    url = private_cluster.url
    settings = dataclasses.replace(app_settings, data_dir=tmp_path / "data", database_url=url)

    async def scenario() -> None:
        lamp, desk, _chair = await seed(url, ["Lamp", "Desk", "Chair"])
        parts = await open_gui(settings=settings, keys=key_store, preferences=preferences,
                               qsettings=qsettings, auto_sync=False)
        try:
            await review_offline_and_back(parts, lamp, desk)
        finally:
            await parts.aclose()

    async def review_offline_and_back(parts, lamp, desk) -> None:
        window, offline = parts.window, parts.offline
        controller = offline.controller
        await idle(window)
        await offline.service.refresh()
        review = window.review_tab
        window.tab_widget.setCurrentWidget(review)
        assert review.model.rowCount() == 3 and not controller.banner.isVisible()

        private_cluster.stop()  # the connection drops while the reviewer works
        review.table.setFocus()
        qtbot.keyClick(review.table, Qt.Key.Key_A)  # approve the first (the lamp)
        await idle(window, controller.tasks)
        assert offline.failover.is_offline
        banner = controller.banner
        assert banner.isVisible()
        message = banner.message.text()
        assert message.startswith("Working offline from the copy of ")
        assert message.endswith("; 1 change will be sent when the catalog is back")
        qtbot.keyClick(review.table, Qt.Key.Key_A)  # the desk, offline from the start
        await idle(window, controller.tasks)
        assert "2 changes will be sent" in banner.message.text()
        assert review.model.rowCount() == 1
        shot(window, tmp_path / SHOTS, "offline_banner")

        private_cluster.start()
        qtbot.mouseClick(banner.retry_button, Qt.MouseButton.LeftButton)
        await idle(window, controller.tasks)
        assert not offline.failover.is_offline and not banner.isVisible()
        assert "Back online: 2 offline changes sent" in window.statusBar().currentMessage()
        assert catalog_rows(url, f"SELECT id, status FROM listings WHERE id IN "
                                 f"({lamp.id}, {desk.id}) ORDER BY id") == [
            (lamp.id, "approved"), (desk.id, "approved")]
        assert catalog_rows(url, "SELECT entity_id, action, actor FROM audit_log "
                                 "WHERE action LIKE 'offline%' ORDER BY entity_id") == [
            (str(lamp.id), "offline_applied", "reviewer@hawaii.edu"),
            (str(desk.id), "offline_applied", "reviewer@hawaii.edu")]

    run(scenario())


@pytest.mark.slow
def test_start_without_the_catalog_offers_the_copy(qtbot, qt_loop, run, app_settings,
                                                    key_store, preferences, qsettings,
                                                    private_cluster, tmp_path: Path):
    url = private_cluster.url
    run(seed(url, ["Lamp", "Desk"]))
    settings = dataclasses.replace(app_settings, data_dir=tmp_path / "data", database_url=url)

    async def copy_now() -> None:
        db = Database(url)
        copy = OfflineService(open_replica(settings.data_dir, url), ChangeBus(), catalog=db,
                              listings=ListingService(db, ChangeBus()))
        await copy.refresh()
        copy.close()
        db.close()

    run(copy_now())
    private_cluster.stop()  # gone before the app starts

    async def scenario():
        opening = asyncio.ensure_future(open_gui(settings=settings, keys=key_store,
                                                 preferences=preferences, qsettings=qsettings,
                                                 auto_sync=False))
        window = None
        while window is None or getattr(window, "offline_choice", None) is None \
                or not window.offline_choice.isVisible():
            await asyncio.sleep(0.05)
            window = next((w for w in QApplication.topLevelWidgets()
                           if isinstance(w, MainWindow) and w.isVisible()), None)
        dialog = window.offline_choice
        assert dialog.offline_button.isEnabled()
        advice = dialog.findChild(QLabel, "unreachableAdvice").text()
        assert "2 listings" in advice and "retry" in advice
        shot(dialog, tmp_path / SHOTS, "start_without_catalog")
        qtbot.mouseClick(dialog.offline_button, Qt.MouseButton.LeftButton)
        parts = await opening
        try:
            await idle(parts.window, parts.offline.controller.tasks)
            assert parts.services is None and parts.offline.failover.is_offline
            assert parts.window.review_tab.model.rowCount() == 2  # the queue, from the copy
            banner = parts.offline.controller.banner
            assert banner.isVisible()
            assert "Working offline from the copy of" in banner.message.text()
        finally:
            await parts.aclose()

    run(scenario())


@pytest.mark.slow
def test_start_without_any_copy_offers_retry_and_settings(qtbot, qt_loop, run, app_settings,
                                                           key_store, preferences, qsettings,
                                                           tmp_path: Path):
    settings = dataclasses.replace(
        app_settings, data_dir=tmp_path / "data",
        database_url="postgresql+psycopg://nobody:secret@127.0.0.1:9/none")

    async def scenario():
        opening = asyncio.ensure_future(open_gui(settings=settings, keys=key_store,
                                                 preferences=preferences, qsettings=qsettings))
        answered, last = 0, None
        while answered < 2:  # Retry fails again: the same choice comes back
            await asyncio.sleep(0.05)
            window = next((w for w in QApplication.topLevelWidgets()
                           if isinstance(w, MainWindow) and w.isVisible()), None)
            dialog = getattr(window, "offline_choice", None)
            if dialog is not None and dialog is not last and dialog.isVisible():
                answered, last = answered + 1, dialog
                assert not dialog.offline_button.isEnabled()  # no copy yet
                said = " ".join(label.text() for label in dialog.findChildren(QLabel))
                assert "127.0.0.1" in said and "secret" not in said
                qtbot.mouseClick(dialog.retry_button, Qt.MouseButton.LeftButton)
        window.close()  # the person gives up: the app closes as it should
        parts = await opening
        try:
            assert parts.services is None and parts.offline is None
        finally:
            await parts.aclose()

    app = QApplication.instance()
    app.setQuitOnLastWindowClosed(False)  # as the app runs (uhadmin.app._run_app)
    try:
        run(scenario())
    finally:
        app.setQuitOnLastWindowClosed(True)


def test_conflict_view_shows_three_sides_and_takes_an_edit(qtbot, qt_loop, run, listings,
                                                           sqlite_database, tmp_path: Path):
    async def make_conflict() -> tuple[OfflineService, int]:
        lamp = await listings.create(NewListing(title="Lamp", price_minor=1000,
                                                currency="usd"), actor="web")
        service = OfflineService(open_replica(tmp_path, sqlite_database.url), ChangeBus(),
                                 catalog=sqlite_database, listings=listings)
        await service.refresh()
        await service.offline_listings.update(
            lamp.id, ListingChanges(title="Brass lamp", price_minor=1200),
            expected_version=lamp.version, actor="ana")
        await listings.update(lamp.id, ListingChanges(title="Lamp, 40 cm"),
                              expected_version=lamp.version, actor="web")
        report = await service.push()
        assert len(report.conflicts) == 1
        return service, lamp.id

    service, lamp_id = run(make_conflict())
    view = ConflictView(service, actor="ana")
    qtbot.addWidget(view)
    view.show()
    run(view.load())
    assert view.list.count() == 1
    assert view.findChild(QLabel, "base_title").text() == "Lamp"
    assert view.findChild(QLabel, "theirs_title").text() == "Lamp, 40 cm"
    mine = view.editors["title"]
    assert mine.text() == "Brass lamp"
    shot(view, tmp_path / SHOTS, "conflict_view")
    mine.selectAll()
    qtbot.keyClicks(mine, "Brass lamp, 40 cm")
    qtbot.mouseClick(view.take_mine, Qt.MouseButton.LeftButton)
    run(view.tasks.wait_idle())
    run(asyncio.sleep(0.1))
    listing = run(listings.get(lamp_id))
    assert (listing.title, listing.price_minor) == ("Brass lamp, 40 cm", 1200)
    assert view.list.count() == 0
    history = run(listings.history(lamp_id))
    assert history[0].action == "offline_resolved" and history[0].details["took"] == "edited"
    view.close()
    service.close()


def test_image_loader_falls_back_to_the_offline_copy(qtbot, tmp_path: Path):
    from PySide6.QtGui import QColor, QImage

    from uhadmin.domain.offline import cached_image_name
    from uhadmin.views.image_loader import ImageLoader

    url = "http://127.0.0.1:9/lamp.png"  # nothing listens: the network fails at once
    picture = QImage(4, 3, QImage.Format.Format_RGB32)
    picture.fill(QColor("orange"))
    assert picture.save(str(tmp_path / cached_image_name(url)), "PNG")
    holder = QLabel()  # Qt owns and deletes the loader with the widget, on the GUI thread
    qtbot.addWidget(holder)
    loader = ImageLoader(holder)
    with qtbot.waitSignal(loader.failed, timeout=10_000):
        loader.request(url)  # no offline copy wired: an honest failure
    loader.offline_folder = tmp_path
    with qtbot.waitSignal(loader.loaded, timeout=10_000) as shown:
        loader.request(url)
    assert shown.args[1].size().width() == 4
    loader.abort_all()
