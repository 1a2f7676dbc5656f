"""The API endpoints the sandbox serves: method, path template and the StripeApi handler."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: str


def _route(method: str, template: str, handler: str) -> Route:
    # An id is never `search`: `GET /v1/payment_intents/search` is Stripe's search
    # endpoint (not served here), not a retrieve of the id "search".
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>(?!search$)[^/]+)", re.escape(template))
    return Route(method, template, re.compile(f"^{regex}$"), handler)


API_ROUTES = [
    _route("POST", "/v1/products", "create_product"),
    _route("GET", "/v1/products", "list_products"),
    _route("GET", "/v1/products/search", "search_products"),
    _route("GET", "/v1/products/{id}", "retrieve_product"),
    _route("POST", "/v1/products/{id}", "update_product"),
    _route("DELETE", "/v1/products/{id}", "delete_product"),
    _route("POST", "/v1/prices", "create_price"),
    _route("GET", "/v1/prices", "list_prices"),
    _route("GET", "/v1/prices/search", "search_prices"),
    _route("GET", "/v1/prices/{id}", "retrieve_price"),
    _route("POST", "/v1/prices/{id}", "update_price"),
    _route("POST", "/v1/checkout/sessions", "create_session"),
    _route("GET", "/v1/checkout/sessions", "list_sessions"),
    _route("GET", "/v1/checkout/sessions/{id}", "retrieve_session"),
    _route("POST", "/v1/checkout/sessions/{id}/expire", "expire_session"),
    _route("GET", "/v1/checkout/sessions/{id}/line_items", "list_session_line_items"),
    _route("GET", "/v1/payment_intents", "list_payment_intents"),
    _route("GET", "/v1/payment_intents/{id}", "retrieve_payment_intent"),
    _route("GET", "/v1/charges", "list_charges"),
    _route("GET", "/v1/charges/{id}", "retrieve_charge"),
    _route("GET", "/v1/events", "list_events"),
    _route("GET", "/v1/events/{id}", "retrieve_event"),
    _route("POST", "/v1/webhook_endpoints", "create_webhook_endpoint"),
    _route("GET", "/v1/webhook_endpoints", "list_webhook_endpoints"),
    _route("GET", "/v1/webhook_endpoints/{id}", "retrieve_webhook_endpoint"),
    _route("POST", "/v1/webhook_endpoints/{id}", "update_webhook_endpoint"),
    _route("DELETE", "/v1/webhook_endpoints/{id}", "delete_webhook_endpoint"),
    _route("GET", "/v1/account", "retrieve_account"),
]


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    """The route serving `method path` and its path arguments; (None, {}) when none does."""
    for route in API_ROUTES:
        if route.method == method:
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
    return None, {}
