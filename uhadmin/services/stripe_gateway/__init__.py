"""The only package that imports `stripe`: the shared client core and the catalog calls.

`client.StripeGateway` is the core every Stripe feature builds on (see its module docstring
for the API); `catalog.CatalogGateway` holds the product and price calls the sync uses.
"""

import sys

# httpx's package imports its command-line client whenever `rich` and `pygments` are
# installed (import-linter brings them into every dev environment): a terminal UI no
# gateway uses, ~40 ms of each start that loads the SDK. Marked absent before httpx loads,
# httpx defines its stub `main` instead; nothing else changes.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from uhadmin.services.stripe_gateway.sdk_loading import (  # noqa: E402 - after the line above
    load_sdk_without_requests,
)

load_sdk_without_requests()  # before the modules below import the SDK

from uhadmin.services.stripe_gateway.client import (  # noqa: E402 - after the lines above
    GatewayConfig,
    GatewayStats,
    StripeGateway,
)

__all__ = ["GatewayConfig", "GatewayStats", "StripeGateway"]
