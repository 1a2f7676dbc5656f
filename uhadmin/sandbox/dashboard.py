"""What a person does in the Stripe Dashboard that the API refuses: delete a product with prices.

The API refuses to delete a product that has prices (`product_has_prices`); the Dashboard
deletes one whose prices were never paid, prices and all. Tests and screenshots use this to
make the "product deleted in the Dashboard" failure a listing meets in real life.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from uhadmin.sandbox.common import public
from uhadmin.sandbox.errors import StripeApiError

if TYPE_CHECKING:  # only for the annotation: the server imports nothing from here
    from uhadmin.sandbox.server import SandboxServer


def delete_product_in_dashboard(server: SandboxServer, product_id: str) -> None:
    """Delete `product_id` and its prices as the Dashboard does, with the events Stripe
    sends (`price.deleted`, `product.deleted`). Refuses a product whose prices were paid."""
    api, store = server.api, server.store
    with store.transaction(write=True):
        product = store.get("product", product_id)
        if product is None:
            raise StripeApiError(404, f"No such product: '{product_id}'",
                                 code="resource_missing", param="id")
        price_ids = sorted(api._prices_by_product.get(product_id, ()))
        paid = {_price_id(line) for session in store.objects["checkout_session"].values()
                if session.get("payment_status") == "paid"
                for line in session.get("_line_items", ())}
        if paid & set(price_ids):
            raise StripeApiError(400, "This product has prices used in payments: archive it "
                                 "instead.", code="product_has_prices")
        for price_id in price_ids:
            price = store.get("price", price_id)
            if price is not None:
                store.delete("price", price_id)
                api._search_versions["price"].pop(price_id, None)
                api.emit("price.deleted", dict(public(price), deleted=True))
        api._prices_by_product.pop(product_id, None)
        store.delete("product", product_id)
        api._search_versions["product"].pop(product_id, None)
        api.emit("product.deleted", public(product))


def _price_id(line: dict) -> str | None:
    price = line.get("price")
    return price.get("id") if isinstance(price, dict) else price
