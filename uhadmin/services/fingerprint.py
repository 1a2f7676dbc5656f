"""What Stripe should hold for one listing, and the fingerprint that says whether it already does.

The fingerprint hashes exactly what a push sends (name, description, images, metadata,
price amount and currency, active), so "fingerprint == pushed_fingerprint" means a push
would change nothing: zero calls. Whoever wrote the row (uhadmin or the website) does not
matter; only the columns do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from uhadmin.domain.listing import ListingStatus
from uhadmin.services.listing_rows import parse_images, parse_price
from uhadmin.services.stripe_gateway.catalog import ProductFields

# Stripe's limits (STRIPE_FACTS.md); longer values are cut, never refused at sync time,
# because validation already refuses them on every uhadmin write and the website's rows
# should still reach Stripe.
NAME_LIMIT = 5000
DESCRIPTION_LIMIT = 40000
IMAGE_LIMIT = 8


@dataclass(frozen=True)
class DesiredProduct:
    """The product and default price a listing should have in Stripe."""

    product_id: str
    fields: ProductFields
    unit_amount: int
    currency: str
    active: bool

    @property
    def fingerprint(self) -> str:
        payload = {
            "id": self.product_id, "name": self.fields.name,
            "description": self.fields.description, "images": list(self.fields.images),
            "metadata": dict(sorted(self.fields.metadata.items())),
            "unit_amount": self.unit_amount, "currency": self.currency, "active": self.active,
        }
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def product_id_for(catalog_id: str, listing_id: int) -> str:
    """The deterministic custom product id: unique per catalog, so two catalogs sharing a
    Stripe account never collide, and recovery can retrieve it without searching."""
    return f"uh_{catalog_id}_{listing_id}"


def listing_metadata(catalog_id: str, listing_id: int) -> dict[str, str]:
    return {"listing_id": str(listing_id), "catalog_id": catalog_id}


def desired_product(row: Any, catalog_id: str) -> DesiredProduct:
    """From a listings row (any object with the columns as attributes, read with
    listing_rows.LISTING_COLUMNS), whatever it holds: never raises. A row that breaks a rule
    (listing_rows.row_to_listing says which) must not be pushed; its fingerprint only says
    whether it changed."""
    images, _ = parse_images(row.image_urls)
    images = tuple(url for url in images if url.startswith(("http://", "https://")))
    unit_amount, _ = parse_price(row.price_minor)
    title = row.title if isinstance(row.title, str) and row.title else f"Listing {row.id}"
    description = row.description if isinstance(row.description, str) else ""
    currency = row.currency if isinstance(row.currency, str) else ""
    fields = ProductFields(
        name=title[:NAME_LIMIT],
        description=description[:DESCRIPTION_LIMIT],
        images=images[:IMAGE_LIMIT],
        metadata=listing_metadata(catalog_id, row.id),
    )
    return DesiredProduct(
        product_id=product_id_for(catalog_id, row.id), fields=fields,
        unit_amount=unit_amount, currency=(currency or "usd").lower(),
        active=row.status == ListingStatus.APPROVED.value,
    )

