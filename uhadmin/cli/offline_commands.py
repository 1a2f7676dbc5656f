"""`uhadmin offline ...` and `--offline` writes: the catalog's local copy from a shell."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from uhadmin.cli.common import (
    ROW_ID,
    emit,
    handles_errors,
    json_option,
    main_group,
    run_with_services,
)
from uhadmin.errors import NotFoundError, UhadminError

if TYPE_CHECKING:
    from uhadmin.bootstrap import Services
    from uhadmin.config import Settings
    from uhadmin.domain import Listing
    from uhadmin.domain.offline import OfflineOperation
    from uhadmin.services.offline.offline_listings import OfflineListings
    from uhadmin.services.offline.service import OfflineService

T = TypeVar("T")

# `offline push` exits with this when it sent what it could but conflicts wait for a person.
EXIT_CONFLICTS = 2


def _settings(ctx: click.Context) -> Settings:
    from uhadmin.config import load_settings

    root = ctx.find_root().obj or {}
    return load_settings(overrides={"database_url": root.get("database_url")})


def _offline_service(settings: Settings, services: Services | None = None) -> OfflineService:
    from uhadmin.services.change_bus import ChangeBus
    from uhadmin.services.offline.service import OfflineService, open_replica

    replica = open_replica(settings.data_dir, settings.database_url)
    if services is None:
        return OfflineService(replica, ChangeBus())
    return OfflineService(replica, services.bus, catalog=services.db,
                          listings=services.listings)


def catalog_write(ctx: click.Context, work: Callable[[Services], Awaitable[T]]) -> T:
    """run_with_services for a command that writes: an unreachable catalog is one clear
    line that says nothing was changed and how to record the change offline instead."""
    from uhadmin.services.database import DatabaseUnavailableError

    try:
        return run_with_services(ctx, work)
    except DatabaseUnavailableError as error:
        raise UhadminError(
            f"the shared catalog is unreachable ({error}); nothing was changed. Add "
            "--offline to record this change in the offline copy; `uhadmin offline push` "
            "sends it when the catalog is back") from None


def _with_catalog(ctx: click.Context,
                  work: Callable[[OfflineService, Services], Awaitable[T]]) -> T:
    from uhadmin.services.database import DatabaseUnavailableError

    async def run(services: Services) -> T:
        offline = _offline_service(services.settings, services)
        try:
            return await work(offline, services)
        finally:
            offline.close()

    try:
        return run_with_services(ctx, run)
    except DatabaseUnavailableError as error:
        raise UhadminError(f"the shared catalog is unreachable ({error}); the offline copy "
                           "and its changes are kept as they are") from None


def record_offline(ctx: click.Context, listing_id: int,
                   make: Callable[[OfflineListings, Listing, str], Awaitable[Listing]]
                   ) -> Listing:
    """Record one change in the offline copy as an operation on the listing as copied."""
    settings = _settings(ctx)
    offline = _offline_service(settings)

    async def run() -> Listing:
        try:
            current = await offline.offline_listings.get(listing_id)
        except NotFoundError:
            when = await offline.replica.refreshed_at()
            copy = f"the copy of {when:%Y-%m-%d %H:%M} UTC" if when else "no copy yet"
            raise NotFoundError(
                f"listing {listing_id} is not in the offline copy ({copy}); run `uhadmin "
                "offline refresh` while the catalog is reachable") from None
        return await make(offline.offline_listings, current, settings.actor)

    try:
        return asyncio.run(run())
    finally:
        offline.close()


def _operation_json(operation: OfflineOperation) -> dict[str, Any]:
    return {"id": operation.id, "listing_id": operation.listing_id,
            "kind": operation.kind.value, "state": operation.state.value,
            "base_version": operation.base_version, "actor": operation.actor,
            "made_at": operation.created_at.isoformat(), "note": operation.note,
            "fields": [{"field": c.field, "base": c.base, "theirs": c.theirs, "mine": c.mine}
                       for c in operation.conflicts]}


def _conflict_text(operation: OfflineOperation) -> str:
    lines = [f"conflict {operation.id}: listing {operation.listing_id} ({operation.note})"]
    lines += [f"  {c.field}: base {c.base!r} | theirs {c.theirs!r} | mine {c.mine!r}"
              for c in operation.conflicts]
    return "\n".join(lines)


@main_group.group("offline")
def offline_group() -> None:
    """The local copy of the catalog: review without it, merge back when it returns."""


@offline_group.command("status")
@json_option
@click.pass_context
@handles_errors
def offline_status(ctx: click.Context, as_json: bool) -> None:
    """Which catalog the copy is of, when it was refreshed, and what waits to be sent."""
    offline = _offline_service(_settings(ctx))
    try:
        status = asyncio.run(offline.status())
        conflicts = asyncio.run(offline.conflicts())
    finally:
        offline.close()
    when = status.refreshed_at.isoformat() if status.refreshed_at else None
    lines = [f"catalog      {status.catalog}",
             f"refreshed    {when or 'never (run `uhadmin offline refresh`)'}",
             f"listings     {status.listings}",
             f"pending      {status.pending}",
             f"conflicts    {status.conflicts}"]
    lines += [_conflict_text(operation) for operation in conflicts]
    emit(ctx, {"catalog": status.catalog, "refreshed_at": when, "pending": status.pending,
               "conflicts": status.conflicts, "listings": status.listings},
         "\n".join(lines), as_json=as_json)


@offline_group.command("refresh")
@json_option
@click.pass_context
@handles_errors
def offline_refresh(ctx: click.Context, as_json: bool) -> None:
    """Copy what changed in the catalog since the last refresh."""
    report = _with_catalog(ctx, lambda offline, _services: offline.refresh())
    emit(ctx, {"changed": report.changed, "deleted": report.deleted,
               "history": report.history, "listings": report.total,
               "seconds": round(report.seconds, 3)},
         f"copied {report.changed} changed and removed {report.deleted} deleted listings "
         f"({report.total} in the copy) in {report.seconds:.2f} s", as_json=as_json)


@offline_group.command("push")
@json_option
@click.pass_context
@handles_errors
def offline_push(ctx: click.Context, as_json: bool) -> None:
    """Merge the changes made offline into the catalog; conflicts wait for `resolve`
    (exit status 2 while any are left)."""
    report = _with_catalog(ctx, lambda offline, _services: offline.push())
    lines = [f"applied {report.applied}, merged {report.merged}, "
             f"conflicts {len(report.conflicts)}, waiting behind a conflict {report.waiting}"]
    lines += [_conflict_text(operation) for operation in report.conflicts]
    if report.conflicts:
        lines.append("settle each with `uhadmin offline resolve ID --take mine|theirs`")
    emit(ctx, {"applied": report.applied, "merged": report.merged,
               "conflicts": [_operation_json(op) for op in report.conflicts],
               "waiting": report.waiting}, "\n".join(lines), as_json=as_json)
    if report.conflicts:
        sys.exit(EXIT_CONFLICTS)


@offline_group.command("resolve")
@click.argument("operation_id", type=ROW_ID)
@click.option("--take", type=click.Choice(["mine", "theirs"]), required=True,
              help="Keep your offline values (mine) or the catalog's (theirs).")
@json_option
@click.pass_context
@handles_errors
def offline_resolve(ctx: click.Context, operation_id: int, take: str, as_json: bool) -> None:
    """Settle one conflict found by `push`."""

    async def work(offline: OfflineService, services: Services) -> OfflineOperation:
        return await offline.resolve(operation_id, take="mine" if take == "mine" else "theirs",
                                     actor=services.settings.actor)

    operation = _with_catalog(ctx, work)
    emit(ctx, _operation_json(operation),
         f"conflict {operation.id} on listing {operation.listing_id}: took {take}",
         as_json=as_json)
