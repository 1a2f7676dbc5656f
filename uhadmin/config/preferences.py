"""The preferences file: non-secret settings as JSON, written whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uhadmin.config.options import OPTION_BY_FIELD, PREFERENCE_KEYS
from uhadmin.config.paths import default_preferences_path
from uhadmin.config.secret_key import LOOKS_LIKE_SECRET
from uhadmin.errors import ConfigError


class PreferencesStore:
    """Non-secret preferences as JSON in the user config dir; refuses anything like a key."""

    def __init__(self, path: Path | None = None):
        self.path = path if path is not None else default_preferences_path()

    def load(self) -> dict[str, Any]:
        """The saved preferences (only known keys), or {} when nothing was saved yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise ConfigError(f"{self.path}: cannot read preferences ({error.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{self.path}: not valid JSON ({error.msg}, line {error.lineno}), "
                              "fix or delete the file") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path}: expected a JSON object of preferences")
        # Keys from a newer version are left alone rather than refused.
        return {key: value for key, value in data.items() if key in PREFERENCE_KEYS}

    def save(self, prefs: Mapping[str, Any]) -> None:
        """Replace the saved preferences; None drops a key (back to its default)."""
        problems = []
        clean: dict[str, Any] = {}
        for key, value in prefs.items():
            if value is None:
                continue
            if LOOKS_LIKE_SECRET.search(str(key)) or LOOKS_LIKE_SECRET.search(str(value)):
                problems.append(f"{key}: looks like a Stripe key or secret: keys go to the OS "
                                "keyring, never into the preferences file")
                continue
            option = OPTION_BY_FIELD.get(key)
            if option is None:
                allowed = ", ".join(sorted(PREFERENCE_KEYS))
                problems.append(f"{key}: not a preference that can be saved (one of {allowed})")
                continue
            try:
                clean[key] = option.parse(value)
            except ValueError as error:
                problems.append(f"{key} ({option.variable}): {error}")
        if problems:
            raise ConfigError("; ".join(problems))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written next to the target and renamed over it: a crash never leaves half a file.
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".preferences.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(clean, file, indent=2, sort_keys=True)
                file.write("\n")
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
