"""Which of the SDK's parameters each endpoint really implements; the rest are refused.

The SDK's parameter types (validation.py) know every parameter Stripe accepts. A parameter
the sandbox would accept and then ignore makes it kinder than Stripe (a test passes here and
fails there), so for each params type below, a parameter outside its tree is refused with
an error naming it. A name mapped to ALL is implemented whole; a nested mapping lists what
is implemented inside it (for a list, inside each element). Types not listed here are
implemented whole.
"""

from __future__ import annotations

from typing import Any

import stripe.params as sp

from uhadmin.sandbox.errors import StripeApiError

ALL = None
Supported = dict[str, Any]


def _all(*names: str) -> Supported:
    return dict.fromkeys(names, ALL)


_RECURRING = _all("interval", "interval_count", "usage_type")
_PRICE_DATA = {**_all("currency", "custom_unit_amount", "metadata", "tax_behavior",
                      "unit_amount", "unit_amount_decimal"), "recurring": _RECURRING}
_PRODUCT_FIELDS = ("active", "description", "expand", "images", "marketing_features",
                   "metadata", "name", "package_dimensions", "shippable",
                   "statement_descriptor", "tax_code", "unit_label", "url")
_LIST = ("created", "ending_before", "expand", "limit", "starting_after")

SUPPORTED: dict[type, Supported] = {
    sp.ProductCreateParams: {**_all(*_PRODUCT_FIELDS, "id", "type"),
                             "default_price_data": _PRICE_DATA},
    sp.ProductUpdateParams: _all(*_PRODUCT_FIELDS, "default_price"),
    sp.PriceCreateParams: {
        **_PRICE_DATA, **_all("active", "expand", "lookup_key", "nickname", "product",
                              "transfer_lookup_key"),
        "product_data": _all("active", "id", "metadata", "name", "statement_descriptor",
                             "tax_code", "unit_label")},
    sp.PriceUpdateParams: _all("active", "expand", "lookup_key", "metadata", "nickname",
                               "tax_behavior", "transfer_lookup_key"),
    sp.PriceListParams: _all(*_LIST, "active", "currency", "lookup_keys", "product", "type"),
    sp.PaymentIntentRetrieveParams: _all("expand"),
    sp.PaymentIntentListParams: _all(*_LIST, "customer"),
    sp.WebhookEndpointCreateParams: _all("api_version", "description", "enabled_events",
                                         "expand", "metadata", "url"),
    sp.checkout.SessionCreateParams: {
        **_all("cancel_url", "client_reference_id", "customer_email", "expand", "expires_at",
               "locale", "metadata", "mode", "success_url", "ui_mode"),
        "line_items": {"price": ALL, "quantity": ALL, "price_data": {
            **_PRICE_DATA, "product": ALL, "product_data": _all("name")}},
        "payment_intent_data": _all("description", "metadata", "receipt_email")},
    sp.checkout.SessionListParams: {**_all(*_LIST, "payment_intent", "status"),
                                    "customer_details": _all("email")},
}


def refuse_unsupported(params: dict[str, Any], params_type: type) -> None:
    supported = SUPPORTED.get(params_type)
    if supported is not None:
        _check(params, supported, "")


def _check(value: Any, supported: Supported, path: str) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, supported, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        return  # e.g. `metadata=""` to unset: a value, not a hash of parameters
    for key, item in value.items():
        name = f"{path}[{key}]" if path else key
        if key not in supported:
            raise StripeApiError(
                400, f"The offline sandbox does not implement the parameter `{name}` "
                "(Stripe accepts it here). Leave it out, or try this call in Stripe's test "
                "mode.", param=name, code="parameter_unknown", stored=False)
        if supported[key] is not ALL:
            _check(item, supported[key], name)
