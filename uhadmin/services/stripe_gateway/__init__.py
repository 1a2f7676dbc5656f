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


def _load_sdk_without_requests() -> None:
    """The SDK picks its default synchronous HTTP library as it loads, importing `requests`
    (with urllib3, idna, charset_normalizer: ~0.19 G instructions, ~60 ms of each start
    that loads the SDK) although every client here is handed uhadmin's own HTTPX client.
    `requests` is marked absent only while the SDK loads: the SDK then names urllib as
    that unused default, and `requests` stays importable for anything else."""
    if "stripe" in sys.modules or "requests" in sys.modules:
        return
    sys.modules["requests"] = None  # type: ignore[assignment]
    try:
        import stripe  # noqa: F401 - loaded here, used by the modules below
    finally:
        if sys.modules.get("requests", False) is None:
            del sys.modules["requests"]


_load_sdk_without_requests()

from uhadmin.services.stripe_gateway.client import (  # noqa: E402 - after the lines above
    GatewayConfig,
    GatewayStats,
    StripeGateway,
)

__all__ = ["GatewayConfig", "GatewayStats", "StripeGateway"]
