"""Which Stripe account and mode a key reaches (Settings' "Test connection"), in two calls."""

from __future__ import annotations

from typing import Any

import stripe

from uhadmin.errors import UhadminError
from uhadmin.services.stripe_gateway.client import GatewayConfig, StripeGateway


def checking_gateway(api_key: str, api_base: str | None) -> StripeGateway:
    """A gateway for one connection check: no pacing, one attempt, a 15 s wait."""
    return StripeGateway(GatewayConfig(api_key=api_key, api_base=api_base, rate_limit=None,
                                       max_attempts=1, read_timeout=15.0))


async def _current_account(client: stripe.StripeClient, options: Any) -> stripe.Account:
    return await client.v1.accounts.retrieve_current_async(None, options)


async def _one_product(client: stripe.StripeClient, options: Any) -> Any:
    return await client.v1.products.list_async({"limit": 1}, options)


async def describe_account(gateway: StripeGateway) -> str:
    """"account acct_… (its name)", or what a Stripe-compatible server without the account
    endpoint is; then one list call proves the key works there and sets `gateway.mode`.
    Raises UhadminError when the key is refused or the server cannot be reached."""
    try:
        found = await gateway.call("account.retrieve", _current_account)
        dashboard = getattr(getattr(found, "settings", None), "dashboard", None)
        name = (getattr(dashboard, "display_name", "") or "") if dashboard is not None else ""
        account = f"account {found.id}" + (f" ({name})" if name else "")
    except UhadminError as error:
        if getattr(error, "code", None) in ("authentication", "permission"):
            raise
        account = "no account endpoint (a Stripe-compatible server)"
    await gateway.call("products.list", _one_product)
    return account
