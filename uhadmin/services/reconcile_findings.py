"""What differs between the catalog and Stripe: one pure comparison, findings with fixes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from uhadmin.domain.listing import ListingStatus
from uhadmin.domain.sync import FindingKind, Fix, ReconcileFinding
from uhadmin.services.fingerprint import desired_product, product_id_for
from uhadmin.services.stripe_gateway.catalog import RemotePrice, RemoteProduct
from uhadmin.services.sync.planning import stale_prices


def find_drift(catalog_id: str, rows: Sequence[Any], products: Sequence[RemoteProduct],
              prices: dict[str, RemotePrice]) -> list[ReconcileFinding]:
    """Every difference between the listings rows and what Stripe lists, each with the
    fixes that apply, the safe one first (it is the default)."""
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
    remote_ids = {product.id for product in products}
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
                    # When the product the listing points to is gone, this one is the
                    # listing's only live product: linking is the safe default.
                    gone = row.stripe_product_id not in remote_ids
                    findings.append(ReconcileFinding(
                        FindingKind.ORPHAN, listing_id, product.id,
                        f"listing {listing_id} points to {row.stripe_product_id}"
                        f"{' (deleted in Stripe)' if gone else ''}, not to this product",
                        (Fix.LINK, Fix.ARCHIVE) if gone else (Fix.ARCHIVE, Fix.LINK)))
                elif product.active:
                    findings.append(ReconcileFinding(
                        FindingKind.DUPLICATE, listing_id, product.id,
                        f"second product for listing {listing_id} (kept {main.id})",
                        (Fix.ARCHIVE,)))
    remote_by_id = {product.id: product for product in products}
    prices_of: dict[str, list[RemotePrice]] = defaultdict(list)
    for listed in prices.values():
        prices_of[listed.product].append(listed)
    fixes: tuple[Fix, ...]
    for row in rows:
        desired = desired_product(row, catalog_id)
        approved = row.status == ListingStatus.APPROVED.value
        remote = remote_by_id.get(row.stripe_product_id) if row.stripe_product_id else None
        if remote is None:
            if row.stripe_product_id:
                # Deleted in Stripe (e.g. the Dashboard): pushing to it can only fail.
                fixes = (Fix.RECREATE, Fix.UNLINK) if approved else (Fix.UNLINK,
                                                                       Fix.RECREATE)
                findings.append(ReconcileFinding(
                    FindingKind.PRODUCT_DELETED, row.id, row.stripe_product_id,
                    f"listing {row.id} {row.title!r} ({row.status}): its product "
                    f"{row.stripe_product_id} was deleted in Stripe", fixes))
            elif approved and not any(f.listing_id == row.id and f.kind == FindingKind.ORPHAN
                                      for f in findings):
                findings.append(ReconcileFinding(
                    FindingKind.NEVER_PUSHED, row.id, None,
                    f"approved listing {row.id} {row.title!r}: it was never pushed",
                    (Fix.PUSH_OURS,)))
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
        price = prices.get(remote.default_price_id or "")
        theirs = (price.unit_amount, price.currency) if price else None
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
