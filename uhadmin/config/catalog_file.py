"""Whether a SQLite file can be the catalog: a mistyped path never becomes a new one."""

from __future__ import annotations

from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_path(database_url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL; None for PostgreSQL or an in-memory database."""
    scheme, _, rest = database_url.partition("://")
    if scheme.split("+", 1)[0] != "sqlite":
        return None
    path = rest[1:].split("?", 1)[0] if rest.startswith("/") else ""
    return Path(path).expanduser() if path and path != ":memory:" else None


def catalog_file_problem(database_url: str, *, may_create: bool) -> str | None:
    """Why the SQLite file of `database_url` cannot be the catalog, or None: it is not a
    SQLite database, cannot be read, or does not exist while `may_create` is False (a
    mistyped path must not silently become a new, empty catalog)."""
    path = sqlite_path(database_url)
    if path is None:
        return None
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        if may_create:
            return None
        return (f"database {path} does not exist (check the path; `uhadmin --create "
                "--database-url URL ...` or `uhadmin db upgrade` creates a new catalog there)")
    except OSError as exc:
        return f"database {path}: cannot be read ({exc.strerror})"
    if header and header != SQLITE_HEADER:  # an empty file is a new SQLite database
        return f"database {path} is not a SQLite database"
    return None
