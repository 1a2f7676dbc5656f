"""What the SDK and its HTTP stack import at their first requests, imported ahead of them."""

from __future__ import annotations

import importlib

# Found by diffing sys.modules around a first products/prices/checkout/account call (SDK v16,
# httpx, anyio; the account is read as a raw request, so its typed classes are not needed,
# but the embedded sandbox answering it loads that call's parameter types). In the app those
# imports ran on the GUI thread in the middle of the first sync: stalls of 60-70 ms
# (bench/gui_bench.py, #11). A name another version lacks is skipped: that version imports
# what it needs at its first request, as before.
FIRST_REQUEST_MODULES = (
    "sniffio", "h11", "httpcore", "anyio._backends._asyncio", "anyio.lowlevel",
    "anyio.streams.memory", "anyio.streams.stapled", "anyio.streams.tls", "anyio.to_thread",
    "stripe._object_classes", "stripe._telemetry_id", "stripe._invoice",
    "stripe._product_service", "stripe._price_service",
    "stripe._checkout_service", "stripe.checkout._session_service",
    "stripe._product", "stripe._price", "stripe.checkout._session",
    "stripe.params._product_retrieve_params", "stripe.params._account_retrieve_current_params",
)


def import_first_request_modules() -> list[str]:
    """Import them now (call it off the GUI thread); the names that were not found."""
    missing = []
    for name in FIRST_REQUEST_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing
