"""Products and prices through the real stripe SDK: shapes, updates, lists, Stripe's refusals."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import stripe


def test_product_with_default_price_data_creates_both_in_one_call(stripe_client):
    product = stripe_client.v1.products.create({
        "name": "Road bike", "id": "listing_42", "metadata": {"listing_id": "42"},
        "images": ["https://example.test/bike.jpg"], "description": "Blue, 56 cm",
        "default_price_data": {"currency": "usd", "unit_amount": 12500}})
    assert product.id == "listing_42"
    assert product.object == "product"
    assert product.livemode is False
    assert product.active is True
    assert product.metadata.to_dict() == {"listing_id": "42"}
    assert product.images == ["https://example.test/bike.jpg"]
    assert isinstance(product.created, int)
    price = stripe_client.v1.prices.retrieve(product.default_price)
    assert price.id.startswith("price_")
    assert (price.object, price.unit_amount, price.currency, price.product, price.type) == (
        "price", 12500, "usd", "listing_42", "one_time")


def test_generated_ids_have_stripes_prefixes(stripe_client):
    product = stripe_client.v1.products.create({"name": "Desk"})
    price = stripe_client.v1.prices.create({"product": product.id, "currency": "eur",
                                            "unit_amount": 999})
    assert product.id.startswith("prod_")
    assert price.id.startswith("price_")
    assert price.unit_amount_decimal == Decimal("999")


def test_duplicate_custom_id_is_resource_already_exists(stripe_client):
    stripe_client.v1.products.create({"name": "Lamp", "id": "listing_7"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.create({"name": "Lamp again", "id": "listing_7"})
    assert caught.value.code == "resource_already_exists"
    assert caught.value.http_status == 400
    assert caught.value.param == "id"


def test_missing_product_is_resource_missing_404(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.retrieve("prod_nothere")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert "No such product: 'prod_nothere'" in caught.value.user_message


def test_update_changes_fields_and_merges_metadata(stripe_client):
    stripe_client.v1.products.create({"name": "Chair", "id": "p1",
                                      "metadata": {"a": "1", "b": "2"}})
    updated = stripe_client.v1.products.update("p1", {
        "name": "Oak chair", "active": False, "metadata": {"a": "", "c": "3"},
        "description": "Solid oak"})
    assert (updated.name, updated.active, updated.description) == ("Oak chair", False,
                                                                    "Solid oak")
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}
    cleared = stripe_client.v1.products.update("p1", {"metadata": "", "description": ""})
    assert cleared.metadata.to_dict() == {}
    assert cleared.description is None


def test_price_change_sequence_new_default_then_archive_old(stripe_client):
    product = stripe_client.v1.products.create({
        "name": "Sofa", "default_price_data": {"currency": "usd", "unit_amount": 5000}})
    old_price = product.default_price
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.prices.update(old_price, {"active": False})
    assert caught.value.param == "active"
    assert caught.value.user_message == ("This price cannot be archived because it is the "
                                         "default price of its product.")
    new_price = stripe_client.v1.prices.create({"product": product.id, "currency": "usd",
                                                "unit_amount": 4500})
    updated = stripe_client.v1.products.update(product.id, {"default_price": new_price.id,
                                                            "expand": ["default_price"]})
    assert updated.default_price.id == new_price.id
    assert updated.default_price.unit_amount == 4500
    archived = stripe_client.v1.prices.update(old_price, {"active": False})
    assert archived.active is False
    unset = stripe_client.v1.products.update(product.id, {"default_price": ""})
    assert unset.default_price is None
    assert stripe_client.v1.prices.update(new_price.id, {"active": False}).active is False


def test_default_price_must_belong_to_the_product(stripe_client):
    a = stripe_client.v1.products.create({"name": "A"})
    b = stripe_client.v1.products.create({
        "name": "B", "default_price_data": {"currency": "usd", "unit_amount": 100}})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.update(a.id, {"default_price": b.default_price})
    assert caught.value.param == "default_price"


def test_amount_is_immutable(stripe_client):
    product = stripe_client.v1.products.create({
        "name": "Mug", "default_price_data": {"currency": "usd", "unit_amount": 300}})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.prices.update(product.default_price, {"unit_amount": 400})
    assert caught.value.param == "unit_amount"


def test_price_update_fields_and_lookup_key_transfer(stripe_client):
    product = stripe_client.v1.products.create({"name": "Tent"})
    first = stripe_client.v1.prices.create({"product": product.id, "currency": "usd",
                                            "unit_amount": 100, "lookup_key": "tent_std"})
    second = stripe_client.v1.prices.create({"product": product.id, "currency": "usd",
                                             "unit_amount": 200})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.prices.update(second.id, {"lookup_key": "tent_std"})
    assert caught.value.param == "lookup_key"
    moved = stripe_client.v1.prices.update(second.id, {
        "lookup_key": "tent_std", "transfer_lookup_key": True, "nickname": "Standard",
        "metadata": {"k": "v"}})
    assert (moved.lookup_key, moved.nickname, moved.metadata.to_dict()) == ("tent_std", "Standard",
                                                                  {"k": "v"})
    assert stripe_client.v1.prices.retrieve(first.id).lookup_key is None
    found = stripe_client.v1.prices.list({"lookup_keys": ["tent_std"]})
    assert [p.id for p in found.data] == [second.id]


def test_delete_refused_when_product_has_prices_allowed_otherwise(stripe_client):
    priced = stripe_client.v1.products.create({
        "name": "Bed", "default_price_data": {"currency": "usd", "unit_amount": 100}})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.delete(priced.id)
    assert caught.value.user_message == ("This product cannot be deleted because it has one "
                                         "or more user-created prices.")
    bare = stripe_client.v1.products.create({"name": "Shelf"})
    deleted = stripe_client.v1.products.delete(bare.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.products.retrieve(bare.id)


def test_list_filters_active_ids_product_and_prices_active(stripe_client):
    one = stripe_client.v1.products.create({"name": "One"})
    two = stripe_client.v1.products.create({"name": "Two", "active": False})
    three = stripe_client.v1.products.create({"name": "Three"})
    active = stripe_client.v1.products.list({"active": True})
    assert [p.id for p in active.data] == [three.id, one.id]  # newest first
    inactive = stripe_client.v1.products.list({"active": False})
    assert [p.id for p in inactive.data] == [two.id]
    by_ids = stripe_client.v1.products.list({"ids": [one.id, two.id]})
    assert {p.id for p in by_ids.data} == {one.id, two.id}
    p1 = stripe_client.v1.prices.create({"product": one.id, "currency": "usd",
                                         "unit_amount": 1})
    p2 = stripe_client.v1.prices.create({"product": three.id, "currency": "usd",
                                         "unit_amount": 2, "active": False})
    assert [p.id for p in stripe_client.v1.prices.list({"product": one.id}).data] == [p1.id]
    assert [p.id for p in stripe_client.v1.prices.list({"active": False}).data] == [p2.id]
    expanded = stripe_client.v1.prices.list({"expand": ["data.product"]})
    assert {p.product.id for p in expanded.data} == {one.id, three.id}


@pytest.mark.slow
def test_pagination_over_250_products_both_directions(stripe_client):
    created = [stripe_client.v1.products.create({"name": f"Item {i}"}).id for i in range(250)]
    newest_first = list(reversed(created))
    seen = [p.id for p in stripe_client.v1.products.list({"limit": 100}).auto_paging_iter()]
    assert seen == newest_first
    first = stripe_client.v1.products.list({"limit": 100})
    assert first.has_more is True and len(first.data) == 100
    last = stripe_client.v1.products.list({"limit": 100, "starting_after": newest_first[199]})
    assert last.has_more is False and len(last.data) == 50
    before = stripe_client.v1.products.list({"limit": 10, "ending_before": newest_first[15]})
    assert [p.id for p in before.data] == newest_first[5:15]
    assert before.has_more is True
    for bad in (0, 101):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            stripe_client.v1.products.list({"limit": bad})
        assert caught.value.param == "limit"


def test_async_client_does_the_same(stripe_client):
    async def scenario():
        product = await stripe_client.v1.products.create_async({
            "name": "Async lamp", "default_price_data": {"currency": "gbp",
                                                         "unit_amount": 30}})
        again = await stripe_client.v1.products.retrieve_async(
            product.id, {"expand": ["default_price"]})
        listed = await stripe_client.v1.prices.list_async({"product": product.id})
        with pytest.raises(stripe.InvalidRequestError):
            await stripe_client.v1.products.delete_async(product.id)
        return product, again, listed

    product, again, listed = asyncio.run(scenario())
    assert again.default_price.currency == "gbp"
    assert [p.id for p in listed.data] == [product.default_price]
