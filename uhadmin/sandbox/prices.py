"""Stripe's rules for a price's currency and amount (shared by prices, products and Checkout)."""

from __future__ import annotations

from decimal import Decimal

from uhadmin.money import MAXIMUM_AMOUNT_MINOR, STRIPE_CURRENCIES
from uhadmin.sandbox.errors import invalid_param

# stripe.com/docs/currencies: amounts hold up to 8 digits, 12 for IDR.
_MAXIMUM_BY_CURRENCY = {"idr": 999_999_999_999}
_SUPPORTED_LIST = ", ".join(sorted(STRIPE_CURRENCIES))


def maximum_amount(currency: str) -> int:
    return _MAXIMUM_BY_CURRENCY.get(currency, MAXIMUM_AMOUNT_MINOR)


def checked_currency(value: str, param: str) -> str:
    """The lower-case code of a currency Stripe supports (codes are case-insensitive)."""
    code = value.lower()
    if code not in STRIPE_CURRENCIES:
        raise invalid_param(param, f"Invalid currency: {value}. Stripe currently supports "
                            f"these currencies: {_SUPPORTED_LIST}")
    return code


def check_unit_amount(amount: int | Decimal | None, currency: str, param: str) -> None:
    if amount is None:
        return
    if amount < 0:
        raise invalid_param(param, "This value must be greater than or equal to 0.",
                            code="parameter_invalid_integer")
    limit = maximum_amount(currency)
    if amount > limit:
        raise invalid_param(param, f"This value must be less than or equal to {limit}.",
                            code="parameter_invalid_integer")
