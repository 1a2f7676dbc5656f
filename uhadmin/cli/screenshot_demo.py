"""The screenshots' demo: a catalog with photos, and real Stripe and GUI activity behind it.

Everything goes through the services and the widgets a person uses, against the offline
sandbox, so each picture shows what the app really does (including its failures).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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
    synced, then one listing's product deleted in the Dashboard and the listing edited on
    the website (its push fails, diagnosed as a deleted product), a product renamed in the
    Dashboard and one made there (so reconcile finds something), and one listing approved
    after the sync (still pending)."""
    from sqlalchemy import update

    from uhadmin.domain import ListingQuery, ListingStatus, SortKey
    from uhadmin.sandbox.dashboard import delete_product_in_dashboard
    from uhadmin.services.stripe_gateway.catalog import ProductFields
    from uhadmin.services.tables import ListingRow

    page = await services.listings.search(ListingQuery(
        statuses=frozenset({ListingStatus.APPROVED}), sort=SortKey.ID, descending=False,
        limit=100))
    approved = list(page.items)
    await services.sync.run()
    gone = await services.listings.get(approved[2].id)
    delete_product_in_dashboard(services.sandbox, gone.stripe_product_id)

    def website_edit(session: Any) -> None:
        session.execute(update(ListingRow).where(ListingRow.id == gone.id).values(
            description=ListingRow.description + " Now with the online access code.",
            version=ListingRow.version + 1))

    # The website writes the listings table itself, never through uhadmin's services (rows
    # are untrusted input): the demo writes as the website does.
    await services.db.run(website_edit, write=True)
    # What happens in the Dashboard, through the gateway as every Stripe call does.
    renamed = await services.listings.get(approved[0].id)
    product = await services.catalog.retrieve_product(renamed.stripe_product_id)
    await services.catalog.update_product(product.id, dataclasses.replace(
        ProductFields(product.name, product.description, product.images, product.metadata),
        name=f"{renamed.title} (signed)"), key=f"demo-rename-{product.id}")
    await services.catalog.create_product(
        "prod_DashboardStadiumBlanket",
        ProductFields("Rainbow Warriors stadium blanket", "", (), {}), 3500, "usd",
        key="demo-stadium-blanket")


async def demo_gui_activity(parts: Any) -> None:
    """What the Sync, Reconcile and Checkout lab tabs show: a sync from the Sync tab (the
    listing whose product was deleted fails), a comparison with the deleted product
    selected and its default fix previewed,
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
    if FindingKind.PRODUCT_DELETED in reconcile.model.kinds():
        reconcile.select_kind(FindingKind.PRODUCT_DELETED)  # its safe default: re-create
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


async def demo_other_account(parts: Any) -> None:
    """The key now points at another Stripe account than the catalog's: the catalog says it
    was synced with the team's test account, and the Sync tab's next sync stops."""
    import json

    from sqlalchemy import update

    from uhadmin.services.stripe_account import ACCOUNT_SETTING
    from uhadmin.services.tables import SettingRow

    services = parts.services
    recorded = json.dumps({"id": "acct_1UhMarketplaceTm", "name": "UH Marketplace (team)",
                           "environment": "test", "recorded_at": "2026-11-02T09:30:00+00:00",
                           "recorded_by": "lead@hawaii.edu"})
    await services.db.run(lambda session: session.execute(update(SettingRow).where(
        SettingRow.key == ACCOUNT_SETTING).values(value=recorded)), write=True)
    services.sync.account_guard.check_again()
    sync_tab = parts.window.tabs_by_key["sync"]
    await sync_tab.tasks.run("sync", sync_tab.sync())  # refused: shown, not raised
