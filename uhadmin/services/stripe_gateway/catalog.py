"""Products and prices in Stripe, as plain frozen values: the calls the sync and reconcile make.

    catalog = CatalogGateway(gateway)
    await catalog.create_product(product_id, ProductFields(...), unit_amount, currency, key=...)
    await catalog.retrieve_product(product_id)          # RemoteProduct | None (404 -> None)
    await catalog.update_product(product_id, fields, active=..., default_price=..., key=...)
    await catalog.create_price(product_id, unit_amount, currency, lookup_key=..., metadata=...,
                               key=...)
    await catalog.find_price_by_lookup_key(lookup_key) # RemotePrice | None (a list call)
    await catalog.archive_price(price_id, key=...)
    async for product in catalog.list_products(): ...  # 100 per page
    async for price in catalog.list_prices(): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from uhadmin.errors import StripeRefusedError
from uhadmin.services.stripe_gateway.client import SendFunction, StripeGateway
from uhadmin.services.stripe_gateway.responses import response_field

if TYPE_CHECKING:  # the SDK's parameter types, for the type checker only
    from stripe.params import PriceCreateParams, ProductCreateParams, ProductUpdateParams

PAGE_SIZE = 100  # Stripe's maximum list page


@dataclass(frozen=True)
class ProductFields:
    """What uhadmin sends about a listing besides its price and active flag."""

    name: str
    description: str
    images: tuple[str, ...]
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class RemotePrice:
    id: str
    product: str
    unit_amount: int | None
    currency: str
    active: bool
    lookup_key: str | None
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class RemoteProduct:
    id: str
    name: str
    description: str
    images: tuple[str, ...]
    metadata: Mapping[str, str]
    active: bool
    default_price_id: str | None
    # Set by retrieve (expanded) and create (what was sent); update leaves it None.
    default_price: RemotePrice | None


def _metadata(value: Any) -> dict[str, str]:
    if not value:
        return {}
    return dict(value) if isinstance(value, dict) else dict(value.to_dict())


def _price(obj: Any) -> RemotePrice:
    """From a price as the SDK answers it: a StripeObject, or a raw call's dict."""
    product = response_field(obj, "product")
    return RemotePrice(
        id=response_field(obj, "id"),
        product=product if isinstance(product, str) else response_field(product, "id"),
        unit_amount=response_field(obj, "unit_amount"),
        currency=response_field(obj, "currency"), active=bool(response_field(obj, "active")),
        lookup_key=response_field(obj, "lookup_key"),
        metadata=_metadata(response_field(obj, "metadata")),
    )


def _product(obj: Any) -> RemoteProduct:
    """From a product as the SDK answers it: a StripeObject, or a raw call's dict."""
    default = response_field(obj, "default_price")
    expanded = None
    if default is not None and not isinstance(default, str):
        expanded = _price(default)
        default = expanded.id
    return RemoteProduct(
        id=response_field(obj, "id"), name=response_field(obj, "name"),
        description=response_field(obj, "description") or "",
        images=tuple(response_field(obj, "images") or ()),
        metadata=_metadata(response_field(obj, "metadata")),
        active=bool(response_field(obj, "active")), default_price_id=default,
        default_price=expanded,
    )


class CatalogGateway:
    """Product and price calls over one StripeGateway (limits, retries, errors, mode guard)."""

    def __init__(self, gateway: StripeGateway) -> None:
        self.gateway = gateway

    async def create_product(self, product_id: str, fields: ProductFields, unit_amount: int,
                             currency: str, *, key: str) -> RemoteProduct:
        """ONE call: the product with our custom id and its default price."""
        params: ProductCreateParams = {
            "id": product_id, "name": fields.name, "metadata": dict(fields.metadata),
            "default_price_data": {"currency": currency, "unit_amount": unit_amount},
        }
        if fields.description:
            params["description"] = fields.description
        if fields.images:
            params["images"] = list(fields.images)
        product = await self.gateway.call("products.create", _raw_post("/v1/products", params),
                                          idempotency_key=key)
        created = _product(product)
        if created.default_price is None and created.default_price_id:
            # Not expanded (half the response to parse): the price is what was just sent.
            created = replace(created, default_price=RemotePrice(
                id=created.default_price_id, product=created.id, unit_amount=unit_amount,
                currency=currency, active=True, lookup_key=None, metadata={}))
        return created

    async def retrieve_product(self, product_id: str) -> RemoteProduct | None:
        """The product with this id (custom ids included), or None if Stripe has none."""
        try:
            product = await self.gateway.call(
                "products.retrieve",
                lambda client, options: client.v1.products.retrieve_async(
                    product_id, {"expand": ["default_price"]}, options))
        except StripeRefusedError as error:
            if error.http_status == 404:
                return None
            raise
        return _product(product)

    async def update_product(self, product_id: str, fields: ProductFields | None = None, *,
                             active: bool | None = None, default_price: str | None = None,
                             key: str) -> RemoteProduct:
        """ONE products.update carrying every field that should change."""
        params: ProductUpdateParams = {}
        if fields is not None:
            params.update({"name": fields.name, "description": fields.description,
                           "images": list(fields.images) if fields.images else "",
                           "metadata": dict(fields.metadata)})
        if active is not None:
            params["active"] = active
        if default_price is not None:
            params["default_price"] = default_price
        product = await self.gateway.call(
            "products.update",
            lambda client, options: client.v1.products.update_async(product_id, params, options),
            idempotency_key=key)
        return _product(product)

    async def create_price(self, product_id: str, unit_amount: int, currency: str, *,
                           lookup_key: str, metadata: Mapping[str, str], key: str,
                           ) -> RemotePrice:
        params: PriceCreateParams = {
            "product": product_id, "unit_amount": unit_amount, "currency": currency,
            "lookup_key": lookup_key, "metadata": dict(metadata)}
        price = await self.gateway.call(
            "prices.create",
            lambda client, options: client.v1.prices.create_async(params, options),
            idempotency_key=key)
        return _price(price)

    async def find_price_by_lookup_key(self, lookup_key: str) -> RemotePrice | None:
        """A list call (consistent at once, unlike search) for the price with this key."""
        prices = await self.gateway.call(
            "prices.list",
            lambda client, options: client.v1.prices.list_async(
                {"lookup_keys": [lookup_key], "limit": 1}, options))
        return _price(prices.data[0]) if prices.data else None

    async def archive_price(self, price_id: str, *, key: str) -> RemotePrice:
        price = await self.gateway.call(
            "prices.update",
            lambda client, options: client.v1.prices.update_async(
                price_id, {"active": False}, options),
            idempotency_key=key)
        return _price(price)

    async def list_active_prices(self, product_id: str) -> list[RemotePrice]:
        """The active prices of one product (one list call; a product has a handful)."""
        prices = await self.gateway.call(
            "prices.list",
            lambda client, options: client.v1.prices.list_async(
                {"product": product_id, "active": True, "limit": PAGE_SIZE}, options))
        return [_price(item) for item in prices.data]

    async def list_products(self) -> AsyncIterator[RemoteProduct]:
        """Every product, active or not, 100 per page."""
        async for item in self._pages("products.list", "products"):
            yield _product(item)

    async def list_prices(self) -> AsyncIterator[RemotePrice]:
        """Every price, active or not, 100 per page."""
        async for item in self._pages("prices.list", "prices"):
            yield _price(item)

    async def _pages(self, endpoint: str, resource: str) -> AsyncIterator[Any]:
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if cursor:
                params["starting_after"] = cursor
            page = await self.gateway.call(endpoint, _list_page(resource, params))
            for item in page.data:
                yield item
            if not page.has_more or not page.data:
                return
            cursor = page.data[-1].id


def _raw_post(path: str, params: Mapping[str, Any]) -> SendFunction[dict[str, Any]]:
    """Sends one POST through the SDK's public raw_request and answers the response's JSON
    as a dict. The request on the wire is the typed method's (same form body, headers,
    errors raised); the answer skips the StripeObject tree that _product would only read
    back (a fifth of the SDK's CPU per products.create, profiled in bench/sync_cli_bench)."""
    async def send(client: Any, options: Mapping[str, Any]) -> dict[str, Any]:
        response = await client.raw_request_async("post", path, **params, **options)
        return response.data

    return send


def _list_page(resource: str, params: dict[str, Any]) -> SendFunction[Any]:
    """Sends one list call of `resource` ("products", "prices") with these `params`."""
    return lambda client, options: getattr(client.v1, resource).list_async(params, options)
