"""Where uhadmin keeps its files: the data folder, the default catalog, the preferences."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

APP_NAME = "uhadmin"


def default_data_dir() -> Path:
    """The per-user data folder (the default catalog and the sandbox's data)."""
    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_database_url(data_dir: Path | None = None) -> str:
    """The SQLite catalog in the data folder: the one created without asking."""
    return f"sqlite:///{(data_dir or default_data_dir()) / 'uhadmin.sqlite3'}"


def default_preferences_path() -> Path:
    """The preferences file in the per-user config folder."""
    return Path(user_config_dir(APP_NAME, appauthor=False)) / "preferences.json"
