"""`uhadmin product recreate|link|unlink`: ways out for a listing whose product was deleted."""

from __future__ import annotations

import click

from uhadmin.bootstrap import Services
from uhadmin.cli.common import (
    ROW_ID,
    emit,
    handles_errors,
    json_option,
    main_group,
    run_with_services,
)
from uhadmin.domain import Listing


@main_group.group("product")
def product_group() -> None:
    """A listing's Stripe product: re-create it, link another, or unlink it."""


def _show(ctx: click.Context, listing: Listing, done: str, as_json: bool) -> None:
    state = listing.sync_state.value + (f" ({listing.sync_error})" if listing.sync_error
                                        else "")
    emit(ctx, {"id": listing.id, "status": listing.status.value,
               "stripe_product_id": listing.stripe_product_id,
               "sync_state": listing.sync_state.value, "sync_error": listing.sync_error},
         f"listing {listing.id}: {done}; now {listing.status.value}, "
         f"product {listing.stripe_product_id or 'none'}, sync {state}", as_json=as_json)
    if listing.sync_error:
        ctx.exit(1)


@product_group.command("recreate")
@click.argument("listing_id", type=ROW_ID)
@json_option
@click.pass_context
@handles_errors
def recreate_command(ctx: click.Context, listing_id: int, as_json: bool) -> None:
    """Make a new Stripe product for LISTING_ID (its product was deleted) and sync it."""

    async def work(services: Services) -> Listing:
        return await services.reconcile.repair.recreate(listing_id)

    _show(ctx, run_with_services(ctx, work), "product re-created", as_json)


@product_group.command("link")
@click.argument("listing_id", type=ROW_ID)
@click.argument("product_id")
@json_option
@click.pass_context
@handles_errors
def link_command(ctx: click.Context, listing_id: int, product_id: str, as_json: bool) -> None:
    """Point LISTING_ID at the existing Stripe product PRODUCT_ID and sync it."""

    async def work(services: Services) -> Listing:
        return await services.reconcile.repair.link(listing_id, product_id)

    _show(ctx, run_with_services(ctx, work), f"linked to {product_id}", as_json)


@product_group.command("unlink")
@click.argument("listing_id", type=ROW_ID)
@json_option
@click.pass_context
@handles_errors
def unlink_command(ctx: click.Context, listing_id: int, as_json: bool) -> None:
    """Forget LISTING_ID's (deleted) product and take the listing off sale."""

    async def work(services: Services) -> Listing:
        return await services.reconcile.repair.unlink(listing_id)

    _show(ctx, run_with_services(ctx, work), "unlinked", as_json)
