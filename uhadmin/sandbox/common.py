"""What every endpoint module shares: the decoded request record and Stripe-style rendering."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "2026-10-28.endive"


@dataclass
class ApiRequest:
    """One decoded API call as the endpoint handlers see it."""

    method: str
    path: str
    params: dict[str, Any]
    request_id: str
    idempotency_key: str | None = None
    path_args: dict[str, str] = field(default_factory=dict)
    api_key: str = field(default="", repr=False)  # GET /v1/account needs it; never shown


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as Stripe shows it: internal `_` fields removed.

    A shallow copy is enough because stored objects are never changed in place: every
    update builds a new dict (nested values included) and `put`s it, so snapshots taken
    for events and search keep the values they had.
    """
    return {k: v for k, v in obj.items() if not k.startswith("_")}


@dataclass
class Response:
    """An HTTP reply as the server writes it."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    # False for results the idempotency layer must not keep (parameter validation errors).
    stored: bool = True


def json_response(status: int, payload: dict[str, Any],
                  headers: dict[str, str] | None = None) -> Response:
    # Compact JSON: the C encoder only runs without `indent`, and the SDK does not care.
    return Response(status, json.dumps(payload).encode(), headers=headers or {})
