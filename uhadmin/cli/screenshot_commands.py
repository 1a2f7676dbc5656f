"""`uhadmin screenshot OUTDIR`: every main-window tab and dialog, with a demo catalog, as PNG."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

from uhadmin.cli.common import emit, handles_errors, json_option, main_group
from uhadmin.errors import ConfigError

# (title, price, category, condition, description, final status, colour of its photo)
DEMO_LISTINGS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("Calculus: Early Transcendentals, 8th ed.", "45.00", "Textbooks", "Good",
     "Stewart. Some highlighting in chapters 2-4, no torn pages. Pick up at Hamilton Library.",
     "approved", "#4f7cac"),
    ("Organic Chemistry (Klein) + solutions manual", "60.00", "Textbooks", "Like new",
     "Used one semester for CHEM 272. Both books, no writing inside.", "approved", "#6a4c93"),
    ("TI-84 Plus CE graphing calculator", "85.00", "Electronics", "Like new",
     "Blue, with charging cable. Allowed in MATH 241 exams.", "approved", "#1982c4"),
    ("Mini fridge, 3.1 cu ft", "70.00", "Furniture", "Good",
     "Fits under a dorm desk. Freezer compartment works. Hale Aloha pick-up.", "pending_review",
     "#8ac926"),
    ("Beach cruiser bike, 26\"", "120.00", "Bikes", "Fair",
     "Rust on the chain guard, new tires in August. Lock included.", "pending_review",
     "#ff595e"),
    ("IKEA desk lamp (TERTIAL)", "8.00", "Furniture", "Good", "Clamp and bulb included.",
     "approved", "#ffca3a"),
    ("Rainbow Warriors hoodie, size M", "25.00", "Clothing", "Like new",
     "Green, worn twice.", "draft", "#2a9d8f"),
    ("Surfboard 7'2\" funboard", "240.00", "Sports", "Good",
     "A couple of pressure dings, no leaks. Leash and fins included.", "pending_review",
     "#e76f51"),
    ("Intro to Hawaiian Language workbook", "15.00", "Textbooks", "New",
     "HAW 101, unopened.", "approved", "#264653"),
    ("Rice cooker, 5.5 cup Zojirushi", "35.00", "Kitchen", "Good",
     "Inner pot without scratches.", "archived", "#f4a261"),
    ("Two tickets: Rainbow Warriors vs. BYU", "30.00", "Tickets", "New",
     "Section U, row 12. Price is for both.", "rejected", "#e63946"),
    ("Physics for Scientists and Engineers (Serway)", "40.00", "Textbooks", "Fair",
     "Cover worn, all pages present. PHYS 170/272.", "approved", "#457b9d"),
    ("Noise-cancelling headphones", "95.00", "Electronics", "Good",
     "Sony WH-1000XM4, case included, battery still lasts all day.", "pending_review",
     "#1d3557"),
    ("Desk chair with lumbar support", "45.00", "Furniture", "Good",
     "Height adjustable. Must pick up in Manoa.", "approved", "#6d597a"),
    ("Snorkel set (mask, fins size 9-10)", "22.00", "Sports", "Like new",
     "Rinsed after every use.", "draft", "#00b4d8"),
    ("Statistics textbook bundle (STAT 251)", "55.00", "Textbooks", "Good",
     "Book + access code (unused).", "pending_review", "#588157"),
    ("Electric kettle", "12.00", "Kitchen", "Good", "1.7 L, auto shut-off.", "approved",
     "#bc6c25"),
    ("Longboard skateboard", "65.00", "Sports", "Fair", "New bearings, grip tape worn.",
     "archived", "#606c38"),
    ("Graphing paper pads (5 pack)", "6.50", "Other", "New", "Quad-ruled, sealed.", "draft",
     "#adb5bd"),
    ("Used laptop, 13\" (for parts)", "150.00", "Electronics", "For parts",
     "Screen cracked, boots fine with an external monitor.", "pending_review", "#343a40"),
    ("Bookshelf, 5 shelves", "30.00", "Furniture", "Good", "Some scuffs on the side.",
     "approved", "#9c6644"),
    ("Ukulele (concert) with gig bag", "80.00", "Other", "Like new",
     "Kamaka-style, tuned and ready.", "approved", "#d4a373"),
    ("Microeconomics (Mankiw) 9th ed.", "35.00", "Textbooks", "Good", "ECON 130.", "draft",
     "#3a86ff"),
    ("Bike lock (U-lock) with two keys", "18.00", "Bikes", "Good", "Kryptonite.", "approved",
     "#fb5607"),
    ("Yoga mat and blocks", "20.00", "Sports", "Like new", "Purple mat, 2 cork blocks.",
     "pending_review", "#8338ec"),
    ("Standing fan", "15.00", "Furniture", "Good", "Three speeds, oscillates.", "rejected",
     "#ff006e"),
    ("Anatomy flash cards", "10.00", "Textbooks", "Like new", "Netter's, complete set.",
     "approved", "#06d6a0"),
    ("Monitor, 24\" 1080p", "75.00", "Electronics", "Good", "HDMI cable included.",
     "approved", "#118ab2"),
    ("Raincoat, size L", "18.00", "Clothing", "Good", "For the Manoa rain.", "draft",
     "#073b4c"),
    ("Hot plate, single burner", "14.00", "Kitchen", "Fair", "Works; knob is loose.",
     "pending_review", "#ef476f"),
)

_STATUS_PATH = {
    "draft": (),
    "pending_review": ("pending_review",),
    "approved": ("pending_review", "approved"),
    "rejected": ("pending_review", "rejected"),
    "archived": ("pending_review", "approved", "archived"),
}


def draw_demo_photos(folder: Path) -> list[Path]:
    """A simple photo-like picture per demo listing, drawn locally (no network needed)."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, (title, *_rest, colour) in enumerate(DEMO_LISTINGS, start=1):
        image = QImage(520, 360, QImage.Format.Format_RGB32)
        image.fill(QColor(colour))
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(255, 255, 255, 60))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(QRectF(300, -80, 320, 320))
        painter.setPen(QColor("white"))
        font = QFont("DejaVu Sans", 26, QFont.Weight.Bold)
        painter.setFont(font)
        painter.drawText(QRectF(30, 30, 460, 300),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
                             | Qt.TextFlag.TextWordWrap), title)
        painter.end()
        path = folder / f"listing-{number:02d}.png"
        image.save(str(path))
        paths.append(path)
    return paths


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on loopback (listings accept only http(s) image URLs)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-photos", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


async def seed_demo_catalog(listings: Any, *, actor: str = "demo",
                            image_urls: list[str] | None = None) -> list[Any]:
    """Create the demo listings through the service and walk each to its demo status."""
    from uhadmin.domain import ListingStatus, NewListing
    from uhadmin.money import parse_money

    sellers = ("kaimana@hawaii.edu", "leilani.k@hawaii.edu", "jsato@hawaii.edu",
               "mpalakiko@hawaii.edu", "noah.c@hawaii.edu")
    created = []
    for number, (title, price, category, condition, description, status, _colour) in \
            enumerate(DEMO_LISTINGS):
        new = NewListing(
            title=title, price_minor=parse_money(price, "usd"), currency="usd",
            description=description, category=category, condition=condition,
            seller_contact=sellers[number % len(sellers)],
            image_urls=(image_urls[number],) if image_urls else ())
        listing = await listings.create(new, actor=sellers[number % len(sellers)])
        for step in _STATUS_PATH[status]:
            reason = "Ticket resale is not allowed on the marketplace" \
                if step == "rejected" and "ticket" in title.lower() \
                else "Electrical appliances need a safety check photo" \
                if step == "rejected" else ""
            listing = await listings.change_status(listing.id, ListingStatus(step), actor=actor,
                                                   reason=reason)
        created.append(listing)
    return created


async def demo_stripe_activity(services: Any) -> None:
    """Real Stripe activity in the sandbox behind the screenshots: every approved listing
    synced, one listing the website rewrote pointing at a product that was deleted in the
    Dashboard (its push fails), a product renamed in the Dashboard and one made there (so
    reconcile finds something), and one listing approved after the sync (still pending)."""
    from sqlalchemy import update

    from uhadmin.domain import ListingQuery, ListingStatus, SortKey
    from uhadmin.services.tables import ListingRow

    page = await services.listings.search(ListingQuery(
        statuses=frozenset({ListingStatus.APPROVED}), sort=SortKey.ID, descending=False,
        limit=100))
    approved = list(page.items)
    await services.sync.run()
    gone = approved[2]

    def website_edit(session: Any) -> None:
        session.execute(update(ListingRow).where(ListingRow.id == gone.id).values(
            stripe_product_id="prod_RemovedInDashboard",
            description=ListingRow.description + " Now with the online access code.",
            version=ListingRow.version + 1))

    await services.db.run(website_edit, write=True)
    renamed = await services.listings.get(approved[0].id)
    await services.gateway.call("products.update", lambda client, options:
                                client.v1.products.update_async(
                                    renamed.stripe_product_id,
                                    {"name": f"{renamed.title} (signed)"}, options))
    await services.gateway.call("products.create", lambda client, options:
                                client.v1.products.create_async(
                                    {"name": "Rainbow Warriors stadium blanket",
                                     "default_price_data": {"currency": "usd",
                                                            "unit_amount": 3500}}, options))


async def demo_gui_activity(parts: Any) -> None:
    """What the Sync, Reconcile and Checkout lab tabs show: a sync from the Sync tab (the
    website's bad row fails), a comparison with one group selected and its fix previewed,
    and checkout attempts paid, declined and open, paid on the sandbox's hosted page."""
    import httpx

    from uhadmin.domain import FindingKind, ListingQuery, ListingStatus, SortKey

    window, services = parts.window, parts.services
    pending = await services.listings.search(ListingQuery(
        statuses=frozenset({ListingStatus.PENDING_REVIEW}), sort=SortKey.ID, limit=1))
    await window.tabs_by_key["sync"].sync()
    await services.listings.change_status(pending.items[0].id, ListingStatus.APPROVED,
                                          actor="reviewer@hawaii.edu")
    reconcile = window.tabs_by_key["reconcile"]
    await reconcile.check()
    if FindingKind.FIELD_DRIFT in reconcile.model.kinds():
        reconcile.select_kind(FindingKind.FIELD_DRIFT)
        await reconcile.preview_fix()

    lab = window.tabs_by_key["checkout"]
    await lab.open_lab()
    await lab.load_listings()
    sellable = [x for x in lab.pick_model.rows() if x.stripe_price_id and not x.sync_error]

    async def attempt(lines: list[tuple[Any, int]], card: str | None) -> None:
        lab.cart_model.clear()
        for listing, quantity in lines:
            lab.add_listing(listing, quantity)
        made = await lab.create_session()
        if card is None:
            return
        async with httpx.AsyncClient() as client:
            paid = await client.post(made.url, data={
                "email": "buyer@example.test", "cardNumber": card, "cardExpiry": "12 / 34",
                "cardCvc": "123", "billingName": "Ada Buyer"})
            if paid.is_redirect:
                await client.get(paid.headers["location"])

    await attempt([(sellable[0], 1)], "4242 4242 4242 4242")
    await attempt([(sellable[1], 1)], "4000 0000 0000 0002")
    await attempt([(sellable[3], 1)], "4000 0000 0000 9995")
    await attempt([(sellable[4], 2), (sellable[5], 1)], None)
    for _ in range(20):  # the declines arrive by webhook, a moment later
        await asyncio.sleep(0.1)
        await lab.tasks.wait_idle()
    await lab.load_history()
    row = next(r for r in range(lab.cards.model.rowCount())
               if lab.cards.model.row_at(r).outcome == "declined")
    lab.cards.table.selectRow(row)


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
                # The README's headline picture: the main window as most people see it.
                headline = outdir / f"main-listings-{themes[0]}.png"
                shutil.copyfile(headline, outdir / "screenshot.png")
                written.append(outdir / "screenshot.png")
            finally:
                loop.run_until_complete(parts.aclose())
                loop.run_until_complete(asyncio.sleep(0))
    return written


async def _settle(window: Any, seconds: float = 0.3) -> None:
    from PySide6.QtWidgets import QApplication

    for tab in list(window.tabs_by_key.values()):
        await tab.tasks.wait_idle()
        detail_tasks = getattr(getattr(tab, "detail", None), "tasks", None)  # a pane with work
        if detail_tasks is not None:
            await detail_tasks.wait_idle()
    await window.tasks.wait_idle()
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        QApplication.processEvents()
        await asyncio.sleep(0.02)


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
