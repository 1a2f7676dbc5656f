"""`uhadmin db ...`: bring the catalog database schema up to date."""

from __future__ import annotations

import click

from uhadmin.cli.common import emit, handles_errors, json_option, main_group, settings_for
from uhadmin.services.database import Database


@main_group.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@json_option
@click.pass_context
@handles_errors
def upgrade(ctx: click.Context, as_json: bool) -> None:
    """Apply every missing migration (safe to run again; the app also does it at start);
    creates a new SQLite catalog where --database-url points."""
    settings = settings_for(ctx, create=True)
    # Alembic loads here, not with every other command (it is a fifth of their start-up).
    from uhadmin.services.migrations import current_revision

    db = Database(settings.database_url)
    try:
        db.upgrade()
        with db.engine.connect() as connection:
            revision = current_revision(connection)
    finally:
        db.close()
    emit(ctx, {"database": db.display_url, "revision": revision},
         f"database {db.display_url} is at revision {revision}", as_json=as_json)
