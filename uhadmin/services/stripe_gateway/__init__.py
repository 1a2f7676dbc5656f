"""The only package that imports `stripe`: the shared client core and the catalog calls.

`client.StripeGateway` is the core every Stripe feature builds on (see its module docstring
for the API); `catalog.CatalogGateway` holds the product and price calls the sync uses.
"""

from uhadmin.services.stripe_gateway.client import GatewayConfig, GatewayStats, StripeGateway

__all__ = ["GatewayConfig", "GatewayStats", "StripeGateway"]
