"""Search (query subset, paging, indexing delay) and validation derived from stripe.params."""

from __future__ import annotations

import asyncio

import pytest
import stripe


def make(client, name, listing_id, active=True):
    return client.v1.products.create({"name": name, "active": active,
                                      "metadata": {"listing_id": listing_id}})


def names(result) -> list[str]:
    return sorted(p.name for p in result.data)


def test_query_subset(stripe_client):
    make(stripe_client, "Red bike", "1")
    make(stripe_client, "Blue bike", "2", active=False)
    make(stripe_client, "Desk lamp", "3")
    search = stripe_client.v1.products.search
    assert names(search({"query": "metadata['listing_id']:'2'"})) == ["Blue bike"]
    assert names(search({"query": "active:'true'"})) == ["Desk lamp", "Red bike"]
    assert names(search({"query": "name~'bike'"})) == ["Blue bike", "Red bike"]
    assert names(search({"query": "name~'bike' AND active:'true'"})) == ["Red bike"]
    assert names(search({"query": "metadata['listing_id']:'1' OR metadata['listing_id']:'3'"}
                        )) == ["Desk lamp", "Red bike"]
    assert names(search({"query": "-active:'true'"})) == ["Blue bike"]


@pytest.mark.parametrize("query", ["", "colour:'red'", "name~'x'", "active:'true' AND",
                                   "active:'true' AND name:'a' OR name:'b'"])
def test_bad_queries_are_refused(stripe_client, query):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.search({"query": query})
    assert caught.value.param == "query"


def test_search_paging_with_next_page(stripe_client):
    for index in range(25):
        make(stripe_client, f"Chair {index}", str(index))
    seen: list[str] = []
    page = stripe_client.v1.products.search({"query": "name~'chair'", "limit": 10})
    while True:
        seen += [p.name for p in page.data]
        if not page.has_more:
            assert page.next_page is None
            break
        page = stripe_client.v1.products.search({"query": "name~'chair'", "limit": 10,
                                                 "page": page.next_page})
    assert len(seen) == 25 == len(set(seen))
    all_at_once = stripe_client.v1.products.search({"query": "name~'chair'", "limit": 100})
    assert len(list(all_at_once.auto_paging_iter())) == 25


def test_price_search(stripe_client):
    product = make(stripe_client, "Stool", "9")
    stripe_client.v1.prices.create({"product": product.id, "currency": "usd",
                                    "unit_amount": 100, "lookup_key": "stool_std",
                                    "metadata": {"tier": "std"}})
    stripe_client.v1.prices.create({"product": product.id, "currency": "eur",
                                    "unit_amount": 200, "active": False})
    found = stripe_client.v1.prices.search({"query": f"product:'{product.id}' AND active:'true'"})
    assert [p.lookup_key for p in found.data] == ["stool_std"]
    assert len(stripe_client.v1.prices.search({"query": "metadata['tier']:'std'"}).data) == 1
    assert len(stripe_client.v1.prices.search({"query": "currency:'eur'"}).data) == 1


def test_search_indexing_delay(stripe_client, stripe_sandbox):
    stripe_sandbox.search_delay_s = 60
    product = make(stripe_client, "Fresh", "77")
    query = {"query": "metadata['listing_id']:'77'"}
    assert stripe_client.v1.products.search(query).data == []  # not indexed yet
    assert stripe_client.v1.products.retrieve(product.id).name == "Fresh"  # reads are exact
    stripe_sandbox.clock.advance(61)
    assert [p.id for p in stripe_client.v1.products.search(query).data] == [product.id]
    stripe_client.v1.products.update(product.id, {"metadata": {"listing_id": "78"}})
    # Until the update is indexed, search still sees the old version.
    assert [p.id for p in stripe_client.v1.products.search(query).data] == [product.id]
    stripe_sandbox.clock.advance(61)
    assert stripe_client.v1.products.search(query).data == []


def test_async_search(stripe_client):
    make(stripe_client, "Async table", "5")

    async def scenario():
        return await stripe_client.v1.products.search_async({"query": "name~'table'"})

    assert names(asyncio.run(scenario())) == ["Async table"]


@pytest.mark.parametrize(("params", "param"), [
    ({"name": "x", "default_price_data": {"currency": "usd", "unit_amount": 1,
                                          "colour": "x"}}, "default_price_data[colour]"),
    ({"name": "x", "default_price_data": {"unit_amount": 1}}, "default_price_data[currency]"),
    ({"name": "x", "default_price_data": {"currency": "usd", "unit_amount": 1,
                                          "tax_behavior": "sometimes"}},
     "default_price_data[tax_behavior]"),
    ({"name": "x", "shippable": "maybe"}, "shippable"),
    ({"name": "x", "images": "https://one.test/a.png"}, "images"),
    ({"name": "x", "metadata": {"k" * 41: "v"}}, "metadata[" + "k" * 41 + "]"),
    ({"name": "x" * 5001}, "name"),
    ({"name": "x", "images": [f"https://img.test/{i}" for i in range(9)]}, "images"),
    ({"name": "x", "metadata": "not a hash"}, "metadata"),
    ({"name": "x", "default_price_data": "not a hash"}, "default_price_data"),
])
def test_product_params_checked_like_stripe(stripe_client, params, param):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.create(params)
    assert caught.value.http_status == 400
    assert caught.value.param == param


def test_validation_follows_the_sdk_types():
    """The rules come from stripe.params, so a newer SDK moves the sandbox with it."""
    from stripe.params import ProductCreateParams
    from stripe.params.checkout import SessionCreateParams

    from uhadmin.sandbox.validation import fields_of

    product_fields, required = fields_of(ProductCreateParams)
    assert "name" in required and "default_price_data" in product_fields
    assert "api_key" not in product_fields  # request options are not parameters
    session_fields, _ = fields_of(SessionCreateParams)
    assert "payment_method_types" not in session_fields  # removed in the endive API
    assert "line_items" in session_fields


def test_enum_errors_inside_lists_name_the_item(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/",
                                                   "enabled_events": ["product.exploded"]})
    assert caught.value.param == "enabled_events[0]"
    assert caught.value.user_message.startswith("Invalid enabled_events: must be one of")
