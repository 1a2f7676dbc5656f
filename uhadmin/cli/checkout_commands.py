"""`uhadmin checkout ...`: the checkout test lab from a terminal (create, wait, status, expire)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import signal
import sys
import webbrowser
from collections.abc import Iterator
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
        **card_json(attempt),
    }


def card_json(attempt: CheckoutAttempt) -> dict[str, Any]:
    """The last card tried, as Stripe's latest charge reports it (null until a charge)."""
    return {"card": {"brand": attempt.card_brand, "last4": attempt.card_last4,
                     "three_d_secure": attempt.three_d_secure}
            if attempt.card_last4 else None}


def outcome_json(attempt: CheckoutAttempt) -> dict[str, Any]:
    return {"id": attempt.session_id, "attempt_id": attempt.id,
            "outcome": attempt.outcome.value, "status": attempt.status,
            "payment_status": attempt.payment_status,
            "decline_code": attempt.decline_code or None,
            "decline_message": attempt.decline_message or None, **card_json(attempt)}


def card_text(attempt: CheckoutAttempt) -> str:
    if not attempt.card_last4:
        return ""
    secure = {True: ", 3-D Secure", False: ", no 3-D Secure", None: ""}[attempt.three_d_secure]
    return f"  card: {attempt.card_brand} ····{attempt.card_last4}{secure}"


def attempt_text(attempt: CheckoutAttempt) -> str:
    total = (format_money(attempt.amount_total, attempt.currency)
             if attempt.amount_total is not None else "?")
    decline = f"  last decline: {attempt.decline_code}" if attempt.decline_code else ""
    return (f"#{attempt.id}  {attempt.session_id or '(no session yet)'}  "
            f"{attempt.outcome.value:<8} {total:>12}  {attempt.tester}  "
            f"expires {_iso(attempt.expires_at)}{decline}{card_text(attempt)}")


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
              help="Serve the success/cancel pages from this command, print the session as "
                   "a JSON line, wait for the outcome (Ctrl+C stops waiting) and print it "
                   "as a second JSON line.")
@json_option
@click.pass_context
@handles_errors
def create_command(ctx: click.Context, listings: tuple[str, ...], open_page: bool,
                   expires_in: str, tester: str | None, wait: bool, as_json: bool) -> None:
    """Create a NEW Checkout Session (payment mode) for approved listings.

    Without --wait the buyer returns to a running `uhadmin checkout serve`."""
    lines = [parse_line(text) for text in listings]
    lifetime = parse_duration(expires_in, field="--expires-in")

    async def work(services: Services) -> int:
        if not wait:
            await _use_served_receiver(services)
            await _create(services, open_page=open_page, as_json=as_json)
            return 0
        # Ctrl+C from the first moment: the wait then ends at once, cleanly.
        with _stop_on_signals() as stop:
            attempt = await _create(services, open_page=open_page, as_json=as_json,
                                    as_line=True)
            # The outcome is printed at once; the receiver then keeps serving until the
            # browser has its success or cancel page (or a short grace has passed).
            result = await services.checkout.wait_for_outcome(
                attempt.id, stop=stop,
                on_outcome=lambda final: _line_out({**outcome_json(final),
                                                    "interrupted": False}))
        if result.interrupted and not result.attempt.outcome.is_final:
            _line_out({**outcome_json(result.attempt), "interrupted": True})
            return 130
        return 0

    async def _create(services: Services, *, open_page: bool, as_json: bool,
                      as_line: bool = False) -> CheckoutAttempt:
        checkout = services.checkout
        checkout.set_opener(webbrowser.open)
        if as_line:
            await checkout.start_receiver()
        attempt = await checkout.create(lines, tester=tester, expires_in=lifetime)
        payload = {"id": attempt.session_id, "url": attempt.url,
                   "expires_at": _iso(attempt.expires_at), "attempt_id": attempt.id}
        if as_line:
            _line_out(payload)
        else:
            emit(ctx, payload, f"session  {attempt.session_id}\nurl      {attempt.url}\n"
                                f"expires  {_iso(attempt.expires_at)}", as_json=as_json)
        if open_page:
            try:
                await checkout.open_in_browser(attempt)
            except UhadminError as error:  # the session exists: say so, do not fail
                click.echo(f"warning: {error}", err=True)
        return attempt

    code = run_with_services(ctx, work)
    if code:
        sys.exit(code)


async def _use_served_receiver(services: Services) -> None:
    """Send this session's buyer to the running `checkout serve` (and its sandbox), never
    to a receiver that dies with this command; with none, only the website's own pages
    (UHADMIN_SUCCESS_URL/UHADMIN_CANCEL_URL) will do, else create refuses by name."""
    from uhadmin.services.checkout.receiving import find_served

    settings = services.settings
    served = find_served(settings.data_dir)
    if served is not None and served.stripe_api_base and services.stripe_mode == "sandbox" \
            and not settings.stripe_api_base and not services.stripe_started:
        # The served sandbox, not one in this process (its pages would die with us).
        services.settings = dataclasses.replace(settings,
                                                stripe_api_base=served.stripe_api_base)
    await services.checkout.use_receiver(served)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[asyncio.Event]:
    """An event set by Ctrl+C (SIGINT) or SIGTERM while the block runs: the wait ends
    cleanly, the receiver and sandbox are closed, the attempt is left as it is."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for number in (signal.SIGINT, signal.SIGTERM):
        # Windows' loops have no signal handlers (NotImplementedError), and only the main
        # thread may set them (RuntimeError/ValueError): there Ctrl+C ends the wait as usual.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(number, stop.set)
            handled.append(number)
    try:
        yield stop
    finally:
        for number in handled:
            loop.remove_signal_handler(number)


@checkout_group.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Loopback port for the pages and webhooks (default: "
                   "UHADMIN_RECEIVER_PORT, else 12112).")
@json_option
@click.pass_context
@handles_errors
def serve_command(ctx: click.Context, port: int | None, as_json: bool) -> None:
    """Serve the success/cancel pages and webhooks until Ctrl+C, for sessions made by other
    `uhadmin checkout create` commands (and, without a Stripe key, the offline sandbox)."""

    async def work(services: Services) -> None:
        from uhadmin.services.checkout.receiving import announce_served, forget_served

        receiver = services.receiver
        receiver.port = port if port is not None else services.settings.receiver_port or \
            DEFAULT_SERVE_PORT
        checkout = services.checkout
        await checkout.start_receiver()
        sandbox = services.sandbox
        api_base = sandbox.url if sandbox is not None else None
        announced = announce_served(services.settings.data_dir, receiver.url, api_base)
        try:
            emit(ctx, {"receiver": receiver.url, "stripe_api_base": api_base,
                       "webhook_url": receiver.webhook_url},
                 f"Checkout pages and webhooks on {receiver.url}"
                 + (f"\nOffline Stripe sandbox on {api_base}" if api_base else "")
                 + "\nIn another terminal: uhadmin checkout create --listing ID"
                 + "\nPress Ctrl+C to stop.", as_json=as_json)
            with _stop_on_signals() as stop:
                await stop.wait()
        finally:
            forget_served(announced)

    run_with_services(ctx, work)


DEFAULT_SERVE_PORT = 12112  # next to the sandbox's 12111, fixed so Stripe CLI forwarding lasts


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
