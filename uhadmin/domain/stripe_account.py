"""Which Stripe account a catalog belongs to, and the rule that says a key points elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StripeAccount:
    """A Stripe account as uhadmin records it: `acct_` id, display name, and where it lives
    (`environment`: "sandbox" for the offline sandbox, "test" or "live" at Stripe)."""

    id: str
    name: str
    environment: str
    recorded_at: datetime | None = None
    recorded_by: str = ""

    def describe(self) -> str:
        where = {"sandbox": "offline sandbox", "test": "test mode",
                 "live": "LIVE mode"}.get(self.environment, self.environment)
        named = f" “{self.name}”" if self.name else ""
        return f"{self.id}{named} ({where})"

    def same_account(self, other: StripeAccount) -> bool:
        return (self.id, self.environment) == (other.id, other.environment)


def mismatch_message(recorded: StripeAccount, current: StripeAccount) -> str:
    """What the status bar, the Sync tab and the command line say when they differ."""
    return (f"Stripe account changed: this catalog was synced with {recorded.describe()}, "
            f"but the API key now points at {current.describe()}. Syncing stopped so no "
            "listing lands in the wrong account. Fix the key in Settings, or, if the new "
            "account is right, choose “Use this Stripe account” (uhadmin stripe-account "
            "use).")
