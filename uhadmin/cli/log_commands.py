"""`uhadmin log` and `uhadmin log show`: the Stripe request log in a shell (`stripe logs tail`)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import click

from uhadmin.cli.common import (
    ROW_ID,
    emit,
    handles_errors,
    json_option,
    main_group,
    run_with_services,
)
from uhadmin.domain.stripe_log import (
    StripeLogEntry,
    StripeLogFilter,
    describe_entry,
    parse_since,
)
from uhadmin.domain.stripe_snippets import SNIPPET_FORMATS, snippet
from uhadmin.errors import ValidationError

FOLLOW_POLL_S = 1.0


def entry_line(entry: StripeLogEntry) -> str:
    """One entry on one line: time, id, call, status, request id, latency, what it served."""
    when = entry.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if entry.kind == "webhook":
        verified = "verified" if entry.signature_verified else "NOT VERIFIED"
        return (f"{when}  #{entry.id:<6} webhook {entry.event_type or '?'} "
                f"{entry.event_id or ''} ({verified}) {entry.effect}").rstrip()
    status = "---" if entry.status in (None, 0) else str(entry.status)
    parts = [f"{when}  #{entry.id:<6} {entry.method:<6} {entry.path}  {status}",
             entry.request_id or "-",
             f"{entry.latency_ms:.0f} ms" if entry.latency_ms is not None else "",
             f"retry {entry.retry}" if entry.retry else ""]
    if entry.listing_id is not None:
        revision = f" rev {entry.listing_revision}" if entry.listing_revision else ""
        parts.append(f"listing {entry.listing_id}{revision}")
    if entry.attempt_id is not None:
        parts.append(f"attempt {entry.attempt_id}")
    if entry.served:
        parts.append(f"[{entry.served}]")
    if entry.error_type:
        parts.append(f"{entry.error_code or entry.error_type}: {entry.error_message or ''}")
    return "  ".join(part for part in parts if part).rstrip()


@main_group.group("log", invoke_without_command=True)
@click.option("--listing", "listing_id", type=ROW_ID, default=None,
              help="Only the calls for this listing.")
@click.option("--attempt", "attempt_id", type=ROW_ID, default=None,
              help="Only the calls for this checkout attempt.")
@click.option("--errors", is_flag=True, help="Only failed calls (4xx, 5xx, no answer).")
@click.option("--since", default=None, help="Only the last DURATION (90s, 15m, 2h, 1d).")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=50, show_default=True,
              help="At most N entries.")
@click.option("--follow", is_flag=True,
              help="Keep printing new entries as they arrive (Ctrl-C stops).")
@json_option
@click.pass_context
@handles_errors
def log_command(ctx: click.Context, listing_id: int | None, attempt_id: int | None,
                errors: bool, since: str | None, limit: int, follow: bool,
                as_json: bool) -> None:
    """Every Stripe request uhadmin sent and every webhook it received, newest first.

    --json prints one object {"items": [...]}; with --follow each later entry follows as
    one JSON object per line.
    """
    if ctx.invoked_subcommand is not None:
        return
    since_time = datetime.now(UTC) - parse_since(since, field_name="--since") if since \
        else None
    where = StripeLogFilter(listing_id=listing_id, attempt_id=attempt_id, errors_only=errors,
                            since=since_time)

    async def work(services):
        entries = await services.stripe_log.page(where, limit=limit)
        items = [entry.as_json() for entry in entries]
        text = "\n".join(entry_line(entry) for entry in entries) or "no Stripe calls logged"
        emit(ctx, {"items": items}, text, as_json=as_json)
        if follow:
            await _follow(services, where, entries[0].id if entries else 0,
                          as_json=as_json or bool(ctx.find_root().obj.get("json")))

    try:
        run_with_services(ctx, work)
    except KeyboardInterrupt:
        pass


async def _follow(services, where: StripeLogFilter, newest: int, *, as_json: bool) -> None:
    while True:
        await asyncio.sleep(FOLLOW_POLL_S)
        fresh = await services.stripe_log.page(where, after_id=newest, limit=1000)
        for entry in reversed(fresh):  # oldest first, as they happened
            click.echo(json.dumps(entry.as_json()) if as_json else entry_line(entry))
            newest = max(newest, entry.id)


@log_command.command("show")
@click.argument("entry_id", type=ROW_ID)
@click.option("--as", "kind", type=click.Choice(SNIPPET_FORMATS), default=None,
              help="Print the request as a runnable curl, Node or Python snippet.")
@json_option
@click.pass_context
@handles_errors
def show_command(ctx: click.Context, entry_id: int, kind: str | None, as_json: bool) -> None:
    """One entry in full: request, response excerpt, error, and what it served."""

    async def work(services):
        entry = await services.stripe_log.entry(entry_id)
        if kind is not None:
            try:
                click.echo(snippet(entry, kind), nl=False)
            except ValueError as problem:
                raise ValidationError.single("--as", str(problem)) from None
            return
        payload = {**entry.as_json(), "response_excerpt": entry.response_excerpt}
        emit(ctx, payload, entry_line(entry) + "\n\n" + describe_entry(entry), as_json=as_json)

    run_with_services(ctx, work)
