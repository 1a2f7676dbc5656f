"""Database fixtures: a migrated empty catalog on SQLite and on PostgreSQL, one per test.

`database` is parametrized over both backends (the PostgreSQL case is marked `postgres`);
`sqlite_database` is SQLite only, for view and end-to-end tests that need one quick store.
PostgreSQL comes from UHADMIN_TEST_POSTGRES_URL (a server URL; a fresh database
uhadmin_test_<random> is created for the run and dropped at its end). Without it, a root
user with Debian's pg_ctlcluster gets the local cluster started by scripts/start_postgres.sh;
anyone else skips those tests, except on CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService

POSTGRES_URL_VARIABLE = "UHADMIN_TEST_POSTGRES_URL"
START_POSTGRES_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "start_postgres.sh"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """A PostgreSQL server URL whose role may create databases (or skip/fail, see above)."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if url:
        return url
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("pg_ctlcluster"):
        started = subprocess.run(["bash", str(START_POSTGRES_SCRIPT)], capture_output=True,
                                 text=True, check=False)
        if started.returncode == 0:
            return started.stdout.strip().splitlines()[-1]
        reason = f"{START_POSTGRES_SCRIPT.name} failed: {started.stderr.strip()}"
    else:
        reason = (f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (e.g. "
                  "postgresql+psycopg://uhadmin:uhadmin@127.0.0.1:5432/postgres), "
                  "or root with Debian's pg_ctlcluster to start a local cluster")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_database_url(postgres_server_url: str) -> Iterator[str]:
    """A database created (and migrated) for this test run, dropped when the run ends."""
    server = make_url(postgres_server_url)
    if server.drivername in ("postgres", "postgresql"):
        server = server.set(drivername="postgresql+psycopg")
    name = f"uhadmin_test_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
        migrated = Database(url)
        migrated.upgrade()
        migrated.close()
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per run; each test gets a copy (faster than migrating)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "catalog.db"
    template = Database(f"sqlite:///{path}")
    template.upgrade()
    template.close()  # the last close checkpoints the WAL into the file
    return path


def _empty_postgres(url: str) -> Database:
    """The run's migrated database, emptied: DELETE (referencing tables first) and each
    sequence restarted. TRUNCATE did the same in 300 ms a test (new files for every table
    and index); DELETE of a test's few rows takes 20 ms."""
    db = Database(url)
    with db.session(write=True) as session:
        tables = session.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )).scalars().all()
        referencing = set(session.execute(text(
            "SELECT DISTINCT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
        )).scalars())
        for table in sorted(tables, key=lambda name: name not in referencing):
            session.execute(text(f'DELETE FROM "{table}"'))
        for sequence in session.execute(text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).scalars():
            session.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    return db


def _sqlite_copy(template: Path, directory: Path) -> Database:
    path = directory / "catalog.db"
    shutil.copyfile(template, path)
    return Database(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty catalog database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        db = _sqlite_copy(request.getfixturevalue("_sqlite_template"), tmp_path)
    else:
        db = _empty_postgres(request.getfixturevalue("postgres_database_url"))
    yield db
    db.close()


@pytest.fixture
def sqlite_database(_sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty SQLite catalog (for tests that need a store, not both backends)."""
    db = _sqlite_copy(_sqlite_template, tmp_path)
    yield db
    db.close()


@pytest.fixture
def change_bus() -> ChangeBus:
    return ChangeBus()


@pytest.fixture
def listing_service(database: Database, change_bus: ChangeBus) -> ListingService:
    """A ListingService over `database` (so parametrized over both backends)."""
    return ListingService(database, change_bus)


@pytest.fixture
def anyio_backend() -> str:
    """`@pytest.mark.anyio` tests run on asyncio, the loop qasync provides in the app."""
    return "asyncio"
