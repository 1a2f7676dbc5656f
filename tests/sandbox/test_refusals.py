"""Where Stripe refuses, the sandbox refuses too: currencies, amount limits, expansion
depth, parameters and endpoints it does not implement, unknown objects named in a body."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.sandbox.test_checkout import new_session


def refused(call) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    return caught.value


@pytest.fixture
def product(stripe_client):
    return stripe_client.v1.products.create({"name": "Bike lock"})


# ----------------------------------------------------------------- currencies and amounts
@pytest.mark.parametrize("make", ["price", "default_price_data", "line_item"])
def test_unknown_currency_is_refused_wherever_a_price_is_made(stripe_client, product, make):
    calls = {
        "price": lambda: stripe_client.v1.prices.create(
            {"product": product.id, "currency": "xyz", "unit_amount": 500}),
        "default_price_data": lambda: stripe_client.v1.products.create(
            {"name": "x", "default_price_data": {"currency": "xyz", "unit_amount": 500}}),
        "line_item": lambda: stripe_client.v1.checkout.sessions.create({
            "mode": "payment", "success_url": "https://shop.test/ok",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": "xyz", "unit_amount": 500, "product_data": {"name": "x"}}}]}),
    }
    error = refused(calls[make])
    assert error.http_status == 400 and error.param.rstrip("]").endswith("currency")
    assert "Invalid currency: xyz" in error.user_message and "usd" in error.user_message


def test_currency_codes_are_case_insensitive_and_come_back_lower_case(stripe_client,
                                                                      product):
    price = stripe_client.v1.prices.create({"product": product.id, "currency": "USD",
                                            "unit_amount": 500})
    assert price.currency == "usd"
    made = stripe_client.v1.products.create({"name": "Pump", "expand": ["default_price"],
                                             "default_price_data": {"currency": "Eur",
                                                                    "unit_amount": 900}})
    assert made.default_price.currency == "eur"
    assert [p.id for p in stripe_client.v1.prices.list({"currency": "USD"}).data] == [price.id]


def test_amounts_above_stripes_maximum_are_refused(stripe_client, product):
    ok = stripe_client.v1.prices.create({"product": product.id, "currency": "usd",
                                         "unit_amount": 99_999_999})
    assert ok.unit_amount == 99_999_999
    for field, value in (("unit_amount", 100_000_000), ("unit_amount_decimal", "100000000")):
        error = refused(lambda field=field, value=value: stripe_client.v1.prices.create(
            {"product": product.id, "currency": "usd", field: value}))
        assert error.param == field and "99999999" in error.user_message


@pytest.mark.parametrize("where", ["unit_amount", "quantity"])
def test_integers_beyond_64_bits_are_refused(stripe_client, product, where):
    huge = 2**70
    if where == "unit_amount":
        error = refused(lambda: stripe_client.v1.prices.create(
            {"product": product.id, "currency": "usd", "unit_amount": huge}))
    else:
        price = stripe_client.v1.prices.create({"product": product.id, "currency": "usd",
                                                "unit_amount": 500})
        error = refused(lambda: new_session(stripe_client, price,
                                            line_items=[{"price": price.id,
                                                         "quantity": huge}]))
    assert error.code == "parameter_invalid_integer" and str(huge) in error.user_message
    assert error.param.rstrip("]").endswith(where)


# ----------------------------------------------------------------- expansion
def test_session_expands_four_levels_deep(stripe_client, price):
    session = new_session(stripe_client, price)
    expanded = stripe_client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["line_items.data.price.product"]})
    product = expanded.line_items.data[0].price.product
    assert (product.object, product.id) == ("product", price.product)


def test_list_endpoints_expand_through_the_data_prefix(stripe_client, price):
    session = new_session(stripe_client, price)
    items = stripe_client.v1.checkout.sessions.line_items.list(
        session.id, {"expand": ["data.price.product"]})
    assert items.data[0].price.product.id == price.product
    sessions = stripe_client.v1.checkout.sessions.list(
        {"expand": ["data.line_items.data.price.product"]})
    assert sessions.data[0].line_items.data[0].price.product.object == "product"
    prices = stripe_client.v1.prices.list({"expand": ["data.product.default_price"]})
    assert prices.data[0].product.default_price.id == price.id


@pytest.mark.parametrize(("call", "words"), [
    (lambda c, s: c.v1.checkout.sessions.retrieve(
        s.id, {"expand": ["line_items.data.price.product.default_price"]}), "4 levels"),
    (lambda c, s: c.v1.checkout.sessions.line_items.list(s.id, {"expand": ["price"]}),
     "data.price"),
    (lambda c, s: c.v1.checkout.sessions.list({"expand": ["line_items"]}), "data.line_items"),
    (lambda c, s: c.v1.checkout.sessions.retrieve(s.id, {"expand": ["colour"]}), "colour"),
    (lambda c, s: c.v1.checkout.sessions.retrieve(s.id, {"expand": ["payment_intent.colour"]}),
     "payment_intent.colour"),
    (lambda c, s: c.v1.events.list({"expand": ["data.object"]}), "data.object"),
    (lambda c, s: c.v1.webhook_endpoints.list({"expand": ["data.url"]}), "data.url"),
])
def test_expansions_stripe_refuses_are_refused(stripe_client, price, call, words):
    session = new_session(stripe_client, price)
    error = refused(lambda: call(stripe_client, session))
    assert error.param == "expand" and words in error.user_message


def test_expanding_an_object_the_sandbox_does_not_keep_names_it(stripe_client, price):
    session = new_session(stripe_client, price)
    httpx.post(session.url, data={"email": "a@b.test", "cardNumber": "4242424242424242",
                                  "cardExpiry": "12/34", "cardCvc": "123", "billingName": "A"})
    intent_id = stripe_client.v1.checkout.sessions.retrieve(session.id).payment_intent
    error = refused(lambda: stripe_client.v1.payment_intents.retrieve(
        intent_id, {"expand": ["payment_method"]}))
    assert "payment_method" in error.user_message and "does not keep" in error.user_message


# ----------------------------------------------------------------- not implemented here
@pytest.mark.parametrize(("call", "param"), [
    (lambda c, p: c.v1.prices.create({"product": p.product, "currency": "usd",
                                      "unit_amount": 100,
                                      "currency_options": {"eur": {"unit_amount": 90}}}),
     "currency_options"),
    (lambda c, p: c.v1.prices.update(p.id, {"currency_options": {"eur": {"unit_amount": 90}}}),
     "currency_options"),
    (lambda c, p: c.v1.prices.create({"product": p.product, "currency": "usd",
                                      "billing_scheme": "tiered", "tiers_mode": "graduated",
                                      "recurring": {"interval": "month"}}),
     "billing_scheme"),
    (lambda c, p: new_session(c, p, shipping_options=[{"shipping_rate": "shr_missing"}]),
     "shipping_options"),
    (lambda c, p: new_session(c, p, payment_intent_data={"capture_method": "manual"}),
     "payment_intent_data[capture_method]"),
    (lambda c, p: new_session(c, p, line_items=[{"price": p.id, "quantity": 1,
                                                 "adjustable_quantity": {"enabled": True}}]),
     "line_items[0][adjustable_quantity]"),
    (lambda c, p: c.v1.products.create({"name": "x", "default_price_data": {
        "currency": "usd", "unit_amount": 100, "recurring": {"interval": "month"},
        "currency_options": {"eur": {"unit_amount": 90}}}}),
     "default_price_data[currency_options]"),
    (lambda c, p: c.v1.checkout.sessions.list({"customer": "cus_123"}), "customer"),
])
def test_parameters_the_sandbox_does_not_implement_are_refused_by_name(stripe_client, price,
                                                                       call, param):
    error = refused(lambda: call(stripe_client, price))
    assert error.http_status == 400 and error.param == param
    assert "does not implement" in error.user_message and param in error.user_message


@pytest.mark.parametrize("path", ["/v1/payment_intents/search", "/v1/charges/search"])
def test_unserved_search_endpoints_are_not_read_as_ids(stripe_sandbox, path):
    response = httpx.get(f"{stripe_sandbox.url}{path}", params={"query": "status:'x'"},
                         headers={"Authorization": f"Bearer {stripe_sandbox.test_key}"})
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "Unrecognized request URL" in message and path in message


# ----------------------------------------------------------------- objects named in a body
def test_an_unknown_price_in_line_items_is_a_400_naming_the_param(stripe_client, price):
    error = refused(lambda: new_session(stripe_client, price,
                                        line_items=[{"price": "price_missing", "quantity": 1}]))
    assert (error.http_status, error.code, error.param) == (400, "resource_missing",
                                                            "line_items[0][price]")


def test_an_unknown_product_in_a_body_is_a_400_and_in_a_path_a_404(stripe_client):
    error = refused(lambda: stripe_client.v1.prices.create(
        {"product": "prod_missing", "currency": "usd", "unit_amount": 100}))
    assert (error.http_status, error.code, error.param) == (400, "resource_missing", "product")
    error = refused(lambda: stripe_client.v1.products.retrieve("prod_missing"))
    assert error.http_status == 404
