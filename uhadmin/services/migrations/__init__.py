"""Alembic migrations shipped inside the package, configured in code (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from uhadmin.services.database import driver_connection

MIGRATIONS_DIR = Path(__file__).resolve().parent

# Any constant: PostgreSQL holds this advisory lock while one process upgrades, so two
# admins starting at once do not both try to create the tables.
_PG_UPGRADE_LOCK = 0x75686164  # "uhad"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at this folder; `connection` is used by env.py if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
        config.set_main_option(
            "sqlalchemy.url",
            connection.engine.url.render_as_string(hide_password=False).replace("%", "%%"),
        )
    return config


def head_revision() -> str:
    """The newest revision this version of uhadmin knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations folder has no revisions"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(connection: Connection) -> None:
    """Apply every missing migration in one transaction on `connection` (idempotent)."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Table rebuilds (batch migrations) drop and recreate tables; with foreign keys on,
        # that would cascade-delete rows pointing at them. The pragma is a no-op inside a
        # transaction, so it is switched on the driver connection before any BEGIN.
        driver_connection(connection).execute("PRAGMA foreign_keys = OFF")
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_UPGRADE_LOCK})")
            command.upgrade(alembic_config(connection), "head")
    finally:
        if sqlite:
            driver_connection(connection).execute("PRAGMA foreign_keys = ON")
