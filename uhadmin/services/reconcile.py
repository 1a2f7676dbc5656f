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
from collections import defaultdict
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
from uhadmin.services.fingerprint import desired_product, product_id_for
from uhadmin.services.listing_rows import LISTING_COLUMNS
from uhadmin.services.listing_writes import AuditNote, audit, insert_listing, write_listing
from uhadmin.services.listings import ListingService
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

# Which fix a finding gets when the caller asks for its kind without naming a fix.
DEFAULT_FIX = {
    FindingKind.NEVER_PUSHED: Fix.PUSH_OURS,
    FindingKind.ORPHAN: Fix.ARCHIVE,
    FindingKind.FIELD_DRIFT: Fix.PUSH_OURS,
    FindingKind.PRICE_DRIFT: Fix.PUSH_OURS,
    FindingKind.ACTIVE_MISMATCH: Fix.PUSH_OURS,
    FindingKind.DUPLICATE: Fix.ARCHIVE,
    FindingKind.FOREIGN: Fix.ADOPT,
    FindingKind.STALE_PRICE: Fix.ARCHIVE_PRICES,
}


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
        findings = self._findings(catalog_id, rows, products, prices)
        counts: _Seen = {"products_seen": len(products), "prices_seen": len(prices),
                  "listings_seen": len(rows),
                  "api_calls": self.catalog.gateway.api_calls - calls_before}
        return findings, counts, {product.id: product for product in products}

    @staticmethod
    def _findings(catalog_id: str, rows: Sequence[Any], products: Sequence[RemoteProduct],
                  prices: dict[str, RemotePrice]) -> list[ReconcileFinding]:
        findings: list[ReconcileFinding] = []
        by_listing: dict[int, list[RemoteProduct]] = defaultdict(list)
        prefix = f"uh_{catalog_id}_"
        for product in products:
            ours = (product.metadata.get("catalog_id") == catalog_id
                    or product.id.startswith(prefix))
            listing_text = product.metadata.get("listing_id", "")
            if ours and listing_text.isdigit():
                by_listing[int(listing_text)].append(product)
            elif ours and product.id.startswith(prefix) and product.id[len(prefix):].isdigit():
                by_listing[int(product.id[len(prefix):])].append(product)
            elif not ours and "catalog_id" not in product.metadata:
                findings.append(ReconcileFinding(
                    FindingKind.FOREIGN, None, product.id,
                    f"{product.name!r} was made outside uhadmin", (Fix.ADOPT,)))
        listings = {row.id: row for row in rows}
        linked = {row.stripe_product_id: row.id for row in rows if row.stripe_product_id}
        for listing_id, claimed in sorted(by_listing.items()):
            row = listings.get(listing_id)
            if row is None:
                for product in claimed:
                    findings.append(ReconcileFinding(
                        FindingKind.ORPHAN, None, product.id,
                        f"product says listing {listing_id}, which does not exist",
                        (Fix.ARCHIVE, Fix.ADOPT)))
                continue
            main = next((p for p in claimed if p.id == row.stripe_product_id), None)
            if main is None and row.stripe_product_id is None:
                expected = product_id_for(catalog_id, listing_id)
                main = next((p for p in claimed if p.id == expected), None)
                if main is not None or len(claimed) == 1:
                    main = main or claimed[0]
                    findings.append(ReconcileFinding(
                        FindingKind.ORPHAN, listing_id, main.id,
                        f"product exists for listing {listing_id} but the listing does not "
                        "point to it", (Fix.LINK, Fix.ARCHIVE)))
            for product in claimed:
                if product is not main and product.id not in linked:
                    if main is None:
                        findings.append(ReconcileFinding(
                            FindingKind.ORPHAN, listing_id, product.id,
                            f"listing {listing_id} points to {row.stripe_product_id}, not "
                            "to this product", (Fix.ARCHIVE, Fix.LINK)))
                    elif product.active:
                        findings.append(ReconcileFinding(
                            FindingKind.DUPLICATE, listing_id, product.id,
                            f"second product for listing {listing_id} (kept {main.id})",
                            (Fix.ARCHIVE,)))
        remote_by_id = {product.id: product for product in products}
        prices_of: dict[str, list[RemotePrice]] = defaultdict(list)
        for price in prices.values():
            prices_of[price.product].append(price)
        for row in rows:
            desired = desired_product(row, catalog_id)
            approved = row.status == ListingStatus.APPROVED.value
            remote = remote_by_id.get(row.stripe_product_id) if row.stripe_product_id else None
            if remote is None:
                if approved and not any(f.listing_id == row.id and f.kind == FindingKind.ORPHAN
                                        for f in findings):
                    where = (f"its product {row.stripe_product_id} is missing in Stripe"
                             if row.stripe_product_id else "it was never pushed")
                    findings.append(ReconcileFinding(
                        FindingKind.NEVER_PUSHED, row.id, row.stripe_product_id,
                        f"approved listing {row.id} {row.title!r}: {where}", (Fix.PUSH_OURS,)))
                continue
            drift = [name for name, ours, theirs in (
                ("name", desired.fields.name, remote.name),
                ("description", desired.fields.description, remote.description),
                ("images", tuple(desired.fields.images), tuple(remote.images)))
                if ours != theirs]
            if drift:
                findings.append(ReconcileFinding(
                    FindingKind.FIELD_DRIFT, row.id, remote.id,
                    f"{', '.join(drift)} differ", (Fix.PUSH_OURS, Fix.TAKE_STRIPES)))
            default_price = prices.get(remote.default_price_id or "")
            theirs = ((default_price.unit_amount, default_price.currency)
                      if default_price else None)
            if theirs != (desired.unit_amount, desired.currency):
                shown = f"{theirs[0]} {theirs[1]}" if theirs else "no default price"
                fixes = (Fix.PUSH_OURS, Fix.TAKE_STRIPES) if theirs else (Fix.PUSH_OURS,)
                findings.append(ReconcileFinding(
                    FindingKind.PRICE_DRIFT, row.id, remote.id,
                    f"database {desired.unit_amount} {desired.currency}, Stripe {shown}",
                    fixes))
            if remote.active != approved:
                fixes = (Fix.PUSH_OURS,)
                if row.status in (ListingStatus.APPROVED.value, ListingStatus.ARCHIVED.value):
                    fixes += (Fix.TAKE_STRIPES,)
                findings.append(ReconcileFinding(
                    FindingKind.ACTIVE_MISMATCH, row.id, remote.id,
                    f"listing is {row.status}, product is "
                    f"{'active' if remote.active else 'archived'}", fixes))
            stale = stale_prices(prices_of[remote.id], remote.default_price_id)
            if stale:
                findings.append(ReconcileFinding(
                    FindingKind.STALE_PRICE, row.id, remote.id,
                    f"{len(stale)} active price(s) besides the default "
                    f"{remote.default_price_id}: {', '.join(stale)}", (Fix.ARCHIVE_PRICES,)))
        return findings

    # --- fix -----------------------------------------------------------------------------
    @serves("reconcile")
    async def fix(self, *, kinds: Iterable[FindingKind] | None = None,
                  fixes: Iterable[tuple[FindingKind, Fix]] = (), dry_run: bool = False,
                  ) -> ReconcileReport:
        """Compare, then fix the findings of `kinds` with their default fix (all kinds when
        `kinds` is None and no `fixes` are given), or with the fix named per kind in `fixes`."""
        calls_before = self.catalog.gateway.api_calls
        findings, counts, products = await self._compare()
        chosen: dict[FindingKind, Fix] = {}
        if kinds is None and not fixes:
            chosen = dict(DEFAULT_FIX)
        for kind in kinds or ():
            chosen[FindingKind(kind)] = DEFAULT_FIX[FindingKind(kind)]
        for kind, fix in fixes:
            chosen[FindingKind(kind)] = Fix(fix)
        plan = [(finding, chosen[finding.kind]) for finding in findings
                if finding.kind in chosen and chosen[finding.kind] in finding.fixes]
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
            report = await self.sync.run()
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
        before = self._row_in(session, listing_id)
        values: dict[str, Any] = {"pushed_fingerprint": None}
        if product is not None:
            values.update(_link_values(product, price))
        write_listing(session, before, values, actor=self.actor, action="reconcile",
                      details={"fix": "link" if product else "push_ours",
                               "product_id": product.id if product else None})

    def _take_stripes_in(self, session: Session, *, listing_id: int, product: RemoteProduct,
                         price: RemotePrice | None, finding: ReconcileFinding) -> None:
        """Copy Stripe's values into the listing (a new version, audited); when Stripe then
        holds exactly the listing, record it as pushed so the next sync sends nothing."""
        before = self._row_in(session, listing_id)
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
        values.update(_link_values(product, price), pushed_fingerprint=None)
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

    @staticmethod
    def _row_in(session: Session, listing_id: int) -> Any:
        row = session.execute(select(*LISTING_COLUMNS).where(
            LISTINGS.c.id == listing_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"listing {listing_id} does not exist")
        return row

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
        await self.sync.run()
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
            **_link_values(product, price)}, actor=self.actor, action="adopt",
            details={"product_id": product.id, "price_id": product.default_price_id})


def _link_values(product: RemoteProduct, price: RemotePrice | None) -> dict[str, Any]:
    """The listing columns that say which product and price Stripe holds for it."""
    return {"stripe_product_id": product.id, "stripe_price_id": product.default_price_id,
            "pushed_active": product.active,
            "pushed_price_minor": price.unit_amount if price else None,
            "pushed_currency": price.currency if price else None}
