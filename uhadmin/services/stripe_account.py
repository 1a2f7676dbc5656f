"""The Stripe account a catalog belongs to: recorded at the first sync, checked before each.

    guard = AccountGuard(db, gateway, environment="sandbox")
    await guard.ensure()                 # AccountMismatchError when the key points elsewhere
    await guard.use_current("alice")     # a person re-points the catalog, deliberately

The record is one app_settings row (JSON: id, name, environment, when, who), so a catalog
shared by a team agrees on its account. A key is never stored, only the account's `acct_` id.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from uhadmin.domain.stripe_account import StripeAccount, mismatch_message
from uhadmin.errors import AccountMismatchError
from uhadmin.services.database import Database
from uhadmin.services.listing_writes import upsert_for, utcnow
from uhadmin.services.stripe_gateway.account import retrieve_account
from uhadmin.services.stripe_gateway.client import StripeGateway
from uhadmin.services.tables import SettingRow

SETTINGS = SettingRow.__table__
ACCOUNT_SETTING = "stripe_account"


class AccountGuard:
    """Stops work against a Stripe account other than the catalog's (see module docstring)."""

    def __init__(self, db: Database, gateway: StripeGateway, *, environment: str) -> None:
        self._db = db
        self.gateway = gateway
        self.environment = environment  # "sandbox" | "test" | "live"
        self._verified: StripeAccount | None = None  # this gateway's key, checked once

    async def current(self) -> StripeAccount:
        """The account the key points at now (one GET /v1/account)."""
        remote = await retrieve_account(self.gateway)
        return StripeAccount(remote.id, remote.name, self.environment)

    async def recorded(self) -> StripeAccount | None:
        """The account this catalog was synced with (None before its first sync)."""
        text = await self._db.run(lambda session: session.execute(
            select(SETTINGS.c.value).where(SETTINGS.c.key == ACCOUNT_SETTING)
        ).scalar_one_or_none())
        if not text:
            return None
        try:
            data = json.loads(text)
            return StripeAccount(str(data["id"]), str(data.get("name", "")),
                                 str(data["environment"]),
                                 datetime.fromisoformat(data["recorded_at"]),
                                 str(data.get("recorded_by", "")))
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable record is recorded afresh, as on a first sync

    async def ensure(self) -> StripeAccount:
        """The key's account, once it is known to be the catalog's (recorded on the first
        sync); AccountMismatchError otherwise. One call per gateway while it matches."""
        if self._verified is not None:
            return self._verified
        current = await self.current()
        recorded = await self.recorded()
        if recorded is None:
            await self._record(current, "first sync")
        elif not recorded.same_account(current):
            raise AccountMismatchError(mismatch_message(recorded, current))
        self._verified = current
        return current

    def check_again(self) -> None:
        """Ask Stripe again at the next `ensure` (the key or the record changed)."""
        self._verified = None

    async def use_current(self, actor: str) -> StripeAccount:
        """Re-point the catalog at the key's account (a deliberate choice by `actor`)."""
        current = await self.current()
        await self._record(current, actor)
        self._verified = current
        return current

    async def _record(self, account: StripeAccount, actor: str) -> None:
        value = json.dumps({"id": account.id, "name": account.name,
                            "environment": account.environment,
                            "recorded_at": utcnow().isoformat(), "recorded_by": actor})

        def write(session: Session) -> None:
            insert = upsert_for(session.get_bind().dialect.name)
            session.execute(insert(SettingRow).values(key=ACCOUNT_SETTING, value=value)
                            .on_conflict_do_update(index_elements=[SettingRow.key],
                                                   set_={"value": value}))

        await self._db.run(write, write=True)
