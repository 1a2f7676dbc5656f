"""Fixtures the sandbox tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def price(stripe_client):
    product = stripe_client.v1.products.create({
        "name": "Used textbook", "default_price_data": {"currency": "usd", "unit_amount": 1250}})
    return stripe_client.v1.prices.retrieve(product.default_price)
