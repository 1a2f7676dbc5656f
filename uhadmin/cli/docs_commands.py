"""`uhadmin docs how-it-works OUTDIR`: the Stripe flow, run in the sandbox, written as Markdown."""

from __future__ import annotations

import asyncio
import json
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

import click

from uhadmin.cli.common import handles_errors, main_group
from uhadmin.domain.stripe_log import StripeLogEntry, StripeLogFilter
from uhadmin.domain.stripe_snippets import as_curl

TEST_CARD = "4242 4242 4242 4242"
DOC_NAME = "how-it-works.md"


def route_ts() -> str:
    """The minimal route.ts the website can copy (resources/route.ts)."""
    return files("uhadmin.resources").joinpath("route.ts").read_text(encoding="utf-8")


@main_group.group("docs")
def docs_group() -> None:
    """Documents regenerated from real runs."""


@docs_group.command("how-it-works")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path), default="docs")
@handles_errors
def how_it_works_command(outdir: Path) -> None:
    """Run listing -> product -> Checkout -> test card -> webhook in a fresh offline sandbox
    and write OUTDIR/how-it-works.md with the exact requests and responses."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="uhadmin-docs-") as scratch:
        flow = asyncio.run(run_flow(Path(scratch)))
    target = outdir / DOC_NAME
    target.write_text(render(flow), encoding="utf-8")
    click.echo(f"wrote {target}")


async def run_flow(scratch: Path) -> dict[str, Any]:
    """The marketplace's whole flow against a new sandbox; returns what the doc shows."""
    import httpx
    from keyring.backends import fail

    from uhadmin.bootstrap import build_services
    from uhadmin.config import KeyStore, load_settings
    from uhadmin.domain import ListingStatus, NewListing

    settings = load_settings({"database_url": f"sqlite:///{scratch / 'catalog.db'}",
                              "data_dir": str(scratch), "actor": "docs@uhadmin"},
                             environ={}, keys=KeyStore(backend=fail.Keyring()))
    services = build_services(settings)
    try:
        listing = await services.listings.create(NewListing(
            title="Calculus textbook, 8th edition", price_minor=4500, currency="usd",
            description="Barely used; no highlighting."), actor="seller@hawaii.edu")
        for status in (ListingStatus.PENDING_REVIEW, ListingStatus.APPROVED):
            listing = await services.listings.change_status(listing.id, status,
                                                            actor="reviewer@hawaii.edu")
        await services.sync.run()
        listing = await services.listings.get(listing.id)
        attempt = await services.checkout.create({listing.id: 1}, tester="docs")
        async with httpx.AsyncClient() as browser:
            paid = await browser.post(attempt.url or "", data={
                "email": "buyer@example.test", "cardNumber": TEST_CARD,
                "cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Ada Buyer"})
            landed = paid.headers.get("location", "")
            if paid.is_redirect:
                await browser.get(landed)
        async with asyncio.timeout(20):
            attempt = (await services.checkout.wait_for_outcome(attempt.id)).attempt
        await asyncio.sleep(0.3)  # the webhook's log entry is written by the receiver thread
        await services.stripe_log.flush()
        entries = list(reversed(await services.stripe_log.page(StripeLogFilter(), limit=200)))
        # The table's pages leave the response excerpts out; the doc shows them.
        entries = [await services.stripe_log.entry(entry.id) for entry in entries]
        return {"listing": listing, "attempt": attempt, "entries": entries,
                "redirect": landed}
    finally:
        await services.aclose()


def _first(entries: list[StripeLogEntry], method: str, path: str) -> StripeLogEntry | None:
    return next((e for e in entries if e.kind == "request" and e.method == method
                 and e.path.startswith(path)), None)


def _exchange(entry: StripeLogEntry | None) -> str:
    if entry is None:
        return "_(not in this run's log)_\n"
    request = [f"{entry.method} {entry.path}",
               f"Stripe-Version: {entry.api_version}" if entry.api_version else "",
               f"Idempotency-Key: {entry.idempotency_key}" if entry.idempotency_key else "",
               "", *(f"{name}={value}" for name, value in entry.params)]
    head = (f"**Request** (log entry {entry.id}, {entry.latency_ms:.0f} ms, "
            f"Request-Id `{entry.request_id}`, answered {entry.status}):\n\n")
    return (head + "```http\n" + "\n".join(line for line in request if line is not None)
            .strip() + "\n```\n\n**Response** (excerpt):\n\n```json\n"
            + entry.response_excerpt + "\n```\n")


def render(flow: dict[str, Any]) -> str:
    """The Markdown document for one run of the flow."""
    entries: list[StripeLogEntry] = flow["entries"]
    listing, attempt = flow["listing"], flow["attempt"]
    product = _first(entries, "POST", "/v1/products")
    session = _first(entries, "POST", "/v1/checkout/sessions")
    webhooks = [e for e in entries if e.kind == "webhook"]
    hooks = "\n".join(
        f"| `{e.event_type}` | `{e.event_id}` | "
        f"{'yes' if e.signature_verified else 'NO'} | {e.effect} |" for e in webhooks)
    session_params = dict(session.params) if session else {}
    return TEMPLATE.format(
        listing_id=listing.id, title=listing.title, price="45.00",
        product_id=listing.stripe_product_id, price_id=listing.stripe_price_id,
        product_exchange=_exchange(product),
        product_curl=as_curl(product).strip() if product else "",
        session_exchange=_exchange(session), route_ts=route_ts().strip(),
        success_url=session_params.get("success_url", ""),
        cancel_url=session_params.get("cancel_url", ""),
        card=TEST_CARD, redirect=flow["redirect"] or "(no redirect)",
        outcome=attempt.outcome, attempt_id=attempt.id,
        hooks=hooks or "| (none arrived) | | | |",
        calls="\n".join(f"| {e.id} | {e.method or 'webhook'} | `{e.path}` | "
                        f"{e.status if e.status is not None else ''} | {e.served} |"
                        for e in entries),
        entries_json=json.dumps(len(entries)),
    )


TEMPLATE = """# How the marketplace uses Stripe

Generated by `uhadmin docs how-it-works docs/` from a real run against uhadmin's offline
Stripe sandbox: every request and response below is what uhadmin's Stripe log recorded in
that run ({entries_json} entries). Ids, ports and times change with each run; the shapes do
not. See any call yourself with `uhadmin log` and `uhadmin log show ID --as curl|node|python`.

## 1. A listing in the database

The website (or uhadmin) writes a row in `listings`; a reviewer approves it. Here: listing
{listing_id}, "{title}", USD {price}, status `approved`. Nothing is in Stripe yet.

## 2. uhadmin creates the product and its default price in one call

`uhadmin sync` (or the Sync tab) pushes every approved listing. One `POST /v1/products`
with `default_price_data` makes the product **and** its price; the idempotency key is
derived from the listing and its revision, so a retry can never make a second product.

{product_exchange}
uhadmin stores the answer's ids on the row: `stripe_product_id = {product_id}`,
`stripe_price_id = {price_id}`. The website reads `stripe_price_id` from here on.

The same call, runnable (the key comes from `$STRIPE_SECRET_KEY`):

```bash
{product_curl}
```

## 3. The buy button calls the website's `route.ts`

The listing page's button POSTs `{{"listingId": {listing_id}}}` to `/api/checkout`. That
route reads the listing's `stripe_price_id` and creates a Checkout Session in `payment`
mode with a success and a cancel URL, then sends the buyer to `session.url`. A minimal
`app/api/checkout/route.ts` the website can copy (it needs `npm install stripe` and your
own `getApprovedListing` query):

```ts
{route_ts}
```

## 4. The Checkout Session

uhadmin's checkout lab sends the same request the route sends (plus its own metadata, so
it can follow the attempt); here is the one it made for attempt {attempt_id}:

{session_exchange}
`success_url` was `{success_url}` and `cancel_url` `{cancel_url}`. The answer's `url` is
Stripe's hosted payment page.

## 5. The hosted page and a test card

The buyer opens that URL and pays with the test card `{card}` (any future expiry, any
CVC). Stripe charges it and redirects the browser to the success URL:
`{redirect}`.

## 6. The webhook

Stripe then POSTs signed events to the webhook endpoint. uhadmin's receiver checks the
`Stripe-Signature` header and records each event once:

| event | id | signature verified | what it changed |
|---|---|---|---|
{hooks}

The attempt's outcome: **{outcome}**. Trust the webhook, not the redirect: a buyer may
close the tab before the success page loads.

## Every call of this run

| log entry | method | path | status | for |
|---|---|---|---|---|
{calls}
"""
