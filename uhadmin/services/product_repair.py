"""Ways out for a listing whose Stripe product is gone: re-create it, link another, unlink.

    repair = ProductRepairService(db, bus, catalog, sync, actor="alice")
    await repair.recreate(42)            # forget the deleted product; the sync makes a new one
    await repair.link(42, "prod_123")    # point the listing at a product that exists
    await repair.unlink(42)              # forget the product and take the listing off sale

Each is one audited write through the one write path, then a sync of that listing, so the
failure clears (or says what is still wrong) at once.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from uhadmin.domain.changes import ListingsChanged
from uhadmin.domain.listing import Listing, ListingStatus, SyncState
from uhadmin.errors import NotFoundError, ValidationError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listing_rows import LISTING_COLUMNS, row_to_listing
from uhadmin.services.listing_writes import write_listing
from uhadmin.services.stripe_gateway.catalog import CatalogGateway, RemotePrice, RemoteProduct
from uhadmin.services.stripe_log_context import serves
from uhadmin.services.sync import SyncService
from uhadmin.services.tables import ListingRow

LISTINGS = ListingRow.__table__

# The columns that say which product Stripe holds for a listing, emptied.
UNLINKED: dict[str, Any] = {
    "stripe_product_id": None, "stripe_price_id": None, "pushed_fingerprint": None,
    "pushed_price_minor": None, "pushed_currency": None, "pushed_active": None}


def link_values(product: RemoteProduct, price: RemotePrice | None) -> dict[str, Any]:
    """The listing columns that say which product and price Stripe holds for it."""
    return {"stripe_product_id": product.id, "stripe_price_id": product.default_price_id,
            "pushed_active": product.active,
            "pushed_price_minor": price.unit_amount if price else None,
            "pushed_currency": price.currency if price else None}


def listing_row_in(session: Session, listing_id: int) -> Any:
    """The listings row of `listing_id` (NotFoundError when there is none)."""
    row = session.execute(select(*LISTING_COLUMNS).where(
        LISTINGS.c.id == listing_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"listing {listing_id} does not exist")
    return row


class ProductRepairService:
    """Re-points a listing whose product was deleted in Stripe (or is wrong) and syncs it."""

    def __init__(self, db: Database, bus: ChangeBus, catalog: CatalogGateway,
                 sync: SyncService, *, actor: str = "repair") -> None:
        self._db = db
        self._bus = bus
        self.catalog = catalog
        self.sync = sync
        self.actor = actor

    @serves("repair")
    async def recreate(self, listing_id: int) -> Listing:
        """Forget the listing's product; the sync creates a new one from the listing."""
        await self._write(listing_id, dict(UNLINKED), "recreate", None)
        return await self._sync_one(listing_id)

    @serves("repair")
    async def link(self, listing_id: int, product_id: str) -> Listing:
        """Point the listing at an existing product; the sync then pushes the listing's
        values to it (price, name, active). NotFoundError for a product Stripe does not
        have; ValidationError for one another listing already uses."""
        product_id = product_id.strip()
        if not product_id:
            raise ValidationError.single("product", "give the id of a product in Stripe "
                                                    "(prod_…)")
        product = await self.catalog.retrieve_product(product_id)
        if product is None:
            raise NotFoundError(f"product {product_id} is not in Stripe (deleted, or in "
                                "another account)")
        other = await self._db.run(lambda session: session.execute(
            select(LISTINGS.c.id).where(LISTINGS.c.stripe_product_id == product_id,
                                        LISTINGS.c.id != listing_id)).scalar_one_or_none())
        if other is not None:
            raise ValidationError.single(
                "product", f"{product_id} already belongs to listing {other}; one product "
                           "per listing")
        await self._write(listing_id, {**UNLINKED, **link_values(
            product, product.default_price)}, "link", product_id)
        return await self._sync_one(listing_id)

    @serves("repair")
    async def unlink(self, listing_id: int) -> Listing:
        """Forget the listing's product and take the listing off sale (archived when it was
        approved); nothing is sent to Stripe for it until it is approved again."""
        await self._write(listing_id, dict(UNLINKED), "unlink", None, off_sale=True)
        return await self._sync_one(listing_id)

    async def _write(self, listing_id: int, values: dict[str, Any], fix: str,
                     product_id: str | None, *, off_sale: bool = False) -> None:
        await self._db.run(functools.partial(
            self._write_in, listing_id=listing_id, values=values, fix=fix,
            product_id=product_id, off_sale=off_sale), write=True)

    def _write_in(self, session: Session, *, listing_id: int, values: dict[str, Any],
                  fix: str, product_id: str | None, off_sale: bool) -> None:
        before = listing_row_in(session, listing_id)
        if off_sale:
            if before.status == ListingStatus.APPROVED.value:
                values["status"] = ListingStatus.ARCHIVED.value
            values.update(sync_state=SyncState.NOT_PUBLISHED.value, sync_error="")
        write_listing(session, before, values, actor=self.actor, action="reconcile",
                      details={"fix": fix, "old_product_id": before.stripe_product_id,
                               "product_id": product_id})

    async def _sync_one(self, listing_id: int) -> Listing:
        self._bus.publish(ListingsChanged(ids=frozenset({listing_id})))
        await self.sync.run(listing_ids=[listing_id], initiator="repair")
        row = await self._db.run(lambda session: listing_row_in(session, listing_id))
        return row_to_listing(row)
