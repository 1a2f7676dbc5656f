"""`uhadmin stripe-account`: which Stripe account the catalog syncs with, and re-pointing it."""

from __future__ import annotations

import click

from uhadmin.bootstrap import Services
from uhadmin.cli.common import (
    emit,
    handles_errors,
    json_option,
    main_group,
    run_with_services,
)
from uhadmin.domain.stripe_account import StripeAccount, mismatch_message
from uhadmin.errors import AccountMismatchError


def _as_dict(account: StripeAccount | None) -> dict | None:
    if account is None:
        return None
    return {"id": account.id, "name": account.name, "environment": account.environment,
            "recorded_at": account.recorded_at.isoformat() if account.recorded_at else None,
            "recorded_by": account.recorded_by or None}


@main_group.group("stripe-account", invoke_without_command=True)
@json_option
@click.pass_context
@handles_errors
def account_group(ctx: click.Context, as_json: bool) -> None:
    """Show the catalog's Stripe account and the key's; exit 4 when they differ."""
    if ctx.invoked_subcommand is not None:
        return

    async def work(services: Services):
        return await services.sync.accounts()

    recorded, current = run_with_services(ctx, work)
    differs = recorded is not None and current is not None \
        and not recorded.same_account(current)
    lines = [f"catalog synced with: {recorded.describe() if recorded else 'nothing yet'}",
             f"the key points at:   {current.describe() if current else '?'}"]
    if differs:
        assert recorded is not None and current is not None
        lines.append(mismatch_message(recorded, current))
    emit(ctx, {"recorded": _as_dict(recorded), "current": _as_dict(current),
               "matches": not differs}, "\n".join(lines), as_json=as_json)
    if differs:
        ctx.exit(AccountMismatchError.exit_code)


@account_group.command("use")
@click.option("--yes", is_flag=True, help="Confirm without asking.")
@json_option
@click.pass_context
@handles_errors
def use_command(ctx: click.Context, yes: bool, as_json: bool) -> None:
    """Record the key's account as this catalog's (syncing resumes against it)."""
    if not yes:
        click.confirm("Sync this catalog with the account the key points at from now on?",
                      abort=True)

    async def work(services: Services):
        return await services.sync.use_current_account(services.settings.actor)

    account = run_with_services(ctx, work)
    emit(ctx, _as_dict(account), f"this catalog now syncs with "
         f"{account.describe() if account else '?'}", as_json=as_json)
