"""Raw exchanges as the gateway's recording HTTP client hands them to the Stripe log."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode


def a_raw_exchange(number: int, at: datetime, **changes) -> dict:
    """Request `number`: a GET every third, else a product create; every tenth from the
    seventh is declined (402 card_declined); listing `number % 5`."""
    declined = number % 10 == 7
    if number % 3 == 0:
        method, url, body = "GET", f"http://127.0.0.1:9/v1/products/uh_{number}", None
    else:
        method, url = "POST", "http://127.0.0.1:9/v1/products"
        body = urlencode({"id": f"uh_{number}", "name": f"Item {number}",
                          "metadata[listing_id]": str(number % 5)})
    if declined:
        content = json.dumps({"error": {"type": "card_error", "code": "card_declined",
                                        "decline_code": "generic_decline",
                                        "message": "Your card was declined."}})
    else:
        content = json.dumps({"id": f"uh_{number}", "object": "product",
                              "name": f"Item {number}"})
    raw = {"at": at, "method": method, "url": url, "body": body,
           "idempotency_key": f"uh_key_{number}" if method == "POST" else None,
           "api_version": "2026-10-28.endive", "status": 402 if declined else 200,
           "request_id": f"req_{number:06d}", "content": content.encode(), "failure": None,
           "call_id": f"call{number}", "retry": 0,
           "endpoint": "products.retrieve" if method == "GET" else "products.create",
           "served": "sync", "sync_run": "run-1", "listing_id": number % 5,
           "listing_revision": 1, "attempt_id": None, "latency_ms": 3.5}
    raw.update(changes)
    return raw
