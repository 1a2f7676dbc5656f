"""GET /v1/account: the account a key belongs to (sync's account check, "Test connection")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from stripe import RequestOptions

from uhadmin.errors import UhadminError
from uhadmin.services.stripe_gateway.client import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.responses import response_field


@dataclass(frozen=True)
class RemoteAccount:
    id: str
    name: str  # the Dashboard's display name, else the business name ("" when neither)


async def retrieve_account(gateway: StripeGateway) -> RemoteAccount:
    """The account behind the gateway's key (one read; retried like every call)."""
    account = await gateway.call("accounts.retrieve", _current_account)
    settings = response_field(account, "settings")
    dashboard = response_field(settings, "dashboard") if settings else None
    profile = response_field(account, "business_profile")
    name = (response_field(dashboard, "display_name") if dashboard else None) or \
        (response_field(profile, "name") if profile else None) or ""
    return RemoteAccount(id=response_field(account, "id"), name=name)


async def _current_account(client: Any, options: Any) -> dict[str, Any]:
    """GET /v1/account through the SDK's public raw_request, read as the JSON dict: the
    request on the wire is accounts.retrieve_current's, errors are raised alike, and the
    SDK's Account classes (the largest object module it has, imported at the first typed
    account call) stay unloaded: every sync checks the account first."""
    response = await client.raw_request_async("get", "/v1/account", **options)
    return response.data


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
