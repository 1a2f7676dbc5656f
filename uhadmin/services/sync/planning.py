"""What a push of one listing does, decided by pure functions (no database, no Stripe)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from uhadmin.domain.stripe_rule import stripe_holds
from uhadmin.services.fingerprint import DesiredProduct, desired_product
from uhadmin.services.stripe_gateway.catalog import RemotePrice, RemoteProduct

# The Stripe operations each plan may send, so their idempotency keys are saved first.
OPERATIONS_OF_PLAN: Mapping[str, tuple[str, ...]] = {
    "create": ("create",),
    "price_change": ("price_create", "price_default", "price_archive"),
    "archive": ("update",), "relist": ("update",), "update": ("update",),
}
# A create whose earlier attempt is uncertain may turn into any of these.
RECOVERY_OPERATIONS = ("update", "price_create", "price_default", "price_archive")

# How each plan is counted in a report.
REPORT_KIND_OF_PLAN: Mapping[str, str] = {
    "create": "created", "price_change": "price_changed", "archive": "archived",
    "relist": "updated", "update": "updated",
}


@dataclass
class PushWork:
    """One claimed listing: what it is now, what Stripe had, what is uncertain."""

    listing_id: int
    version: int
    title: str
    desired: DesiredProduct
    fingerprint: str
    product_id: str | None
    price_id: str | None
    pushed_fingerprint: str | None
    pushed_price: tuple[int, str] | None
    pushed_active: bool | None
    needs_stripe: bool
    # Operations saved earlier for this listing that never completed: their outcome is
    # unknown (crash, 500, dropped reply), so recovery looks before it creates.
    uncertain: frozenset[str] = frozenset()
    # Rules the row breaks ("field: rule"): such a row is never sent to Stripe.
    problems: tuple[str, ...] = ()

    def key(self, catalog_id: str, operation: str) -> str:
        return (f"uh-{catalog_id}-{self.listing_id}-r{self.version}-{operation}-"
                f"{self.fingerprint[:16]}")

    def operation(self, name: str) -> str:
        return f"{name}:{self.fingerprint[:16]}"


@dataclass
class PushOutcome:
    """What happened to one listing at Stripe, written back in one transaction."""

    listing_id: int
    version: int
    kind: str  # created | updated | price_changed | archived | unchanged | not_published | failed
    fingerprint: str | None = None
    product_id: str | None = None
    price_id: str | None = None
    price: tuple[int, str] | None = None
    active: bool | None = None
    operations: dict[str, str | None] = field(default_factory=dict)  # operation -> result id
    error: str = ""
    note: str = ""
    request_ids: tuple[str, ...] = ()  # Stripe's, for the audit row and the Stripe log
    offline: bool = False


def work_for(row: Any, catalog_id: str, uncertain: frozenset[str] = frozenset(),
             problems: tuple[str, ...] = ()) -> PushWork:
    """The push work for a listings row (any object with the columns as attributes)."""
    desired = desired_product(row, catalog_id)
    pushed_price = ((row.pushed_price_minor, row.pushed_currency)
                    if row.pushed_price_minor is not None and row.pushed_currency else None)
    return PushWork(
        listing_id=row.id, version=row.version, title=row.title or "", desired=desired,
        fingerprint=desired.fingerprint, product_id=row.stripe_product_id,
        price_id=row.stripe_price_id, pushed_fingerprint=row.pushed_fingerprint,
        pushed_price=pushed_price, pushed_active=row.pushed_active,
        needs_stripe=stripe_holds(row.status, published=(
            row.stripe_product_id is not None or row.pushed_fingerprint is not None)),
        uncertain=uncertain, problems=problems,
    )


def plan_for(work: PushWork) -> str:
    """What a push of this listing does: invalid | unchanged | not_published | create |
    price_change | archive | relist | update. Pure, so a dry run says exactly what a real
    run would."""
    if work.problems and work.needs_stripe:
        return "invalid"
    if work.fingerprint == work.pushed_fingerprint:
        return "unchanged"
    if work.product_id is None:
        if not work.desired.active and not work.uncertain:
            return "not_published"
        return "create"
    if work.price_id is None or work.pushed_price != (work.desired.unit_amount,
                                                       work.desired.currency):
        return "price_change"
    if work.pushed_active and not work.desired.active:
        return "archive"
    if work.pushed_active is False and work.desired.active:
        return "relist"
    return "update"


def replan(price_id: str | None, pushed_price: tuple[int, str] | None,
           pushed_active: bool | None, desired: DesiredProduct) -> str:
    """The plan once recovery has found the product Stripe already holds."""
    if price_id is None or pushed_price != (desired.unit_amount, desired.currency):
        return "price_change"
    if pushed_active and not desired.active:
        return "archive"
    return "update"


def operations_to_save(work: PushWork, plan: str) -> tuple[str, ...]:
    """Every operation whose idempotency key is stored before the first send."""
    names = OPERATIONS_OF_PLAN.get(plan, ())
    if plan == "create" and work.uncertain:
        names += RECOVERY_OPERATIONS
    return names


def matches(remote: RemoteProduct, desired: DesiredProduct) -> bool:
    """Whether the product Stripe holds is already exactly what the listing wants."""
    price: RemotePrice | None = remote.default_price
    return (remote.name == desired.fields.name
            and remote.description == desired.fields.description
            and tuple(remote.images) == tuple(desired.fields.images)
            and all(remote.metadata.get(k) == v for k, v in desired.fields.metadata.items())
            and remote.active == desired.active and price is not None
            and (price.unit_amount, price.currency) == (desired.unit_amount,
                                                        desired.currency))


def stale_prices(prices: list[RemotePrice], keep: str | None) -> list[str]:
    """The active prices of one product other than `keep` (its default): each one is a
    price a checkout could still use although the catalog no longer asks for it."""
    return sorted(price.id for price in prices if price.active and price.id != keep)
