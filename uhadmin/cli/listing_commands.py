"""`uhadmin listings ...`: create, list, show, edit, review and delete listings from a shell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from uhadmin.cli.common import (
    COUNT,
    CURRENCY,
    ROW_ID,
    emit,
    handles_errors,
    json_option,
    main_group,
    run_with_services,
    settings_for,
    wants_json,
)
from uhadmin.cli.offline_commands import catalog_write, record_offline
from uhadmin.domain.listing import (
    Listing,
    ListingChanges,
    ListingQuery,
    ListingStatus,
    NewListing,
    SortKey,
    SyncState,
)
from uhadmin.errors import ValidationError
from uhadmin.money import format_money, format_plain, is_known_currency, parse_money

if TYPE_CHECKING:
    from uhadmin.bootstrap import Services

_STATUS_CHOICE = click.Choice([status.value for status in ListingStatus], case_sensitive=False)
_SYNC_CHOICE = click.Choice([state.value for state in SyncState], case_sensitive=False)
_SORT_CHOICE = click.Choice([key.value for key in SortKey], case_sensitive=False)


def listing_json(listing: Listing) -> dict[str, Any]:
    """A listing as JSON-ready data: enums as their values, times as ISO 8601."""
    return {
        "id": listing.id,
        "title": listing.title,
        # None when the stored currency is not one Stripe knows: no major units to show.
        "price": (format_plain(listing.price_minor, listing.currency)
                  if is_known_currency(listing.currency.strip().lower()) else None),
        "price_minor": listing.price_minor,
        "currency": listing.currency,
        "status": listing.status.value,
        "sync_state": listing.sync_state.value,
        "version": listing.version,
        "description": listing.description,
        "image_urls": list(listing.image_urls),
        "seller_contact": listing.seller_contact,
        "category": listing.category,
        "condition": listing.condition,
        "rejection_reason": listing.rejection_reason,
        "stripe_product_id": listing.stripe_product_id,
        "stripe_price_id": listing.stripe_price_id,
        "sync_error": listing.sync_error,
        "created_at": _iso(listing.created_at),
        "updated_at": _iso(listing.updated_at),
        "created_by": listing.created_by,
        "updated_by": listing.updated_by,
        "last_synced_at": _iso(listing.last_synced_at),
        "needs_fixing": listing.needs_fixing,
        "problems": [{"field": p.field, "rule": p.rule} for p in listing.problems],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def listing_line(listing: Listing) -> str:
    """One line per listing, id first: what `add`, `update`, `status` and `list` print."""
    price = format_money(listing.price_minor, listing.currency)
    line = (f"{listing.id}\t{listing.status.value}\t{listing.sync_state.value}\t"
            f"{price}\t{listing.title}")
    if listing.needs_fixing:
        line += f"\tneeds fixing: {_problems_text(listing)}"
    return line


def _problems_text(listing: Listing) -> str:
    return "; ".join(str(problem) for problem in listing.problems)


def listing_details(listing: Listing) -> str:
    data = listing_json(listing)
    data["price"] = format_money(listing.price_minor, listing.currency)
    data["image_urls"] = ", ".join(listing.image_urls)
    del data["needs_fixing"], data["problems"]
    if listing.needs_fixing:
        # First, where a person looks: what must be fixed before it can go to Stripe.
        data = {"needs fixing": _problems_text(listing), **data}
    width = max(len(key) for key in data)
    return "\n".join(f"{key:<{width}}  {'' if value is None else value}"
                     for key, value in data.items())


_offline_option = click.option(
    "--offline", is_flag=True,
    help="Record the change in the offline copy (`uhadmin offline push` sends it).")


def _write(ctx: click.Context, listing_id: int, work: Any, work_offline: Any,
           as_json: bool) -> None:
    """Run a listing write on the catalog, or with --offline record it in the copy."""
    if work_offline is None:
        listing = catalog_write(ctx, work)
        emit(ctx, listing_json(listing), lambda: listing_line(listing), as_json=as_json)
        return
    listing = record_offline(ctx, listing_id, work_offline)
    emit(ctx, {**listing_json(listing), "offline": True},
         lambda: f"{listing_line(listing)}\t(offline: `uhadmin offline push` sends it)",
         as_json=as_json)


@main_group.group("listings")
def listings_group() -> None:
    """Create, find, edit and review listings."""


@listings_group.command("add")
@click.option("--title", required=True, help="Product name shown to buyers.")
@click.option("--price", "price_text", required=True, help="Price like 12.50 (no grouping).")
@click.option("--currency", type=CURRENCY, default=None,
              help="ISO code; default UHADMIN_CURRENCY or usd.")
@click.option("--description", default="", help="Longer text (Stripe allows 40,000 chars).")
@click.option("--image", "images", multiple=True, help="Image URL (repeat for several, max 8).")
@click.option("--status", "status", type=_STATUS_CHOICE, default=ListingStatus.DRAFT.value,
              show_default=True,
              help="Walk the review workflow up to this status, each step recorded.")
@json_option
@click.pass_context
@handles_errors
def add_listing(ctx: click.Context, title: str, price_text: str, currency: str | None,
                description: str, images: tuple[str, ...], status: str,
                as_json: bool) -> None:
    """Create a listing and print it (id first)."""

    async def work(services: Services) -> Listing:
        code = currency if currency is not None else services.settings.currency
        new = NewListing(title=title, price_minor=parse_money(price_text, code),
                         currency=code, description=description, image_urls=images,
                         status=ListingStatus(status.lower()))
        return await services.listings.create(new, actor=services.settings.actor)

    listing = catalog_write(ctx, work)
    emit(ctx, listing_json(listing), lambda: listing_line(listing), as_json=as_json)


@listings_group.command("list")
@click.option("--status", "statuses", type=_STATUS_CHOICE, multiple=True,
              help="Only these statuses (repeatable).")
@click.option("--search", default="", help="Words in title or description; last may be a prefix.")
@click.option("--sync-state", "sync_states", type=_SYNC_CHOICE, multiple=True,
              help="Only these Stripe sync states (repeatable).")
@click.option("--needs-fixing", is_flag=True,
              help="Only listings that break a rule (field and rule shown on each line).")
@click.option("--sort", type=_SORT_CHOICE, default=SortKey.UPDATED.value, show_default=True)
@click.option("--ascending", is_flag=True, help="Smallest / oldest / A first.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=COUNT, default=0, show_default=True)
@json_option
@click.pass_context
@handles_errors
def list_listings(ctx: click.Context, statuses: tuple[str, ...], search: str,
                  sync_states: tuple[str, ...], needs_fixing: bool, sort: str,
                  ascending: bool, limit: int, offset: int, as_json: bool) -> None:
    """List listings, newest change first: id, status, sync state, price, title."""
    query = ListingQuery(
        search=search,
        statuses=frozenset(ListingStatus(s.lower()) for s in statuses),
        sync_states=frozenset(SyncState(s.lower()) for s in sync_states),
        needs_fixing=needs_fixing, sort=SortKey(sort.lower()), descending=not ascending,
        offset=offset, limit=limit,
    )
    # A catalog at this uhadmin's schema is read with SQLAlchemy Core alone: a one-shot
    # list then starts in a fraction of the time the services take to load. Anything else
    # (no catalog yet, an older schema to migrate) goes through the services, as before.
    from uhadmin.services.core_read import read_listing_page

    page = read_listing_page(settings_for(ctx).database_url, query)
    if page is None:
        page = run_with_services(ctx, lambda services: services.listings.search(query))
    def text() -> str:
        lines = [listing_line(listing) for listing in page.items]
        shown = f"{offset + 1}-{offset + len(page.items)}" if page.items else "none"
        broken = sum(listing.needs_fixing for listing in page.items)
        note = f"; {broken} shown need fixing" if broken and not needs_fixing else ""
        return "\n".join([*lines, f"({shown} of {page.total} listings{note})"])

    emit(ctx, {"total": page.total, "offset": page.offset,
               "items": [listing_json(listing) for listing in page.items]},
         text, as_json=as_json)


@listings_group.command("show")
@click.argument("listing_id", type=ROW_ID)
@json_option
@click.pass_context
@handles_errors
def show_listing(ctx: click.Context, listing_id: int, as_json: bool) -> None:
    """Show every field of one listing."""
    listing = run_with_services(ctx, lambda services: services.listings.get(listing_id))
    emit(ctx, listing_json(listing), lambda: listing_details(listing), as_json=as_json)


@listings_group.command("update")
@click.argument("listing_id", type=ROW_ID)
@click.option("--title", default=None)
@click.option("--price", "price_text", default=None, help="New price like 12.50.")
@click.option("--currency", type=CURRENCY, default=None,
              help="New ISO currency code (the price is read in it).")
@click.option("--description", default=None)
@click.option("--image", "images", multiple=True, help="Replace the images (repeatable).")
@_offline_option
@json_option
@click.pass_context
@handles_errors
def update_listing(ctx: click.Context, listing_id: int, title: str | None,
                   price_text: str | None, currency: str | None, description: str | None,
                   images: tuple[str, ...], offline: bool, as_json: bool) -> None:
    """Edit a listing (saved over the version read just before)."""
    if (title is None and price_text is None and currency is None and description is None
            and not images):
        raise ValidationError.single(
            "changes",
            "nothing to change: give --title, --price, --currency, --description or --image")

    def changes_to(current: Listing) -> ListingChanges:
        code = currency.strip().lower() if currency is not None else current.currency
        return ListingChanges(
            title=title, description=description, image_urls=images or None,
            currency=code if currency is not None else None,
            price_minor=(parse_money(price_text, code) if price_text is not None else None),
        )

    async def work(services: Services) -> Listing:
        current = await services.listings.get(listing_id)
        return await services.listings.update(
            listing_id, changes_to(current), expected_version=current.version,
            actor=services.settings.actor)

    async def work_offline(listings: Any, current: Listing, actor: str) -> Listing:
        return await listings.update(listing_id, changes_to(current),
                                     expected_version=current.version, actor=actor)

    _write(ctx, listing_id, work, work_offline if offline else None, as_json)


@listings_group.command("status")
@click.argument("listing_id", type=ROW_ID)
@click.argument("new_status", type=_STATUS_CHOICE)
@click.option("--reason", default="",
              help="Why; required for rejected (the seller sees it), kept in the history.")
@_offline_option
@json_option
@click.pass_context
@handles_errors
def change_listing_status(ctx: click.Context, listing_id: int, new_status: str, reason: str,
                          offline: bool, as_json: bool) -> None:
    """Move a listing through the review workflow: draft -> pending_review -> approved |
    rejected (needs --reason); rejected -> draft (the seller fixes it); approved -> archived;
    archived -> approved."""
    if new_status.lower() == ListingStatus.REJECTED and not reason.strip():
        # Checked before anything starts; the service refuses it too, for every other path.
        raise ValidationError.single("--reason", "is required to reject a listing "
                                                 "(the seller sees it)")

    async def work(services: Services) -> Listing:
        return await services.listings.change_status(
            listing_id, ListingStatus(new_status.lower()), actor=services.settings.actor,
            reason=reason)

    async def work_offline(listings: Any, current: Listing, actor: str) -> Listing:
        return await listings.change_status(listing_id, ListingStatus(new_status.lower()),
                                            actor=actor, reason=reason)

    _write(ctx, listing_id, work, work_offline if offline else None, as_json)


@listings_group.command("delete")
@click.argument("listing_id", type=ROW_ID)
@json_option
@click.pass_context
@handles_errors
def delete_listing(ctx: click.Context, listing_id: int, as_json: bool) -> None:
    """Delete a draft that never went to review or Stripe."""

    async def work(services: Services) -> None:
        await services.listings.delete_draft(listing_id, actor=services.settings.actor)

    catalog_write(ctx, work)
    emit(ctx, {"deleted": listing_id}, f"deleted listing {listing_id}", as_json=as_json)


_DONE_WORDS = {ListingStatus.PENDING_REVIEW: "Submitted for review",
               ListingStatus.APPROVED: "Approved", ListingStatus.REJECTED: "Rejected",
               ListingStatus.ARCHIVED: "Archived", ListingStatus.DRAFT: "Returned to draft"}


@listings_group.command("bulk-status")
@click.option("--where-status", "statuses", type=_STATUS_CHOICE, multiple=True,
              help="Act on listings in this status (repeatable).")
@click.option("--search", default="", help="Only listings matching these words.")
@click.option("--where-sync-state", "sync_states", type=_SYNC_CHOICE, multiple=True,
              help="Only these Stripe sync states (repeatable).")
@click.option("--to", "new_status", type=_STATUS_CHOICE, required=True,
              help="The status to move every match to.")
@click.option("--reason", default="", help="Why; required with --to rejected.")
@json_option
@click.pass_context
@handles_errors
def bulk_status(ctx: click.Context, statuses: tuple[str, ...], search: str,
                sync_states: tuple[str, ...], new_status: str, reason: str,
                as_json: bool) -> None:
    """Move every listing a filter matches (as `list` would find them, all pages) to one
    status, in batches; listings that cannot move are skipped and counted by reason.
    Progress goes to stderr. The GUI's Edit menu cannot undo this, but each listing's
    history records it."""
    from uhadmin.domain.bulk import BulkProgress, skip_summary

    target = ListingStatus(new_status.lower())
    if target == ListingStatus.REJECTED and not reason.strip():
        raise ValidationError.single("--reason", "is required to reject listings "
                                                 "(the sellers see it)")
    if not statuses and not search.strip() and not sync_states:
        raise ValidationError.single(
            "--where-status", "give a filter (--where-status, --search or "
                              "--where-sync-state): every listing at once is refused")
    query = ListingQuery(search=search,
                         statuses=frozenset(ListingStatus(s.lower()) for s in statuses),
                         sync_states=frozenset(SyncState(s.lower()) for s in sync_states))

    def progress(step: BulkProgress) -> None:
        click.echo(f"{step.done:,}/{step.total:,} looked at, {step.changed:,} changed",
                   err=True)

    async def work(services: Services) -> Any:
        return await services.listings.change_status_matching(
            query, target, actor=services.settings.actor, reason=reason,
            on_progress=None if wants_json(ctx, as_json) else progress)

    outcome = catalog_write(ctx, work)
    skipped: dict[str, int] = {}
    for why in outcome.skipped.values():
        skipped[why] = skipped.get(why, 0) + 1
    summary = f"{_DONE_WORDS[target]} {len(outcome.changed):,} of {outcome.total:,} matching"
    if outcome.skipped:
        summary += f"; {skip_summary(outcome.skipped)}"
    emit(ctx, {"matched": outcome.total, "changed": len(outcome.changed),
               "skipped": skipped, "to": target.value}, summary, as_json=as_json)
