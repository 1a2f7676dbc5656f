"""Push one listing to Stripe as planned, recovering from earlier attempts of unknown outcome."""

from __future__ import annotations

from uhadmin.domain.sync_failures import NEEDS_FIXING, product_deleted_error
from uhadmin.errors import StripeRefusedError, StripeUnavailableError
from uhadmin.services.stripe_gateway.catalog import CatalogGateway, RemoteProduct
from uhadmin.services.stripe_log_context import serving
from uhadmin.services.sync.planning import (
    PushOutcome,
    PushWork,
    matches,
    replan,
)
from uhadmin.services.sync.results import short


class StripePusher:
    """Sends the calls one plan needs (at most three), with keys derived from the revision."""

    def __init__(self, catalog: CatalogGateway) -> None:
        self.catalog = catalog

    async def push(self, work: PushWork, plan: str, catalog_id: str) -> PushOutcome:
        """The outcome; Stripe refusing is a failed outcome, Stripe not answering an
        offline one (ModeMismatchError propagates: the whole run must stop)."""
        # Tags this push's Stripe log entries and keeps their Request-Ids for the audit row.
        request_ids: list[str] = []
        with serving(listing_id=work.listing_id, listing_revision=work.version,
                     request_ids=request_ids):
            outcome = await self._push_or_fail(work, plan, catalog_id)
        outcome.request_ids = tuple(request_ids)
        return outcome

    async def _push_or_fail(self, work: PushWork, plan: str, catalog_id: str) -> PushOutcome:
        if plan == "invalid":
            return PushOutcome(work.listing_id, work.version, "failed",
                               error=NEEDS_FIXING + "; ".join(work.problems))
        try:
            return await self._push_plan(work, plan, catalog_id)
        except StripeUnavailableError as error:
            return PushOutcome(work.listing_id, work.version, "failed", error=str(error),
                               offline=True)
        except StripeRefusedError as error:
            if (error.code == "resource_missing" and work.product_id
                    and work.product_id in str(error)):
                # Retrying cannot bring it back: say so, with the ways out.
                return PushOutcome(work.listing_id, work.version, "failed",
                                   error=product_deleted_error(work.product_id))
            where = f" ({error.param})" if error.param else ""
            return PushOutcome(work.listing_id, work.version, "failed",
                               error=short(f"Stripe refused{where}: {error}"))

    async def _push_plan(self, work: PushWork, plan: str, catalog_id: str) -> PushOutcome:
        desired = work.desired
        done = PushOutcome(work.listing_id, work.version, "unchanged", work.fingerprint,
                           work.product_id, work.price_id, work.pushed_price,
                           work.pushed_active)
        if plan in ("unchanged", "not_published"):
            done.kind = plan
            if plan == "not_published":
                done.fingerprint = work.pushed_fingerprint
            return done
        product_id, price_id = work.product_id, work.price_id
        pushed_price, pushed_active = work.pushed_price, work.pushed_active
        recovered = False
        if plan == "create":
            remote = None
            if work.uncertain:
                # An earlier attempt's outcome is unknown (or older than the 24 h a key
                # lives): look the product up by its custom id before creating anything.
                remote = await self.catalog.retrieve_product(desired.product_id)
            if remote is None:
                if not desired.active:
                    done.kind, done.fingerprint = "not_published", work.pushed_fingerprint
                    return done
                operation = work.operation("create")
                try:
                    remote = await self.catalog.create_product(
                        desired.product_id, desired.fields, desired.unit_amount,
                        desired.currency, key=work.key(catalog_id, "create"))
                except StripeRefusedError as error:
                    if error.code != "resource_already_exists":
                        raise
                    remote = await self.catalog.retrieve_product(desired.product_id)
                    if remote is None:
                        raise
                else:
                    return _adopted(done, remote, "created", {operation: remote.id})
            if matches(remote, desired):
                return _adopted(done, remote, "created", {})
            recovered = True
            product_id, price_id = remote.id, remote.default_price_id
            pushed_active = remote.active
            # A price without an amount (tiered, set elsewhere) is no price this listing had.
            pushed_price = ((remote.default_price.unit_amount, remote.default_price.currency)
                            if remote.default_price
                            and remote.default_price.unit_amount is not None else None)
            plan = replan(price_id, pushed_price, pushed_active, desired)
        assert product_id is not None
        if plan == "price_change":
            # Unsure which prices Stripe holds: an earlier attempt's outcome is unknown,
            # recovery found the product, or reconcile linked a product it did not make.
            unsure = recovered or bool(work.uncertain) or work.pushed_fingerprint is None
            return await self._change_price(work, catalog_id, product_id, price_id, unsure)
        operations: dict[str, str | None] = {}
        remote = await self.catalog.update_product(
            product_id, desired.fields, active=desired.active,
            key=work.key(catalog_id, "update"))
        operations[work.operation("update")] = remote.id
        kind = "archived" if (pushed_active is not False and not desired.active) else "updated"
        return PushOutcome(work.listing_id, work.version, kind, work.fingerprint, product_id,
                           price_id, (desired.unit_amount, desired.currency), desired.active,
                           operations, note=_archived_note(desired.active, price_id))

    async def _change_price(self, work: PushWork, catalog_id: str, product_id: str,
                            old_price_id: str | None, uncertain: bool) -> PushOutcome:
        """New price, made the default, then every other active price archived: after an
        attempt of unknown outcome more than one old price may be active, so that case
        lists them (one call) instead of trusting the one the database remembers."""
        desired = work.desired
        operations: dict[str, str | None] = {}
        note = ""
        price = None
        lookup_key = f"uh_{catalog_id}_{work.listing_id}_r{work.version}_{work.fingerprint[:12]}"
        if work.operation("price_create") in work.uncertain:
            price = await self.catalog.find_price_by_lookup_key(lookup_key)
        if price is None:
            price = await self.catalog.create_price(
                product_id, desired.unit_amount, desired.currency, lookup_key=lookup_key,
                metadata=desired.fields.metadata, key=work.key(catalog_id, "price_create"))
        operations[work.operation("price_create")] = price.id
        remote = await self.catalog.update_product(
            product_id, desired.fields, active=desired.active, default_price=price.id,
            key=work.key(catalog_id, "price_default"))
        operations[work.operation("price_default")] = remote.id
        stale = {old_price_id} - {price.id} if old_price_id is not None else set()
        if uncertain:
            stale |= {other.id for other in await self.catalog.list_active_prices(product_id)
                      if other.id != price.id}
        for number, stale_id in enumerate(sorted(stale)):
            suffix = "" if number == 0 else f"-{stale_id}"
            try:
                await self.catalog.archive_price(
                    stale_id, key=work.key(catalog_id, "price_archive") + suffix)
                operations[work.operation("price_archive")] = stale_id
            except StripeRefusedError as error:
                note = f"old price {stale_id} left active: {error}"
        desired_note = _archived_note(desired.active, price.id)
        note = "; ".join(part for part in (note, desired_note) if part)
        return PushOutcome(work.listing_id, work.version, "price_changed", work.fingerprint,
                           product_id, price.id, (desired.unit_amount, desired.currency),
                           desired.active, operations, note=note)


def _archived_note(active: bool, price_id: str | None) -> str:
    if active or not price_id:
        return ""
    return (f"product archived; its default price {price_id} stays active because Stripe "
            "refuses to archive a product's default price (checkout refuses the archived "
            "product anyway)")


def _adopted(done: PushOutcome, remote: RemoteProduct, kind: str,
             operations: dict[str, str | None]) -> PushOutcome:
    price = remote.default_price
    done.kind = kind
    done.product_id = remote.id
    done.price_id = remote.default_price_id
    done.price = ((price.unit_amount, price.currency)
                  if price and price.unit_amount is not None else None)
    done.active = remote.active
    done.operations = operations
    return done
