"""Settings from CLI flags, environment, preferences file and OS keyring, validated at start."""

from __future__ import annotations

from uhadmin.config.catalog_file import SQLITE_HEADER, catalog_file_problem, sqlite_path
from uhadmin.config.keystore import (
    IN_MEMORY_NOTICE,
    KEYRING_SERVICE,
    STRIPE_KEY_NAME,
    WEBHOOK_SECRET_NAME,
    KeyStore,
)
from uhadmin.config.options import MAX_RATE_LIMIT, PREFERENCE_KEYS
from uhadmin.config.paths import APP_NAME, default_data_dir, default_database_url
from uhadmin.config.preferences import PreferencesStore
from uhadmin.config.secret_key import (
    KEY_PREFIXES,
    STRIPE_KEY_VARIABLE,
    WEBHOOK_SECRET_VARIABLE,
    SecretKey,
    key_mode,
    mask_key,
)
from uhadmin.config.settings import Deferred, Settings, load_settings

__all__ = [
    "APP_NAME",
    "IN_MEMORY_NOTICE",
    "KEYRING_SERVICE",
    "KEY_PREFIXES",
    "MAX_RATE_LIMIT",
    "PREFERENCE_KEYS",
    "SQLITE_HEADER",
    "STRIPE_KEY_NAME",
    "STRIPE_KEY_VARIABLE",
    "WEBHOOK_SECRET_NAME",
    "WEBHOOK_SECRET_VARIABLE",
    "Deferred",
    "KeyStore",
    "PreferencesStore",
    "SecretKey",
    "Settings",
    "catalog_file_problem",
    "default_data_dir",
    "default_database_url",
    "key_mode",
    "load_settings",
    "mask_key",
    "sqlite_path",
]
