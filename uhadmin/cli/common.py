"""The root click group, global options, and the shared way commands print results and errors."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from uhadmin.errors import UhadminError

if TYPE_CHECKING:
    from uhadmin.bootstrap import Services

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Machine-readable output (JSON), errors included.")


@click.group(invoke_without_command=True)
@click.option("--database-url", envvar=None, default=None,
              help="Overrides UHADMIN_DATABASE_URL for this run.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (JSON).")
@click.pass_context
def main_group(ctx: click.Context, database_url: str | None, as_json: bool) -> None:
    """uhadmin: UH Marketplace admin. With no command, starts the desktop app."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url
    ctx.obj["json"] = as_json
    if ctx.invoked_subcommand is None:
        from uhadmin.app import run_gui

        sys.exit(run_gui(database_url=database_url))


def wants_json(ctx: click.Context, local_flag: bool = False) -> bool:
    return local_flag or bool(ctx.find_root().obj.get("json"))


def emit(ctx: click.Context, payload: Any, text: str, *, as_json: bool = False) -> None:
    """Print `payload` as JSON or `text` for people."""
    if wants_json(ctx, as_json):
        click.echo(json.dumps(payload, default=str, sort_keys=False))
    else:
        click.echo(text)


def handles_errors(func: Callable) -> Callable:
    """Turn expected errors into one clear line on stderr (JSON with --json) and exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UhadminError as exc:
            ctx = click.get_current_context()
            as_json = wants_json(ctx, bool(kwargs.get("as_json")))
            if as_json:
                body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
                problems = getattr(exc, "problems", None)
                if problems:
                    body["problems"] = [{"field": p.field, "rule": p.rule} for p in problems]
                click.echo(json.dumps(body), err=True)
            else:
                click.echo(f"error: {exc}", err=True)
            ctx.exit(1)

    return wrapper


def run_with_services(ctx: click.Context, work: Callable[[Services], Awaitable[T]]) -> T:
    """Build settings and services (migrating the database), run `work` on a fresh loop,
    then stop whatever it started (receiver, Stripe connections, sandbox) and close."""
    from uhadmin.bootstrap import build_services
    from uhadmin.config import load_settings

    root = ctx.find_root().obj or {}
    settings = load_settings(overrides={"database_url": root.get("database_url")})
    services = build_services(settings)

    async def main() -> T:
        try:
            return await work(services)
        finally:
            await services.aclose()

    try:
        return asyncio.run(main())
    finally:
        services.close()  # idempotent; covers a failure before the loop ran
