"""Compare the database with Stripe, report every difference, and fix only what is asked.

    reconcile = ReconcileService(db, bus, catalog, sync, actor="alice")
    report = await reconcile.check()                                   # read only
    report = await reconcile.fix(kinds={FindingKind.ORPHAN, ...}, dry_run=False)
    report = await reconcile.fix(fixes={(FindingKind.FIELD_DRIFT, Fix.TAKE_STRIPES)})
    report = await reconcile.apply([(finding, Fix.LINK), ...], dry_run=True)
    listings = await reconcile.adopt(["prod_123", ...])                 # products made elsewhere

Stripe is read with list calls only (100 per page, products and prices), never one read per
object. Each finding lists the fixes that apply; `fix` uses each finding's first (default)
fix unless told otherwise. A dry run applies nothing and says what would happen.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from uhadmin.domain.changes import ListingsChanged, SyncChanged
from uhadmin.domain.listing import Listing, ListingStatus, SyncState
from uhadmin.domain.sync import (
    AppliedFix,
    FindingKind,
    Fix,
    ReconcileFinding,
    ReconcileReport,
)
from uhadmin.errors import ConflictError, NotFoundError, UhadminError, ValidationError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.fingerprint import desired_product
from uhadmin.services.listing_rows import LISTING_COLUMNS
from uhadmin.services.listing_writes import AuditNote, audit, insert_listing, write_listing
from uhadmin.services.listings import ListingService
from uhadmin.services.product_repair import ProductRepairService, link_values, listing_row_in
from uhadmin.services.reconcile_findings import find_drift
from uhadmin.services.stripe_gateway.catalog import CatalogGateway, RemotePrice, RemoteProduct
from uhadmin.services.stripe_log_context import serves
from uhadmin.services.sync import SyncService
from uhadmin.services.sync.planning import matches, stale_prices
from uhadmin.services.tables import ListingRow

LISTINGS = ListingRow.__table__



class _Seen(TypedDict):
    """What one comparison looked at: ReconcileReport's counting fields."""

    products_seen: int
    prices_seen: int
    listings_seen: int
    api_calls: int


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReconcileService:
    """Finds drift between the catalog and Stripe; fixes it only on request."""

    def __init__(self, db: Database, bus: ChangeBus, catalog: CatalogGateway,
                 sync: SyncService, *, actor: str = "reconcile",
                 listings: ListingService | None = None) -> None:
        self._db = db
        self._bus = bus
        # The composition root hands in its own; alone (scripts, tests) one on the same db.
        self._listings = listings if listings is not None else ListingService(db, bus)
        self.catalog = catalog
        self.sync = sync
        self.actor = actor
        self.repair = ProductRepairService(db, bus, catalog, sync, actor=actor)

    # --- read ----------------------------------------------------------------------------
    @serves("reconcile")
    async def check(self) -> ReconcileReport:
        """Every difference, with no change anywhere."""
        findings, counts, _ = await self._compare()
        return ReconcileReport(findings=tuple(findings), **counts)

    async def _compare(self) -> tuple[list[ReconcileFinding], _Seen,
                                      dict[str, RemoteProduct]]:
        calls_before = self.catalog.gateway.api_calls
        catalog_id = await self.sync.catalog_id()
        products = [product async for product in self.catalog.list_products()]
        prices: dict[str, RemotePrice] = {
            price.id: price async for price in self.catalog.list_prices()}
        rows = await self._db.run(lambda session: session.execute(
            select(*LISTING_COLUMNS).order_by(LISTINGS.c.id)).all())
        findings = find_drift(catalog_id, rows, products, prices)
        counts: _Seen = {"products_seen": len(products), "prices_seen": len(prices),
                  "listings_seen": len(rows),
                  "api_calls": self.catalog.gateway.api_calls - calls_before}
        return findings, counts, {product.id: product for product in products}

    # --- fix -----------------------------------------------------------------------------
    @serves("reconcile")
    async def fix(self, *, kinds: Iterable[FindingKind] | None = None,
                  fixes: Iterable[tuple[FindingKind, Fix]] = (), dry_run: bool = False,
                  ) -> ReconcileReport:
        """Compare, then fix the findings of `kinds` with each finding's default fix (its
        first: never archiving a listing's only live product), all kinds when `kinds` is
        None and no `fixes` are given, or with the fix named per kind in `fixes`."""
        calls_before = self.catalog.gateway.api_calls
        findings, counts, products = await self._compare()
        # None: the finding's own default (its first fix, the safe one for that finding).
        chosen: dict[FindingKind, Fix | None] = {}
        if kinds is None and not fixes:
            chosen = dict.fromkeys(FindingKind)
        for kind in kinds or ():
            chosen[FindingKind(kind)] = None
        for kind, fix in fixes:
            chosen[FindingKind(kind)] = Fix(fix)
        plan = [(finding, chosen[finding.kind] or finding.fixes[0]) for finding in findings
                if finding.kind in chosen and finding.fixes
                and (chosen[finding.kind] or finding.fixes[0]) in finding.fixes]
        applied, errors = await self._apply(plan, products, dry_run)
        counts["api_calls"] = self.catalog.gateway.api_calls - calls_before
        return ReconcileReport(findings=tuple(findings), applied=tuple(applied),
                               dry_run=dry_run, errors=errors, **counts)

    @serves("reconcile")
    async def apply(self, choices: Sequence[tuple[ReconcileFinding, Fix]], *,
                    dry_run: bool = False) -> ReconcileReport:
        """Apply one chosen fix per finding (the GUI's buttons)."""
        for finding, fix in choices:
            if fix not in finding.fixes:
                raise ValidationError.single(
                    "fix", f"{fix} does not apply to a {finding.kind} finding "
                    f"(choose one of {', '.join(finding.fixes)})")
        calls_before = self.catalog.gateway.api_calls
        products = {product.id: product async for product in self.catalog.list_products()}
        applied, errors = await self._apply(list(choices), products, dry_run)
        return ReconcileReport(findings=tuple(f for f, _ in choices), products_seen=len(products),
                               prices_seen=0, listings_seen=0,
                               api_calls=self.catalog.gateway.api_calls - calls_before,
                               applied=tuple(applied), dry_run=dry_run, errors=errors)

    async def _apply(self, plan: Sequence[tuple[ReconcileFinding, Fix]],
                     products: dict[str, RemoteProduct], dry_run: bool,
                     ) -> tuple[list[AppliedFix], dict[str, str]]:
        applied: list[AppliedFix] = []
        errors: dict[str, str] = {}
        push_ids: set[int] = set()
        for finding, fix in plan:
            target = f"{fix}:{finding.product_id or finding.listing_id}"
            product = products.get(finding.product_id or "")
            try:
                detail = self._describe(finding, fix)
                if not dry_run:
                    await self._apply_one(finding, fix, product, push_ids)
                applied.append(AppliedFix(fix, finding.listing_id, finding.product_id, detail))
            except UhadminError as error:
                errors[target] = str(error)
        if push_ids and not dry_run:
            report = await self.sync.run(initiator="reconcile")
            for listing_id, message in report.failures.items():
                errors[f"{Fix.PUSH_OURS}:{listing_id}"] = message
        if applied and not dry_run:
            self._bus.publish(SyncChanged(ids=frozenset(
                item.listing_id for item in applied if item.listing_id is not None)))
        return applied, errors

    @staticmethod
    def _describe(finding: ReconcileFinding, fix: Fix) -> str:
        return {
            Fix.PUSH_OURS: f"push listing {finding.listing_id} to Stripe",
            Fix.TAKE_STRIPES: f"copy product {finding.product_id} into listing "
                              f"{finding.listing_id}",
            Fix.ARCHIVE: f"archive product {finding.product_id} in Stripe",
            Fix.LINK: f"link listing {finding.listing_id} to product {finding.product_id}",
            Fix.ADOPT: f"create a listing from product {finding.product_id}",
            Fix.ARCHIVE_PRICES: f"archive the active prices of product {finding.product_id} "
                                "except its default",
            Fix.RECREATE: f"create a new product for listing {finding.listing_id} (its "
                          f"product {finding.product_id} was deleted)",
            Fix.UNLINK: f"unlink listing {finding.listing_id} from its deleted product "
                        f"{finding.product_id} and take it off sale",
        }[fix]

    async def _apply_one(self, finding: ReconcileFinding, fix: Fix,
                         product: RemoteProduct | None, push_ids: set[int]) -> None:
        if fix == Fix.ARCHIVE:
            if product is None or not product.active:
                return
            await self.catalog.update_product(
                product.id, active=False,
                key=f"uh-reconcile-archive-{product.id}-{int(_utcnow().timestamp() // 3600)}")
        elif fix == Fix.ARCHIVE_PRICES:
            await self._archive_stale_prices(finding)
        elif fix in (Fix.RECREATE, Fix.UNLINK):
            assert finding.listing_id is not None
            repair = self.repair.recreate if fix == Fix.RECREATE else self.repair.unlink
            await repair(finding.listing_id)  # syncs that listing itself
        elif fix == Fix.ADOPT:
            if product is None:
                raise NotFoundError(f"product {finding.product_id} is not in Stripe")
            adopted = await self._adopt_products([product])
            push_ids.update(listing.id for listing in adopted)  # the sync tags the product
        elif fix in (Fix.PUSH_OURS, Fix.LINK, Fix.TAKE_STRIPES):
            assert finding.listing_id is not None
            price = None
            if product is not None and product.default_price_id:
                price = await self._price_of(product)
            if fix == Fix.TAKE_STRIPES:
                if product is None:
                    raise NotFoundError(f"product {finding.product_id} is not in Stripe")
                await self._db.run(functools.partial(
                    self._take_stripes_in, listing_id=finding.listing_id, product=product,
                    price=price, finding=finding), write=True)
                return
            await self._db.run(functools.partial(
                self._mark_for_push_in, listing_id=finding.listing_id,
                product=product if (fix == Fix.LINK or finding.kind != FindingKind.ORPHAN)
                else None, price=price), write=True)
            push_ids.add(finding.listing_id)

    async def _archive_stale_prices(self, finding: ReconcileFinding) -> None:
        """Archive the product's active prices except its default, read fresh so the
        price a concurrent sync just made the default is never archived."""
        assert finding.product_id is not None
        fresh = await self.catalog.retrieve_product(finding.product_id)
        if fresh is None:
            raise NotFoundError(f"product {finding.product_id} is not in Stripe")
        stale = stale_prices(await self.catalog.list_active_prices(fresh.id),
                             fresh.default_price_id)
        for price_id in stale:
            await self.catalog.archive_price(price_id, key=f"uh-reconcile-archive-{price_id}")
        if stale and finding.listing_id is not None:
            await self._db.run(lambda session: audit(session, [AuditNote(
                finding.listing_id, "reconcile",  # type: ignore[arg-type]
                {"fix": str(Fix.ARCHIVE_PRICES), "product_id": fresh.id,
                 "archived_prices": stale})], actor=self.actor), write=True)

    async def _price_of(self, product: RemoteProduct) -> RemotePrice | None:
        if product.default_price is not None:
            return product.default_price
        fresh = await self.catalog.retrieve_product(product.id)
        return fresh.default_price if fresh else None

    def _mark_for_push_in(self, session: Session, *, listing_id: int,
                          product: RemoteProduct | None, price: RemotePrice | None) -> None:
        """Record what Stripe holds now and queue the listing, so the sync pushes ours."""
        before = listing_row_in(session, listing_id)
        values: dict[str, Any] = {"pushed_fingerprint": None}
        if product is not None:
            values.update(link_values(product, price))
        write_listing(session, before, values, actor=self.actor, action="reconcile",
                      details={"fix": "link" if product else "push_ours",
                               "product_id": product.id if product else None})

    def _take_stripes_in(self, session: Session, *, listing_id: int, product: RemoteProduct,
                         price: RemotePrice | None, finding: ReconcileFinding) -> None:
        """Copy Stripe's values into the listing (a new version, audited); when Stripe then
        holds exactly the listing, record it as pushed so the next sync sends nothing."""
        before = listing_row_in(session, listing_id)
        values: dict[str, Any] = {}
        if finding.kind == FindingKind.FIELD_DRIFT:
            values.update(title=product.name, description=product.description,
                          image_urls=list(product.images))
        elif finding.kind == FindingKind.PRICE_DRIFT:
            if price is None or price.unit_amount is None:
                raise ValidationError.single("price", "Stripe has no default price to copy")
            values.update(price_minor=price.unit_amount, currency=price.currency)
        elif finding.kind == FindingKind.ACTIVE_MISMATCH:
            values["status"] = (ListingStatus.APPROVED if product.active
                                else ListingStatus.ARCHIVED).value
        changes = {key: value for key, value in values.items()}
        values.update(link_values(product, price), pushed_fingerprint=None)
        catalog_id = product.metadata.get("catalog_id") or ""
        after = SimpleNamespace(**{**before._asdict(), **values})
        desired = desired_product(after, catalog_id) if catalog_id else None
        if desired is not None and price is not None and matches(
                replace(product, default_price=price), desired):
            values.update(pushed_fingerprint=desired.fingerprint,
                          sync_state=SyncState.SYNCED.value, sync_error="")
        # Otherwise something else still differs (or the metadata is not ours yet): the
        # write path queues it and the sync pushes the rest.
        try:
            write_listing(session, before, values, actor=self.actor, action="reconcile",
                          details={"fix": "take_stripes", "kind": str(finding.kind),
                                   "changes": changes})
        except ConflictError as error:
            raise UhadminError(f"listing {listing_id} changed meanwhile; run reconcile "
                               "again") from error

    # --- adopt ---------------------------------------------------------------------------
    @serves("adopt")
    async def adopt(self, product_ids: Sequence[str]) -> list[Listing]:
        """Create a listing for each product made elsewhere (e.g. the Dashboard); the next
        sync tags the product with our metadata. NotFoundError for an unknown id."""
        products = []
        for product_id in product_ids:
            product = await self.catalog.retrieve_product(product_id)
            if product is None:
                raise NotFoundError(f"product {product_id} is not in Stripe")
            products.append(product)
        listings = await self._adopt_products(products)
        await self.sync.run(initiator="reconcile")
        return [await self._listings.get(listing.id) for listing in listings]

    async def _adopt_products(self, products: Sequence[RemoteProduct]) -> list[Listing]:
        adopted = []
        for product in products:
            price = await self._price_of(product)
            if price is None or price.unit_amount is None:
                raise ValidationError.single(
                    "price", f"product {product.id} has no default price with a fixed amount "
                    "to adopt")
            listing_id = await self._db.run(functools.partial(
                self._adopt_in, product=product, price=price), write=True)
            adopted.append(await self._listings.get(listing_id))
        if adopted:
            self._bus.publish(ListingsChanged(
                ids=frozenset(listing.id for listing in adopted), listings=tuple(adopted)))
        return adopted

    def _adopt_in(self, session: Session, *, product: RemoteProduct,
                  price: RemotePrice) -> int:
        existing = session.execute(select(LISTINGS.c.id).where(
            LISTINGS.c.stripe_product_id == product.id)).scalar_one_or_none()
        if existing is not None:
            return existing
        status = ListingStatus.APPROVED if product.active else ListingStatus.ARCHIVED
        return insert_listing(session, {
            "title": product.name, "description": product.description,
            "price_minor": price.unit_amount, "currency": price.currency,
            "image_urls": list(product.images), "status": status.value,
            **link_values(product, price)}, actor=self.actor, action="adopt",
            details={"product_id": product.id, "price_id": product.default_price_id})
