"""Every object the sandbox returns, checked against Stripe's published OpenAPI schemas.

A recording HTTP client under the real SDK keeps each raw API response of a scenario that
calls every route the sandbox serves (successes and errors); each body is then checked
against its schema in tests/sandbox/data: required fields, types, enums, `nullable`,
expandables, and no field the spec lacks.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import stripe

from tests.sandbox import spec_schemas
from tests.sandbox.test_checkout import new_session, pay
from uhadmin.sandbox.routes import API_ROUTES


class RecordingClient(stripe.HTTPXClient):
    """The SDK's own HTTPX client, keeping (method, path, status, body) of each response."""

    def __init__(self) -> None:
        super().__init__(allow_sync_methods=True, timeout=15)
        self.responses: list[tuple[str, str, int, Any]] = []

    def request(self, method, url, headers, post_data=None):
        content, status, response_headers = super().request(method, url, headers, post_data)
        self.responses.append((method.upper(), urlsplit(url).path, status,
                               json.loads(content)))
        return content, status, response_headers


@pytest.fixture
def recorded(stripe_sandbox):
    http_client = RecordingClient()
    client = stripe.StripeClient(stripe_sandbox.test_key,
                                 base_addresses={"api": stripe_sandbox.url},
                                 http_client=http_client)
    yield client, http_client
    http_client.close()


def _envelope_for(path: str) -> str | None:
    for template in ("/v1/checkout/sessions/{session}/line_items",):
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), path):
            return template
    return path if spec_schemas.has_envelope(path) else None


def _object_problems(obj: dict[str, Any], where: str) -> list[str]:
    name = obj.get("object", "")
    if obj.get("deleted"):
        name = f"deleted_{name}"
    if name == "charge":
        return [f"{where}: {p}" for p in charge_problems(obj)]
    if name == "account":
        return [f"{where}: {p}" for p in account_problems(obj)]
    if not spec_schemas.has_schema(name):
        return [f"{where}: no schema for object {name!r}"]
    found = [f"{where}: {p}" for p in spec_schemas.problems(obj, component=name)]
    if name == "event":  # the event's own object, checked as its kind
        found += _object_problems(obj["data"]["object"], f"{where} data.object")
    return found


def _unknown_fields(obj: dict[str, Any], model: type, where: str) -> list[str]:
    known = {name for name in model.__annotations__ if not name.startswith("_")}
    return [f"{where}{name}: a field {model.__qualname__} lacks"
            for name in sorted(set(obj) - known)]


def charge_problems(charge: dict[str, Any]) -> list[str]:
    """The spec subset has no `charge` schema: check the fields against stripe-python 16's
    Charge model instead (generated from Stripe's spec for the pinned API version)."""
    card = charge["payment_method_details"]["card"]
    found = _unknown_fields(charge, stripe.Charge, "")
    found += _unknown_fields(charge["outcome"], stripe.Charge.Outcome, "outcome.")
    found += _unknown_fields(card, stripe.Charge.PaymentMethodDetails.Card, "card.")
    if card["three_d_secure"] is not None:
        found += _unknown_fields(card["three_d_secure"],
                                 stripe.Charge.PaymentMethodDetails.Card.ThreeDSecure,
                                 "card.three_d_secure.")
    return found


def account_problems(account: dict[str, Any]) -> list[str]:
    """No `account` schema in the subset either: stripe-python 16's Account model."""
    found = _unknown_fields(account, stripe.Account, "")
    found += _unknown_fields(account["settings"]["dashboard"],
                             stripe.Account.Settings.Dashboard, "settings.dashboard.")
    found += _unknown_fields(account["business_profile"], stripe.Account.BusinessProfile,
                             "business_profile.")
    if not account["id"].startswith("acct_"):
        found.append(f"id {account['id']!r} is not an acct_ id")
    return found


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    where = f"{method} {path} ({status})"
    if status >= 400:
        return [f"{where}: {p}" for p in spec_schemas.problems(body, component="error")]
    if body.get("object") in ("list", "search_result"):
        envelope = _envelope_for(path)
        if envelope is None:  # /v1/charges: the subset has no envelope, check each item
            return [p for index, item in enumerate(body["data"])
                    for p in _object_problems(item, f"{where} data[{index}]")]
        found = [f"{where}: {p}" for p in spec_schemas.problems(body, envelope=envelope)]
        for index, item in enumerate(body["data"]):  # the envelope checks items as such
            if item.get("object") == "event":
                found += _object_problems(item["data"]["object"],
                                          f"{where} data[{index}] data.object")
        return found
    return _object_problems(body, where)


def run_every_route(client: stripe.StripeClient, webhook_url: str) -> None:
    """One call (or more) to each API route, including expansions and refusals."""
    product = client.v1.products.create({
        "name": "Desk", "description": "Oak", "images": ["https://img.test/desk.png"],
        "metadata": {"listing_id": "7"}, "expand": ["default_price"],
        "default_price_data": {"currency": "usd", "unit_amount": 4500}})
    client.v1.products.retrieve(product.id, {"expand": ["default_price"]})
    client.v1.products.update(product.id, {"name": "Oak desk", "shippable": True})
    client.v1.products.list({"expand": ["data.default_price"]})
    client.v1.products.search({"query": "metadata['listing_id']:'7'"})
    bare = client.v1.products.create({"name": "No price"})
    client.v1.products.delete(bare.id)
    price = client.v1.prices.create({"product": product.id, "currency": "eur",
                                     "unit_amount": 1299, "lookup_key": "desk-eur",
                                     "nickname": "EUR", "expand": ["product"]})
    client.v1.prices.create({"product_data": {"name": "Monthly"}, "currency": "usd",
                             "unit_amount": 500, "recurring": {"interval": "month"}})
    client.v1.prices.retrieve(price.id, {"expand": ["product"]})
    client.v1.prices.update(price.id, {"metadata": {"note": "x"}})
    client.v1.prices.list({"expand": ["data.product"]})
    client.v1.prices.search({"query": "currency:'eur'"})
    endpoint = client.v1.webhook_endpoints.create({"url": webhook_url,
                                                   "enabled_events": ["*"],
                                                   "description": "schema test"})
    client.v1.webhook_endpoints.retrieve(endpoint.id)
    client.v1.webhook_endpoints.update(endpoint.id, {"disabled": True})
    client.v1.webhook_endpoints.list()
    client.v1.webhook_endpoints.delete(endpoint.id)
    open_session = new_session(client, price)
    paid_session = new_session(client, price, customer_email="buyer@example.test")
    declined_session = new_session(client, price)
    pay(declined_session.url, card="4000000000009995")
    pay(paid_session.url)
    client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "https://shop.test/ok",
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 300,
                                       "product_data": {"name": "Poster"}},
                        "quantity": 2}]})
    challenge = pay(new_session(client, price).url, card="4000002500003155")
    httpx.post(challenge.headers["location"], data={"action": "complete"})
    for session in (open_session, paid_session, declined_session):
        client.v1.checkout.sessions.retrieve(session.id, {
            "expand": ["line_items", "payment_intent.latest_charge"]})
        client.v1.checkout.sessions.line_items.list(session.id)
    client.v1.checkout.sessions.list({"expand": ["data.line_items"]})
    client.v1.checkout.sessions.expire(open_session.id)
    intents = client.v1.payment_intents.list()
    for intent in intents.data:
        client.v1.payment_intents.retrieve(intent.id, {"expand": ["latest_charge"]})
    charges = client.v1.charges.list({"expand": ["data.payment_intent"]})
    for charge in charges.data:
        client.v1.charges.retrieve(charge.id)
    client.v1.accounts.retrieve_current()  # no account schema in the subset: shape from the SDK
    events = client.v1.events.list({"limit": 100})
    for event in events.data[:5]:
        client.v1.events.retrieve(event.id)
    refusals = [
        lambda: client.v1.products.retrieve("prod_missing"),
        lambda: client.v1.prices.create({"product": product.id, "currency": "usd"}),
        lambda: client.v1.checkout.sessions.expire(open_session.id),
        lambda: client.v1.products.retrieve(product.id, {"expand": ["nothing"]}),
        lambda: client.v1.products.retrieve(product.id, options={"api_key": "not_a_key"}),
    ]
    for refused in refusals:
        with pytest.raises(stripe.StripeError):
            refused()


@pytest.mark.slow  # every route, each response checked against Stripe's OpenAPI schemas
def test_every_response_matches_stripes_schema(recorded, stripe_sandbox, receiver):
    client, http_client = recorded
    run_every_route(client, receiver.url)
    served = {(method, template) for method, template in stripe_sandbox.stats.by_endpoint}
    unserved = {(r.method, r.template) for r in API_ROUTES} - served
    assert not unserved, f"the scenario skipped these routes: {sorted(unserved)}"
    found: list[str] = []
    for response in http_client.responses:
        found += response_problems(*response)
    assert not found, "\n".join(found)


def test_webhook_deliveries_match_the_event_schema(stripe_client, stripe_sandbox, receiver):
    created = stripe_client.v1.webhook_endpoints.create({"url": receiver.url,
                                                         "enabled_events": ["*"]})
    product = stripe_client.v1.products.create({
        "name": "Chair", "default_price_data": {"currency": "usd", "unit_amount": 900}})
    price = stripe_client.v1.prices.retrieve(product.default_price)
    pay(new_session(stripe_client, price).url)
    assert stripe_sandbox.wait_for_webhooks()
    bodies = [json.loads(body) for body, _ in receiver.received]
    assert len(bodies) >= 6
    found = [p for body in bodies for p in _object_problems(body, body["type"])]
    assert not found, "\n".join(found)
    assert created.secret.startswith("whsec_")


def test_the_checker_catches_what_the_spec_lacks():
    """The checks can fail: an extra field, a missing one, a wrong enum, a null where the
    spec allows none, each is reported."""
    base = {"id": "prod_1", "object": "product", "active": True, "created": 1,
            "images": [], "livemode": False, "marketing_features": [], "metadata": {},
            "name": "n", "updated": 1}
    assert spec_schemas.problems(base, component="product") == []
    assert spec_schemas.problems(dict(base, attributes=[]), component="product")
    assert spec_schemas.problems({k: v for k, v in base.items() if k != "name"},
                                 component="product")
    assert spec_schemas.problems(dict(base, object="price"), component="product")
    assert spec_schemas.problems(dict(base, active=None), component="product")
    assert spec_schemas.problems(dict(base, description=None), component="product") == []
    assert charge_problems({"id": "ch_1", "order": None, "outcome": {},
                            "payment_method_details": {"card": {"three_d_secure": None}}})
