"""GET /v1/account: the account the configured key belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from stripe import RequestOptions

from uhadmin.services.stripe_gateway.client import StripeGateway


@dataclass(frozen=True)
class RemoteAccount:
    id: str
    name: str  # the Dashboard's display name, else the business name ("" when neither)


async def retrieve_account(gateway: StripeGateway) -> RemoteAccount:
    """The account behind the gateway's key (one read; retried like every call)."""
    account = await gateway.call("accounts.retrieve", lambda client, options:
                                 client.v1.accounts.retrieve_current_async(
                                     None, cast(RequestOptions, options)))
    settings = getattr(account, "settings", None)
    dashboard = getattr(settings, "dashboard", None) if settings else None
    profile = getattr(account, "business_profile", None)
    name = (getattr(dashboard, "display_name", None) if dashboard else None) or \
        (getattr(profile, "name", None) if profile else None) or ""
    return RemoteAccount(id=account.id, name=name)
