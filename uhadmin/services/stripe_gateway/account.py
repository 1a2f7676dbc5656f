"""GET /v1/account: the account a key belongs to (sync's account check, "Test connection")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from stripe import RequestOptions

from uhadmin.errors import UhadminError
from uhadmin.services.stripe_gateway.client import GatewayConfig, StripeGateway


@dataclass(frozen=True)
class RemoteAccount:
    id: str
    name: str  # the Dashboard's display name, else the business name ("" when neither)


async def retrieve_account(gateway: StripeGateway) -> RemoteAccount:
    """The account behind the gateway's key (one read; retried like every call)."""
    account = await gateway.call("accounts.retrieve", lambda client, options:
                                 client.v1.accounts.retrieve_current_async(None, options))
    settings = getattr(account, "settings", None)
    dashboard = getattr(settings, "dashboard", None) if settings else None
    profile = getattr(account, "business_profile", None)
    name = (getattr(dashboard, "display_name", None) if dashboard else None) or \
        (getattr(profile, "name", None) if profile else None) or ""
    return RemoteAccount(id=account.id, name=name)


def checking_gateway(api_key: str, api_base: str | None) -> StripeGateway:
    """A gateway for one connection check: no pacing, one attempt, a 15 s wait."""
    return StripeGateway(GatewayConfig(api_key=api_key, api_base=api_base, rate_limit=None,
                                       max_attempts=1, read_timeout=15.0))


async def _one_product(client: Any, options: Any) -> Any:
    return await client.v1.products.list_async({"limit": 1}, cast(RequestOptions, options))


async def describe_account(gateway: StripeGateway) -> str:
    """"account acct_… (its name)", or what a Stripe-compatible server without the account
    endpoint is; then one list call proves the key works there and sets `gateway.mode`.
    Raises UhadminError when the key is refused or the server cannot be reached."""
    try:
        found = await retrieve_account(gateway)
        account = f"account {found.id}" + (f" ({found.name})" if found.name else "")
    except UhadminError as error:
        if getattr(error, "code", None) in ("authentication", "permission"):
            raise
        account = "no account endpoint (a Stripe-compatible server)"
    await gateway.call("products.list", _one_product)
    return account
