"""`uhadmin checkout ...`: the checkout test lab from a terminal (create, wait, status, expire)."""

from __future__ import annotations

import json
import re
import webbrowser
from typing import Any

import click

from uhadmin.bootstrap import Services
from uhadmin.cli.common import (
    MAX_ID,
    emit,
    handles_errors,
    json_option,
    main_group,
    run_with_services,
)
from uhadmin.domain import CheckoutAttempt, parse_duration
from uhadmin.errors import UhadminError, ValidationError
from uhadmin.money import format_money

_LINE = re.compile(r"^\s*(\d+)\s*(?::\s*(\d+)\s*)?$")


def parse_line(text: str) -> tuple[int, int]:
    """"12" -> (12, 1); "12:3" -> (12, 3); ValidationError naming --listing otherwise."""
    found = _LINE.match(text)
    if not found or int(found.group(1)) < 1 or (found.group(2) and int(found.group(2)) < 1):
        raise ValidationError.single("--listing", f"expected ID or ID:QTY with positive whole "
                                                  f"numbers, e.g. 12 or 12:3 (got {text!r})")
    return int(found.group(1)), int(found.group(2) or 1)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def attempt_json(attempt: CheckoutAttempt) -> dict[str, Any]:
    return {
        "id": attempt.session_id, "attempt_id": attempt.id, "url": attempt.url,
        "expires_at": _iso(attempt.expires_at), "status": attempt.status,
        "payment_status": attempt.payment_status, "outcome": attempt.outcome.value,
        "decline_code": attempt.decline_code or None,
        "decline_message": attempt.decline_message or None,
        "amount_total": attempt.amount_total, "currency": attempt.currency,
        "tester": attempt.tester, "livemode": attempt.livemode,
        "created_at": _iso(attempt.created_at),
        "lines": [{"listing_id": line.listing_id, "title": line.title,
                   "quantity": line.quantity, "price_id": line.price_id,
                   "unit_amount": line.unit_amount} for line in attempt.lines],
    }


def outcome_json(attempt: CheckoutAttempt) -> dict[str, Any]:
    return {"id": attempt.session_id, "attempt_id": attempt.id,
            "outcome": attempt.outcome.value, "status": attempt.status,
            "payment_status": attempt.payment_status,
            "decline_code": attempt.decline_code or None,
            "decline_message": attempt.decline_message or None}


def attempt_text(attempt: CheckoutAttempt) -> str:
    total = (format_money(attempt.amount_total, attempt.currency)
             if attempt.amount_total is not None else "?")
    decline = f"  last decline: {attempt.decline_code}" if attempt.decline_code else ""
    return (f"#{attempt.id}  {attempt.session_id or '(no session yet)'}  "
            f"{attempt.outcome.value:<8} {total:>12}  {attempt.tester}  "
            f"expires {_iso(attempt.expires_at)}{decline}")


def _line_out(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, default=str))


@main_group.group("checkout")
def checkout_group() -> None:
    """Checkout test lab: Stripe Checkout Sessions for listings, and what became of them."""


@checkout_group.command("create")
@click.option("--listing", "listings", multiple=True, required=True, metavar="ID[:QTY]",
              help="A listing to sell, with an optional quantity; repeat for more lines.")
@click.option("--open/--no-open", "open_page", default=True, show_default=True,
              help="Open the Checkout page in the system browser.")
@click.option("--expires-in", default="30m", show_default=True,
              help="How long the session stays payable: 30m to 24h (e.g. 45m, 2h, 1h30m).")
@click.option("--tester", default=None, help="Who is testing (default: UHADMIN_ACTOR or you).")
@click.option("--wait", is_flag=True,
              help="Keep the success/cancel receiver up, print the session as a JSON line, "
                   "then wait and print the outcome as a second JSON line.")
@json_option
@click.pass_context
@handles_errors
def create_command(ctx: click.Context, listings: tuple[str, ...], open_page: bool,
                   expires_in: str, tester: str | None, wait: bool, as_json: bool) -> None:
    """Create a NEW Checkout Session (payment mode) for approved listings."""
    lines = [parse_line(text) for text in listings]
    lifetime = parse_duration(expires_in, field="--expires-in")

    async def work(services: Services) -> None:
        checkout = services.checkout
        checkout.set_opener(webbrowser.open)
        if wait:
            await checkout.start_receiver()
        attempt = await checkout.create(lines, tester=tester, expires_in=lifetime)
        if wait:
            _line_out({"id": attempt.session_id, "url": attempt.url,
                       "expires_at": _iso(attempt.expires_at), "attempt_id": attempt.id})
        else:
            payload = {"id": attempt.session_id, "url": attempt.url,
                       "expires_at": _iso(attempt.expires_at), "attempt_id": attempt.id}
            emit(ctx, payload, f"session  {attempt.session_id}\nurl      {attempt.url}\n"
                                f"expires  {_iso(attempt.expires_at)}", as_json=as_json)
            if services.sandbox is not None:
                click.echo("note: the offline sandbox and the success/cancel pages live only "
                           "as long as this command; use --wait, or run `uhadmin sandbox "
                           "serve` and set UHADMIN_STRIPE_API_BASE", err=True)
        if open_page:
            try:
                await checkout.open_in_browser(attempt)
            except UhadminError as error:  # the session exists: say so, do not fail
                click.echo(f"warning: {error}", err=True)
        if wait:
            final = await checkout.wait_for_outcome(attempt.id)
            _line_out(outcome_json(final))

    run_with_services(ctx, work)


@checkout_group.command("status")
@click.argument("session_id")
@json_option
@click.pass_context
@handles_errors
def status_command(ctx: click.Context, session_id: str, as_json: bool) -> None:
    """Refresh one attempt from Stripe (session + payment intent) and show it."""

    async def work(services: Services) -> None:
        attempt = await services.checkout.refresh(_ref(session_id))
        emit(ctx, attempt_json(attempt), attempt_text(attempt), as_json=as_json)

    run_with_services(ctx, work)


@checkout_group.command("expire")
@click.argument("session_id")
@json_option
@click.pass_context
@handles_errors
def expire_command(ctx: click.Context, session_id: str, as_json: bool) -> None:
    """Expire an open session now."""

    async def work(services: Services) -> None:
        attempt = await services.checkout.expire(_ref(session_id))
        emit(ctx, attempt_json(attempt), f"expired  {attempt_text(attempt)}", as_json=as_json)

    run_with_services(ctx, work)


@checkout_group.command("expire-mine")
@click.option("--tester", default=None, help="Whose sessions (default: UHADMIN_ACTOR or you).")
@json_option
@click.pass_context
@handles_errors
def expire_mine_command(ctx: click.Context, tester: str | None, as_json: bool) -> None:
    """Expire every open session you created."""

    async def work(services: Services) -> None:
        expired = await services.checkout.expire_mine(tester=tester)
        text = "\n".join(f"expired  {attempt_text(a)}" for a in expired) or \
            "no open sessions to expire"
        emit(ctx, [attempt_json(a) for a in expired], text, as_json=as_json)

    run_with_services(ctx, work)


@checkout_group.command("list")
@click.option("--tester", default=None, help="Only this tester's attempts.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
@click.pass_context
@handles_errors
def list_command(ctx: click.Context, tester: str | None, limit: int, as_json: bool) -> None:
    """Recorded attempts, newest first (from the database; no Stripe call)."""

    async def work(services: Services) -> None:
        attempts = await services.checkout.list_attempts(tester=tester, limit=limit)
        text = "\n".join(attempt_text(a) for a in attempts) or "no checkout attempts yet"
        emit(ctx, [attempt_json(a) for a in attempts], text, as_json=as_json)

    run_with_services(ctx, work)


@checkout_group.command("cards")
@json_option
@click.pass_context
def cards_command(ctx: click.Context, as_json: bool) -> None:
    """Stripe's test cards and what each one does."""
    from uhadmin.services.checkout import load_test_cards

    cards = load_test_cards()
    payload = [{"number": c.number, "brand": c.brand, "outcome": c.outcome,
                "decline_code": c.decline_code or None, "description": c.description}
               for c in cards]
    text = "\n".join(f"{c.number}  {c.brand:<10} {c.description}" for c in cards)
    emit(ctx, payload, text, as_json=as_json)


def _ref(text: str) -> int | str:
    """A session id (cs_...) or an attempt number (within the id column's range)."""
    if not (text.isascii() and text.isdigit()):
        return text
    if not 1 <= int(text) <= MAX_ID:
        raise ValidationError.single("SESSION_ID", f"attempt number {text} is not between 1 "
                                                   f"and {MAX_ID}")
    return int(text)
