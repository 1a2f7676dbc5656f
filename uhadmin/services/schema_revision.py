"""The catalog's schema revision, read from `alembic_version` without importing Alembic."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from uhadmin.errors import UhadminError

MIGRATIONS_VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$",
                            re.MULTILINE)


class SchemaTooNewError(UhadminError):
    """The database was migrated by a newer uhadmin; this one changes nothing in it."""


def stored_revisions(connection: Connection) -> list[str]:
    """The revisions `alembic_version` holds (none for a new, empty database)."""
    try:
        return list(connection.execute(
            text("SELECT version_num FROM alembic_version")).scalars().all())
    except (OperationalError, ProgrammingError) as exc:
        if "alembic_version" in str(exc.orig):  # no such table yet: a new database
            return []
        raise


def newer_schema_error(stored: list[str], display_url: str) -> SchemaTooNewError | None:
    """A revision no migration file of ours names was written by a newer uhadmin: the error
    that says so in one line (Alembic would fail with a traceback); None otherwise."""
    unknown = [rev for rev in stored if rev not in shipped_revisions()]
    if not unknown:
        return None
    known = shipped_head_revision() or ", ".join(sorted(shipped_revisions()))
    return SchemaTooNewError(
        f"database {display_url} was upgraded by a newer uhadmin (schema "
        f"revision {', '.join(unknown)}; this uhadmin knows up to {known}): upgrade "
        "uhadmin to use it; nothing was changed")


@functools.cache
def _shipped_graph() -> tuple[frozenset[str], frozenset[str]] | None:
    """(revisions, parents) of the migration files, read from their `revision` and
    `down_revision` lines without importing Alembic; None if a file is not that simple."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in MIGRATIONS_VERSIONS_DIR.glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            found = re.findall(r"['\"]([^'\"]+)['\"]", value)
            if name == "revision":
                if len(found) != 1:
                    return None
                revisions.add(found[0])
            else:
                parents.update(found)
    return frozenset(revisions), frozenset(parents)


def shipped_revisions() -> frozenset[str]:
    """Every migration revision this uhadmin ships."""
    graph = _shipped_graph()
    if graph is None:
        from alembic.script import ScriptDirectory

        from uhadmin.services.migrations import alembic_config

        script = ScriptDirectory.from_config(alembic_config())
        return frozenset(rev.revision for rev in script.walk_revisions())
    return graph[0]


def shipped_head_revision() -> str | None:
    """The newest migration shipped; None when that is not a single clear head (then
    Alembic itself decides)."""
    graph = _shipped_graph()
    if graph is None:
        return None
    heads = graph[0] - graph[1]
    return next(iter(heads)) if len(heads) == 1 else None
