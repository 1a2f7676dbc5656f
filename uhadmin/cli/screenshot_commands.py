"""`uhadmin screenshot OUTDIR`: every main-window tab and dialog, with a demo catalog, as PNG."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from uhadmin.cli.common import emit, handles_errors, json_option, main_group
from uhadmin.cli.screenshot_demo import (
    demo_gui_activity,
    demo_other_account,
    demo_stripe_activity,
    draw_demo_photos,
    seed_demo_catalog,
    serve_folder,
)
from uhadmin.errors import ConfigError

__all__ = ["draw_demo_photos", "render_screenshots", "serve_folder"]

@main_group.command("screenshot")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--theme", type=click.Choice(["light", "dark", "both"]), default="both",
              show_default=True, help="Palette(s) to render.")
@json_option
@click.pass_context
@handles_errors
def screenshot(ctx: click.Context, outdir: str, theme: str, as_json: bool) -> None:
    """Render each main-window tab and each dialog, offscreen, with a demo catalog, to PNGs."""
    if not outdir.strip():  # Path("") would be the current folder
        raise click.BadParameter("must name a folder", param_hint="OUTDIR")
    folder = Path(outdir)
    _writable_folder(folder)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    written = render_screenshots(folder, themes=("light", "dark") if theme == "both"
                                 else (theme,))
    emit(ctx, {"written": [str(p) for p in written]},
         "\n".join(str(p) for p in written), as_json=as_json)


def _writable_folder(folder: Path) -> None:
    """Make `folder` (and its parents) or say in one line why not, before Qt even loads."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot create the folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{folder}: the folder is not writable")


def render_screenshots(outdir: Path, *, themes: tuple[str, ...] = ("light", "dark")) -> list[Path]:
    from keyring.backends import fail
    from PySide6.QtCore import QSettings

    from uhadmin.app import build_gui, ensure_application
    from uhadmin.bootstrap import build_services
    from uhadmin.config import KeyStore, PreferencesStore, load_settings
    from uhadmin.views.event_loop import QtEventLoop

    outdir.mkdir(parents=True, exist_ok=True)
    app = ensure_application()
    loop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="uhadmin-demo-") as temp:
        temp_path = Path(temp)
        keys = KeyStore(backend=fail.Keyring())
        preferences = PreferencesStore(temp_path / "preferences.json")
        settings = load_settings({"database_url": f"sqlite:///{temp_path / 'demo.sqlite3'}",
                                  "actor": "reviewer@hawaii.edu"},
                                 environ={}, keys=keys, preferences=preferences)
        # The no-key sandbox keeps its account in the data folder: a temporary one here.
        settings = dataclasses.replace(settings, data_dir=temp_path)
        services = build_services(settings)
        photos = draw_demo_photos(temp_path / "photos")
        with serve_folder(temp_path / "photos") as base:
            urls = [f"{base}/{path.name}" for path in photos]
            qsettings = QSettings(str(temp_path / "layout.ini"), QSettings.Format.IniFormat)
            # The window opens on the still empty catalog: the first run's guidance.
            parts = build_gui(settings=settings, keys=keys, preferences=preferences,
                              qsettings=qsettings, services=services)
            try:
                parts.window.resize(1360, 820)
                parts.window.show()
                parts.window.start()
                for theme in themes:
                    written += loop.run_until_complete(_shoot_first_run(parts, outdir, theme))
                loop.run_until_complete(seed_demo_catalog(services.listings, image_urls=urls,
                                                          actor="reviewer@hawaii.edu"))
                loop.run_until_complete(demo_stripe_activity(services))
                loop.run_until_complete(demo_gui_activity(parts))
                for theme in themes:
                    written += loop.run_until_complete(_shoot_all(parts, outdir, theme))
                loop.run_until_complete(demo_other_account(parts))
                for theme in themes:
                    written += loop.run_until_complete(_shoot_other_account(parts, outdir,
                                                                            theme))
                # The README's headline picture: the main window as most people see it.
                headline = outdir / f"main-listings-{themes[0]}.png"
                shutil.copyfile(headline, outdir / "screenshot.png")
                written.append(outdir / "screenshot.png")
            finally:
                loop.run_until_complete(parts.aclose())
                loop.run_until_complete(asyncio.sleep(0))
    return written


async def _settle(window: Any, seconds: float = 0.3) -> None:
    for tab in list(window.tabs_by_key.values()):
        await tab.tasks.wait_idle()
        detail_tasks = getattr(getattr(tab, "detail", None), "tasks", None)  # a pane with work
        if detail_tasks is not None:
            await detail_tasks.wait_idle()
    await window.tasks.wait_idle()
    # Qt's events run while the (qasync) loop waits; processEvents() here would run other
    # tasks' wake-ups inside this one ("Cannot enter into task"), losing them for good.
    await asyncio.sleep(seconds)


def _save(widget: Any, path: Path) -> Path:
    widget.grab().save(str(path))
    return path


async def _shoot_first_run(parts: Any, outdir: Path, theme_name: str) -> list[Path]:
    from uhadmin.views.theme import Theme

    window = parts.window
    window.set_theme(Theme(theme_name))
    window.tab_widget.setCurrentWidget(window.listings_tab)
    await _settle(window, 0.4)
    return [_save(window, outdir / f"first-run-{theme_name}.png")]


async def _shoot_all(parts: Any, outdir: Path, theme_name: str) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from uhadmin.domain import ListingStatus
    from uhadmin.views.theme import Theme

    window = parts.window
    window.set_theme(Theme(theme_name))
    window.resize(1360, 820)
    if not window.isVisible():
        window.show()
        window.start()
    written: list[Path] = []
    window.statusBar().clearMessage()  # not the demo's last "Created session …"
    listings_tab = window.listings_tab
    window.tab_widget.setCurrentWidget(listings_tab)
    await _settle(window)
    failed_row = next((row for row in range(listings_tab.model.rowCount())
                       if listings_tab.model.listing_at(row).sync_error), 0)
    listings_tab.select_ids([listings_tab.model.listing_at(failed_row).id])
    await _settle(window, 0.6)
    written.append(_save(window, outdir / f"main-listings-{theme_name}.png"))

    window.tab_widget.setCurrentWidget(window.review_tab)
    window.review_tab.select_row(0)
    await _settle(window, 0.6)
    written.append(_save(window, outdir / f"main-review-{theme_name}.png"))
    window.tab_widget.setCurrentWidget(listings_tab)

    # Dialogs: shown non-modally (open()), grabbed, closed.
    new_dialog = listings_tab.open_new_dialog()
    new_dialog.title_edit.setText("Chemistry lab goggles")
    new_dialog.price_edit.setText("0.25")
    new_dialog.images_edit.setPlainText("ftp://example.com/goggles.jpg")
    await _settle(window, 0.2)
    written.append(_save(new_dialog, outdir / f"dialog-new-listing-invalid-{theme_name}.png"))
    new_dialog.reject()

    selected = next(x for x in listings_tab.model.listings()
                    if x.status == ListingStatus.APPROVED)
    edit_dialog = listings_tab.open_edit_dialog(selected)
    edit_dialog.price_edit.setText("42.00")
    await _settle(window, 0.2)
    written.append(_save(edit_dialog, outdir / f"dialog-edit-listing-{theme_name}.png"))
    edit_dialog.reject()

    pending = next(x for x in listings_tab.model.listings()
                   if x.status == ListingStatus.PENDING_REVIEW)
    listings_tab.select_ids([pending.id])
    reason_dialog = listings_tab.ask_reject()
    await _settle(window, 0.2)
    written.append(_save(reason_dialog, outdir / f"dialog-reject-{theme_name}.png"))
    reason_dialog.reject()

    # A destructive bulk action asks first, naming the count.
    approved = [x.id for x in listings_tab.model.listings()
                if x.status == ListingStatus.APPROVED][:3]
    listings_tab.select_ids(approved)
    confirmation = listings_tab.ask_bulk(listings_tab.bulk_actions[listings_tab.archive_action],
                                         listings_tab.archive_action)
    await _settle(window, 0.2)
    written.append(_save(confirmation, outdir / f"dialog-bulk-archive-{theme_name}.png"))
    confirmation.reject()

    for opened, name in ((window.show_shortcuts(), "dialog-shortcuts"),
                         (window.show_about(), "dialog-about")):
        await _settle(window, 0.2)
        written.append(_save(opened, outdir / f"{name}-{theme_name}.png"))
        opened.reject()

    for key, name in (("sync", "main-sync"), ("reconcile", "main-reconcile"),
                      ("checkout", "main-checkout-lab")):
        window.tab_widget.setCurrentWidget(window.tabs_by_key[key])
        await _settle(window, 0.4)
        written.append(_save(window, outdir / f"{name}-{theme_name}.png"))
    window.tab_widget.setCurrentWidget(listings_tab)

    settings_dialog = window.open_settings()
    await _settle(window, 0.2)
    written.append(_save(settings_dialog, outdir / f"dialog-settings-{theme_name}.png"))
    await settings_dialog.test_connection()
    await _settle(window, 0.2)
    written.append(_save(settings_dialog,
                         outdir / f"dialog-settings-test-connection-{theme_name}.png"))
    settings_dialog.reject()
    QApplication.processEvents()
    from uhadmin.cli.screenshot_bulk import shoot_bulk_and_undo  # Select all matching, undo

    written += await shoot_bulk_and_undo(window, outdir, theme_name, save=_save)
    return written


async def _shoot_other_account(parts: Any, outdir: Path, theme_name: str) -> list[Path]:
    """The Stripe-account warning: the Sync tab's banner and the status bar's state."""
    from uhadmin.views.theme import Theme

    window = parts.window
    window.set_theme(Theme(theme_name))
    window.tab_widget.setCurrentWidget(window.tabs_by_key["sync"])
    await _settle(window, 0.4)
    return [_save(window, outdir / f"main-sync-other-account-{theme_name}.png")]
