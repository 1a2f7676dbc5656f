"""Alembic environment: runs migrations on the connection uhadmin hands over, or on the URL."""

from __future__ import annotations

from alembic import context

from uhadmin.services.tables import Base, declare_partial_indexes

config = context.config
declare_partial_indexes()  # the whole schema, for comparing with the database
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # SQLite runs DDL inside transactions too once pysqlite stops auto-committing
        # (Database switches that off), so one upgrade is all-or-nothing on both backends.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Developer path (`alembic -x` style tools): open our own engine from the URL.
    from uhadmin.services.database import Database

    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("alembic: set sqlalchemy.url (the database to migrate)")
    database = Database(url)
    try:
        with database._write_engine.connect() as own_connection, own_connection.begin():
            _run(own_connection)
    finally:
        database.close()


if context.is_offline_mode():
    raise SystemExit("uhadmin migrations run online only (uhadmin db upgrade)")
run_migrations_online()
