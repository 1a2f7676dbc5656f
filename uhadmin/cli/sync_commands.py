"""`uhadmin sync`, `uhadmin reconcile` and `uhadmin adopt`: the catalog and Stripe from a shell."""

from __future__ import annotations

import sys

import click

from uhadmin.bootstrap import Services
from uhadmin.cli.common import (
    emit,
    handles_errors,
    json_option,
    main_group,
    run_with_services,
)
from uhadmin.domain import FindingKind, Fix, ReconcileReport, SyncProgress, SyncReport

_KIND_CHOICE = click.Choice([kind.value for kind in FindingKind], case_sensitive=False)


def _where(services: Services) -> str:
    mode = services.stripe_mode
    return {"sandbox": "the offline sandbox", "test": "Stripe (test mode)",
            "live": "Stripe (LIVE mode)"}.get(mode, mode)


def sync_text(report: SyncReport, where: str) -> str:
    lines = [
        f"{'dry run against' if report.dry_run else 'synced with'} {where}"
        + (" (cancelled)" if report.cancelled else ""),
        f"created        {report.created}",
        f"updated        {report.updated}",
        f"price_changed  {report.price_changed}",
        f"archived       {report.archived}",
        f"unchanged      {report.unchanged}",
        f"failed         {report.failed}",
        f"api_calls      {report.api_calls}",
    ]
    if report.offline:
        lines.append(f"offline: Stripe did not answer; {report.queued} change(s) stay queued")
    elif report.queued and not report.dry_run:
        held = (f", {report.held_elsewhere} held by other admins' syncs"
                if report.held_elsewhere else "")
        lines.append(f"still queued: {report.queued} change(s){held}")
    for listing_id, message in sorted(report.failures.items()):
        lines.append(f"  listing {listing_id}: {message}")
    if not report.dry_run:
        shown = sorted(report.waiting.items())
        lines.extend(f"  listing {listing_id}: {why}" for listing_id, why in shown[:20])
        if len(shown) > 20:
            lines.append(f"  ... and {len(shown) - 20} more (--json lists them all)")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


@main_group.command("sync")
@click.option("--dry-run", is_flag=True, help="Say what would be pushed; call nothing.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Push at most N listings (the rest stays queued).")
@click.option("--progress/--no-progress", default=None,
              help="Show progress on stderr (default: when stderr is a terminal).")
@json_option
@click.pass_context
@handles_errors
def sync_command(ctx: click.Context, dry_run: bool, limit: int | None, progress: bool | None,
                 as_json: bool) -> None:
    """Push every pending listing change to Stripe.

    Exit status: 0 everything is in Stripe; 1 a listing failed (Stripe refused it, or the
    row needs fixing); 3 changes are still queued (Stripe offline, --limit, cancelled, or
    still held by another admin's sync)."""
    show = sys.stderr.isatty() if progress is None else progress

    def on_progress(step: SyncProgress) -> None:
        eta = f", {step.eta_s:.0f} s left" if step.eta_s is not None else ""
        click.echo(f"\r{step.done}/{step.total} ({step.rate_per_s:.1f}/s{eta})  ",
                   err=True, nl=False)

    async def work(services: Services) -> tuple[SyncReport, str]:
        report = await services.sync.run(limit=limit, dry_run=dry_run,
                                         progress=on_progress if show else None)
        return report, _where(services)

    report, where = run_with_services(ctx, work)
    if show and not dry_run:
        click.echo("", err=True)
    emit(ctx, {**report.as_dict(), "stripe": where}, sync_text(report, where), as_json=as_json)
    if report.exit_code:
        ctx.exit(report.exit_code)


def reconcile_text(report: ReconcileReport) -> str:
    lines = [f"compared {report.listings_seen} listings with {report.products_seen} products "
             f"and {report.prices_seen} prices ({report.api_calls} API calls)"]
    if not report.findings:
        lines.append("no differences")
    for finding in report.findings:
        target = " ".join(part for part in (
            f"listing {finding.listing_id}" if finding.listing_id is not None else "",
            f"product {finding.product_id}" if finding.product_id else "") if part)
        lines.append(f"{finding.kind:<16} {target}: {finding.detail} "
                     f"[fixes: {', '.join(finding.fixes)}]")
    verb = "would apply" if report.dry_run else "applied"
    lines.extend(f"{verb}: {item.detail}" for item in report.applied)
    lines.extend(f"failed: {target}: {message}" for target, message in report.errors.items())
    return "\n".join(lines)


def _parse_fix(value: str) -> tuple[FindingKind, Fix | None]:
    kind_text, _, fix_text = value.partition("=")
    try:
        kind = FindingKind(kind_text.strip().lower())
        fix = Fix(fix_text.strip().lower()) if fix_text else None
    except ValueError:
        kinds = ", ".join(kind.value for kind in FindingKind)
        fixes = ", ".join(fix.value for fix in Fix)
        raise click.BadParameter(f"{value!r}: use KIND or KIND=FIX (kinds: {kinds}; "
                                 f"fixes: {fixes})") from None
    return kind, fix


@main_group.command("reconcile")
@click.option("--fix", "fix_values", multiple=True, metavar="KIND[=FIX]",
              help="Fix findings of KIND (repeatable), with its default fix or the one named, "
                   "e.g. --fix orphan --fix field_drift=take_stripes.")
@click.option("--fix-all", is_flag=True, help="Fix every finding with its default fix.")
@click.option("--dry-run", is_flag=True, help="With --fix: say what would change, change nothing.")
@json_option
@click.pass_context
@handles_errors
def reconcile_command(ctx: click.Context, fix_values: tuple[str, ...], fix_all: bool,
                      dry_run: bool, as_json: bool) -> None:
    """Compare the database with Stripe; nothing changes without --fix or --fix-all."""
    parsed = [_parse_fix(value) for value in fix_values]

    async def work(services: Services) -> ReconcileReport:
        if fix_all:
            return await services.reconcile.fix(dry_run=dry_run)
        if parsed:
            kinds = [kind for kind, fix in parsed if fix is None]
            named = [(kind, fix) for kind, fix in parsed if fix is not None]
            return await services.reconcile.fix(kinds=kinds, fixes=named, dry_run=dry_run)
        return await services.reconcile.check()

    report = run_with_services(ctx, work)
    emit(ctx, report.as_dict(), reconcile_text(report), as_json=as_json)
    if report.errors:
        ctx.exit(1)


@main_group.command("adopt")
@click.argument("product_ids", nargs=-1, required=True)
@json_option
@click.pass_context
@handles_errors
def adopt_command(ctx: click.Context, product_ids: tuple[str, ...], as_json: bool) -> None:
    """Create listings from products made elsewhere (e.g. the Stripe Dashboard)."""

    async def work(services: Services):
        return await services.reconcile.adopt(list(product_ids))

    listings = run_with_services(ctx, work)
    emit(ctx, [{"id": listing.id, "title": listing.title, "status": listing.status.value,
                "stripe_product_id": listing.stripe_product_id,
                "stripe_price_id": listing.stripe_price_id,
                "sync_state": listing.sync_state.value} for listing in listings],
         "\n".join(f"adopted {listing.stripe_product_id} as listing {listing.id} "
                   f"({listing.title!r}, {listing.status.value})" for listing in listings),
         as_json=as_json)
