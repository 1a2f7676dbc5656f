"""Settings: flags over environment over preferences over defaults, validated at start."""

from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from uhadmin.config.keystore import STRIPE_KEY_NAME, WEBHOOK_SECRET_NAME, KeyStore
from uhadmin.config.options import ACTOR, OPTIONS, OVERRIDABLE, RATE_LIMIT, Option, mask_password
from uhadmin.config.paths import default_data_dir, default_database_url
from uhadmin.config.preferences import PreferencesStore
from uhadmin.config.secret_key import (
    STRIPE_KEY_VARIABLE,
    WEBHOOK_SECRET_VARIABLE,
    SecretKey,
    key_mode,
    stripe_key_problem,
    webhook_secret_problem,
)
from uhadmin.errors import ConfigError

V = TypeVar("V")


class Deferred:
    """A setting worked out when first read: a secret from the OS keyring."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self.compute = compute


class _DeferredField(Generic[V]):
    """A Settings field that may be given a Deferred, computed once on first read (so a
    command that needs no Stripe key never opens the OS keyring)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_value"

    def __get__(self, settings: Any, owner: type | None = None) -> V:
        if settings is None:
            raise AttributeError("no default")  # dataclasses: a field without a default
        value = settings.__dict__[self._slot]
        if isinstance(value, Deferred):
            value = value.compute()
            settings.__dict__[self._slot] = value
        return value

    def __set__(self, settings: Any, value: V | Deferred) -> None:
        settings.__dict__[self._slot] = value


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the composition root needs to wire the app, already validated (secrets
    from the OS keyring when first read)."""

    database_url: str
    stripe_key: _DeferredField[SecretKey | None] = _DeferredField()
    stripe_api_base: str | None
    currency: str
    success_url: str | None
    cancel_url: str | None
    webhook_secret: _DeferredField[SecretKey | None] = _DeferredField()
    allow_live_mode: bool
    receiver_port: int
    actor: str
    data_dir: Path
    key_notice: _DeferredField[str] = _DeferredField()
    # Requests/s to pace Stripe calls to; None: Stripe's limits for Stripe's API, none for
    # any other base URL or the offline sandbox (429s slow it down either way).
    stripe_rate_limit: float | None = None

    @property
    def mode(self) -> Literal["sandbox", "test", "live"]:
        """"sandbox" with no key (the offline Stripe), else the key's own mode."""
        return "sandbox" if self.stripe_key is None else key_mode(self.stripe_key)

    def __repr__(self) -> str:
        # Secrets repr as their masks already; the database password is masked here.
        shown = ", ".join(
            f"{item.name}={mask_password(value) if item.name == 'database_url' else value!r}"
            for item in fields(self) for value in [getattr(self, item.name)]
        )
        return f"Settings({shown})"

    __str__ = __repr__


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None,
                  keys: KeyStore | None = None,
                  *,
                  preferences: PreferencesStore | None = None) -> Settings:
    """Validated settings. Precedence: overrides (CLI flags) > environment > preferences file >
    defaults; the Stripe key: override > UHADMIN_STRIPE_API_KEY > OS keyring > none (sandbox).

    Every invalid value is reported, all at once, in one ConfigError naming its variable.
    Override keys are Settings field names; a None override means "flag not given".
    Without `keys`, the OS keyring is opened only when a secret is first read (a command
    that needs no Stripe key never waits for it); a bad stored secret is reported then.
    """
    overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
    environ = os.environ if environ is None else environ
    store: Callable[[], KeyStore] = (functools.cache(KeyStore) if keys is None
                                     else lambda: keys)
    preferences = preferences if preferences is not None else PreferencesStore()
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise ConfigError(f"unknown setting override(s): {', '.join(sorted(unknown))}")
    problems: list[str] = []
    saved = preferences.load()

    def pick(option: Option, default: Any) -> Any:
        if option.field in overrides:
            raw, where = overrides[option.field], f"{option.flag} ({option.variable})"
        elif environ.get(option.variable, "").strip():
            raw, where = environ[option.variable], option.variable
        elif option.field in saved:
            raw = saved[option.field]
            where = f"{option.field} in {preferences.path} (or set {option.variable})"
        else:
            return default
        try:
            return option.parse(raw)
        except ValueError as error:
            problems.append(f"{where}: {error}")
            return default

    data_dir = Path(overrides["data_dir"]) if "data_dir" in overrides else default_data_dir()
    values = {option.field: pick(option, None) for option in OPTIONS}
    values["database_url"] = values["database_url"] or default_database_url(data_dir)
    values["currency"] = values["currency"] or "usd"
    values["allow_live_mode"] = bool(values["allow_live_mode"])
    values["receiver_port"] = values["receiver_port"] or 0
    actor = pick(ACTOR, None) or _os_user()
    stripe_rate_limit = pick(RATE_LIMIT, None)

    stripe_key = _pick_secret(overrides.get("stripe_key"), environ, store, STRIPE_KEY_VARIABLE,
                              STRIPE_KEY_NAME, stripe_key_problem, problems,
                              deferred=keys is None)
    webhook_secret = _pick_secret(overrides.get("webhook_secret"), environ, store,
                                  WEBHOOK_SECRET_VARIABLE, WEBHOOK_SECRET_NAME,
                                  webhook_secret_problem, problems, deferred=keys is None)
    # A live key is accepted: staff sync the live catalog with it (the GUI shows a LIVE
    # badge). `allow_live_mode` guards only the checkout test lab, which would charge real
    # cards; that service refuses a live key unless it is set.
    if problems:
        raise ConfigError("; ".join(problems))
    if values["database_url"] == default_database_url(data_dir):
        data_dir.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    notice = Deferred(lambda: store().notice) if keys is None else keys.notice
    return Settings(stripe_key=stripe_key, webhook_secret=webhook_secret, actor=actor,
                    data_dir=data_dir, key_notice=notice,
                    stripe_rate_limit=stripe_rate_limit, **values)


def _pick_secret(override: Any, environ: Mapping[str, str], keys: Callable[[], KeyStore],
                 variable: str, name: str, problem_of: Callable[[str], str | None],
                 problems: list[str], *, deferred: bool) -> SecretKey | None | Deferred:
    if override is not None:
        raw, where = (override.reveal() if isinstance(override, SecretKey) else override,
                      f"--{name.replace('_', '-')} ({variable})")
    elif environ.get(variable, "").strip():
        raw, where = environ[variable].strip(), variable
    elif deferred:
        return Deferred(lambda: _stored_secret(keys(), name, problem_of))
    else:
        try:
            return _stored_secret(keys(), name, problem_of)
        except ConfigError as error:
            problems.append(str(error))
            return None
    return _checked_secret(raw, where, problem_of, problems)


def _stored_secret(keys: KeyStore, name: str,
                   problem_of: Callable[[str], str | None]) -> SecretKey | None:
    """The secret `name` from the key store, validated; ConfigError naming where it is."""
    stored = keys.get(name)
    if stored is None:
        return None
    problems: list[str] = []
    secret = _checked_secret(stored.reveal(), f"{name} in the OS keyring (service "
                             f"{keys.service!r})", problem_of, problems)
    if problems:
        raise ConfigError("; ".join(problems))
    return secret


def _checked_secret(raw: Any, where: str, problem_of: Callable[[str], str | None],
                    problems: list[str]) -> SecretKey | None:
    problem = problem_of(raw) if isinstance(raw, str) else "expected text"
    if problem:
        problems.append(f"{where}: {problem}")
        return None
    return SecretKey(raw)
