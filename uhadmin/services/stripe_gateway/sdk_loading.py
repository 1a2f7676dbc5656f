"""Loads the Stripe SDK without the HTTP library it would import for a client never used."""

from __future__ import annotations

import sys


def load_sdk_without_requests() -> None:
    """The SDK picks its default synchronous HTTP library as it loads, importing `requests`
    (with urllib3, idna, charset_normalizer: ~0.19 G instructions, ~60 ms of each start
    that loads the SDK) although every client here is handed uhadmin's own HTTPX client.
    `requests` is marked absent only while the SDK loads: the SDK then names urllib as
    that unused default, and `requests` stays importable for anything else."""
    if "stripe" in sys.modules or "requests" in sys.modules:
        return
    sys.modules["requests"] = None  # type: ignore[assignment]
    try:
        import stripe  # noqa: F401 - loaded here, used by the gateway's modules
    finally:
        if sys.modules.get("requests", False) is None:
            del sys.modules["requests"]
