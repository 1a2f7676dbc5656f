"""Settings from CLI flags, environment, preferences file and OS keyring, validated at start."""

from __future__ import annotations

import getpass
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import chainer, fail, null
from platformdirs import user_config_dir, user_data_dir

from uhadmin.errors import ConfigError
from uhadmin.money import is_known_currency

APP_NAME = "uhadmin"
KEYRING_SERVICE = "uhadmin"
STRIPE_KEY_NAME = "stripe_api_key"
WEBHOOK_SECRET_NAME = "webhook_secret"

STRIPE_KEY_VARIABLE = "UHADMIN_STRIPE_API_KEY"
WEBHOOK_SECRET_VARIABLE = "UHADMIN_WEBHOOK_SECRET"

KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
_MASKABLE_PREFIX = re.compile(r"^(?:[a-z]{2,5}_(?:test_|live_)?)")
# Anything that could be a Stripe secret: refused by the preferences file wherever it appears.
_LOOKS_LIKE_SECRET = re.compile(r"(?:sk|rk)_(?:test|live)_|whsec_")

IN_MEMORY_NOTICE = "no keyring backend: the key is kept in memory for this session only"


def mask_key(key: str) -> str:
    """Show a key without revealing it: "sk_test_…WXYZ" (prefix, ellipsis, last 4)."""
    match = _MASKABLE_PREFIX.match(key)
    prefix = match.group(0) if match else ""
    rest = key[len(prefix):]
    # A short or malformed key would be mostly revealed by its last four characters.
    tail = rest[-4:] if len(rest) >= 12 else ""
    return f"{prefix}…{tail}"


class SecretKey:
    """A Stripe secret that shows only its mask in repr, str, f-strings and logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str) or not value:
            raise ConfigError("a secret key must be non-empty text")
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SecretKey is immutable")

    def reveal(self) -> str:
        """The raw key, for the one place that sends it to Stripe."""
        return self._value

    @property
    def masked(self) -> str:
        return mask_key(self._value)

    def __repr__(self) -> str:
        return f"SecretKey({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("SecretKey", self._value))

    def __reduce__(self):
        # Pickling would write the raw key wherever the pickle goes (a file, a cache).
        raise TypeError("a SecretKey cannot be pickled")


def key_mode(key: str | SecretKey) -> Literal["test", "live"]:
    """"test" or "live" from the key's prefix; else ConfigError naming UHADMIN_STRIPE_API_KEY."""
    raw = key.reveal() if isinstance(key, SecretKey) else key
    problem = _stripe_key_problem(raw)
    if problem:
        raise ConfigError(f"{STRIPE_KEY_VARIABLE}: {problem}")
    return "live" if raw[3:7] == "live" else "test"


def _stripe_key_problem(raw: str) -> str | None:
    if not isinstance(raw, str) or not raw:
        return "empty"
    if raw.startswith("pk_"):
        return ("that is a publishable key (pk_…): use the secret key (sk_test_…) "
                "or a restricted key (rk_test_…)")
    if raw.startswith("whsec_"):
        return "that is a webhook signing secret, which belongs in UHADMIN_WEBHOOK_SECRET"
    if not raw.startswith(KEY_PREFIXES):
        return (f"must start with sk_test_, sk_live_, rk_test_ or rk_live_ "
                f"(got {mask_key(raw)})")
    if not re.fullmatch(r"[A-Za-z0-9_]+", raw) or len(raw) <= len("sk_test_"):
        return f"malformed key {mask_key(raw)} (expected letters, digits and _ after the prefix)"
    return None


def _webhook_secret_problem(raw: str) -> str | None:
    if not raw.startswith("whsec_") or not re.fullmatch(r"whsec_[A-Za-z0-9_+/=]+", raw):
        return f"must be a webhook signing secret starting with whsec_ (got {mask_key(raw)})"
    return None


class KeyStore:
    """Secrets in the OS keyring (service "uhadmin"); without a usable backend, in memory.

    The in-memory fallback lives as long as this object: the composition root makes one
    KeyStore and hands it to everything that reads or saves the key. Never a file.
    """

    def __init__(self, service: str = KEYRING_SERVICE,
                 backend: keyring.backend.KeyringBackend | None = None):
        self.service = service
        self._memory: dict[str, str] = {}
        self._backend = backend if backend is not None else keyring.get_keyring()
        if self._is_unusable(self._backend):
            self._fall_back(IN_MEMORY_NOTICE)
        else:
            self.persistent = True
            self.notice = f"saved in the OS keyring ({type(self._backend).__name__})"

    @staticmethod
    def _is_unusable(backend: keyring.backend.KeyringBackend) -> bool:
        if isinstance(backend, (fail.Keyring, null.Keyring)):
            return True
        # A chainer with nothing to chain silently drops every password it is given.
        return isinstance(backend, chainer.ChainerBackend) and not backend.backends

    def _fall_back(self, notice: str) -> None:
        self.persistent = False
        self.notice = notice

    def get(self, name: str = STRIPE_KEY_NAME) -> SecretKey | None:
        if self.persistent:
            try:
                value = self._backend.get_password(self.service, name)
            except keyring.errors.KeyringError as error:
                self._fall_back(f"{IN_MEMORY_NOTICE} (keyring failed: {type(error).__name__})")
            else:
                return SecretKey(value) if value else None
        value = self._memory.get(name)
        return SecretKey(value) if value else None

    def set(self, value: str, name: str = STRIPE_KEY_NAME) -> None:
        raw = value.reveal() if isinstance(value, SecretKey) else value
        if not isinstance(raw, str) or not raw.strip() or raw != raw.strip():
            raise ConfigError(f"{name}: must be non-empty with no surrounding spaces")
        if self.persistent:
            try:
                self._backend.set_password(self.service, name, raw)
                self._memory.pop(name, None)
                return
            except keyring.errors.KeyringError as error:
                self._fall_back(f"{IN_MEMORY_NOTICE} (keyring failed: {type(error).__name__})")
        self._memory[name] = raw

    def delete(self, name: str = STRIPE_KEY_NAME) -> None:
        self._memory.pop(name, None)
        if self.persistent:
            try:
                self._backend.delete_password(self.service, name)
            except keyring.errors.PasswordDeleteError:
                pass  # nothing stored under that name: already the state asked for
            except keyring.errors.KeyringError as error:
                self._fall_back(f"{IN_MEMORY_NOTICE} (keyring failed: {type(error).__name__})")

    def __repr__(self) -> str:
        return f"KeyStore(service={self.service!r}, persistent={self.persistent})"


# --- individual settings: each parser takes the raw value and raises ValueError(rule) -------

def _parse_database_url(value: Any) -> str:
    text = _text(value)
    dialect = text.split("://", 1)[0] if "://" in text else ""
    if dialect.split("+", 1)[0] not in {"sqlite", "postgresql"}:
        raise ValueError("expected sqlite:///path/to/file.sqlite3 or "
                         "postgresql+psycopg://user:password@host:5432/database "
                         f"(got {_mask_password(text)!r})")
    if dialect.startswith("postgresql") and not urlsplit(text).hostname and "host=" not in text:
        raise ValueError(f"a PostgreSQL URL needs a host (got {_mask_password(text)!r})")
    return text


def _mask_password(url: str) -> str:
    """The URL with its password replaced, so an error message never shows it."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _parse_http_url(value: Any) -> str:
    text = _text(value)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError(f"not a valid URL ({error})") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname or any(
            char.isspace() for char in text):
        raise ValueError(f"must be an absolute http:// or https:// URL (got {text!r})")
    return text


def _parse_api_base(value: Any) -> str:
    return _parse_http_url(value).rstrip("/")


def _parse_success_url(value: Any) -> str:
    text = _parse_http_url(value)
    if "{CHECKOUT_SESSION_ID}" not in text:
        raise ValueError("must contain {CHECKOUT_SESSION_ID}, which Stripe replaces with the "
                         "session id so the page can tell which attempt succeeded")
    return text


def _parse_currency(value: Any) -> str:
    text = _text(value).lower()
    if not is_known_currency(text):
        raise ValueError(f"{value!r} is not a currency Stripe accepts (use a code like usd)")
    return text


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected 1/true/yes or 0/false/no (got {value!r})")


def _parse_port(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a port number 0-65535 (got {value!r})")
    if isinstance(value, int):
        port = value
    else:
        text = _text(value)
        if not re.fullmatch(r"[0-9]{1,5}", text):
            raise ValueError(f"expected a port number 0-65535, 0 for any free port (got {text!r})")
        port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"expected a port number 0-65535, 0 for any free port (got {port})")
    return port


# Requests per second: above any Stripe limit, and far above what one process can send.
MAX_RATE_LIMIT = 10_000.0


def _parse_rate_limit(value: Any) -> float:
    text = str(value).strip() if isinstance(value, (int, float)) else _text(value)
    try:
        rate = float(text)
    except ValueError:
        raise ValueError(f"expected requests per second, a number like 25 (got {text!r})"
                         ) from None
    if not 0 < rate <= MAX_RATE_LIMIT:  # also refuses nan
        raise ValueError(f"expected more than 0 and at most {MAX_RATE_LIMIT:g} requests per "
                         f"second (got {text})")
    return rate


def _parse_actor(value: Any) -> str:
    text = _text(value)
    if len(text) > 200:  # the audit log's actor column
        raise ValueError("at most 200 characters")
    return text


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text (got {type(value).__name__})")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    return text


@dataclass(frozen=True)
class _Option:
    field: str
    variable: str
    flag: str
    parse: Callable[[Any], Any]


# The non-secret settings, in the order the settings dialog shows them. Only these may be saved
# in the preferences file.
_OPTIONS = (
    _Option("database_url", "UHADMIN_DATABASE_URL", "--database-url", _parse_database_url),
    _Option("stripe_api_base", "UHADMIN_STRIPE_API_BASE", "--stripe-api-base", _parse_api_base),
    _Option("currency", "UHADMIN_CURRENCY", "--currency", _parse_currency),
    _Option("success_url", "UHADMIN_SUCCESS_URL", "--success-url", _parse_success_url),
    _Option("cancel_url", "UHADMIN_CANCEL_URL", "--cancel-url", _parse_http_url),
    _Option("allow_live_mode", "UHADMIN_ALLOW_LIVE_MODE", "--allow-live-mode", _parse_bool),
    _Option("receiver_port", "UHADMIN_RECEIVER_PORT", "--receiver-port", _parse_port),
)
_OPTION_BY_FIELD = {option.field: option for option in _OPTIONS}
PREFERENCE_KEYS = frozenset(_OPTION_BY_FIELD)
_ACTOR = _Option("actor", "UHADMIN_ACTOR", "--actor", _parse_actor)
# Not a preference: a limit belongs to the deployment (the server, the shared account).
_RATE_LIMIT = _Option("stripe_rate_limit", "UHADMIN_STRIPE_RATE_LIMIT", "--stripe-rate-limit",
                      _parse_rate_limit)
_OVERRIDABLE = PREFERENCE_KEYS | {"actor", "stripe_key", "webhook_secret", "data_dir",
                                  "stripe_rate_limit"}


def default_data_dir() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_database_url(data_dir: Path | None = None) -> str:
    return f"sqlite:///{(data_dir or default_data_dir()) / 'uhadmin.sqlite3'}"


class PreferencesStore:
    """Non-secret preferences as JSON in the user config dir; refuses anything like a key."""

    def __init__(self, path: Path | None = None):
        self.path = path if path is not None else (
            Path(user_config_dir(APP_NAME, appauthor=False)) / "preferences.json")

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
            if _LOOKS_LIKE_SECRET.search(str(key)) or _LOOKS_LIKE_SECRET.search(str(value)):
                problems.append(f"{key}: looks like a Stripe key or secret: keys go to the OS "
                                "keyring, never into the preferences file")
                continue
            option = _OPTION_BY_FIELD.get(key)
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


@dataclass(frozen=True)
class Settings:
    """Everything the composition root needs to wire the app, already validated."""

    database_url: str
    stripe_key: SecretKey | None
    stripe_api_base: str | None
    currency: str
    success_url: str | None
    cancel_url: str | None
    webhook_secret: SecretKey | None
    allow_live_mode: bool
    receiver_port: int
    actor: str
    data_dir: Path
    key_notice: str
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
            f"{item.name}={_mask_password(value) if item.name == 'database_url' else value!r}"
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
    """
    overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
    environ = os.environ if environ is None else environ
    keys = keys if keys is not None else KeyStore()
    preferences = preferences if preferences is not None else PreferencesStore()
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise ConfigError(f"unknown setting override(s): {', '.join(sorted(unknown))}")
    problems: list[str] = []
    saved = preferences.load()

    def pick(option: _Option, default: Any) -> Any:
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
    values = {option.field: pick(option, None) for option in _OPTIONS}
    values["database_url"] = values["database_url"] or default_database_url(data_dir)
    values["currency"] = values["currency"] or "usd"
    values["allow_live_mode"] = bool(values["allow_live_mode"])
    values["receiver_port"] = values["receiver_port"] or 0
    actor = pick(_ACTOR, None) or _os_user()
    stripe_rate_limit = pick(_RATE_LIMIT, None)

    stripe_key = _pick_secret(overrides.get("stripe_key"), environ, keys, STRIPE_KEY_VARIABLE,
                              STRIPE_KEY_NAME, _stripe_key_problem, problems)
    webhook_secret = _pick_secret(overrides.get("webhook_secret"), environ, keys,
                                  WEBHOOK_SECRET_VARIABLE, WEBHOOK_SECRET_NAME,
                                  _webhook_secret_problem, problems)
    # A live key is accepted: staff sync the live catalog with it (the GUI shows a LIVE
    # badge). `allow_live_mode` guards only the checkout test lab, which would charge real
    # cards; that service refuses a live key unless it is set.
    if problems:
        raise ConfigError("; ".join(problems))
    if values["database_url"] == default_database_url(data_dir):
        data_dir.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    return Settings(stripe_key=stripe_key, webhook_secret=webhook_secret, actor=actor,
                    data_dir=data_dir, key_notice=keys.notice,
                    stripe_rate_limit=stripe_rate_limit,
                    **values)


def _pick_secret(override: Any, environ: Mapping[str, str], keys: KeyStore, variable: str,
                 name: str, problem_of: Callable[[str], str | None],
                 problems: list[str]) -> SecretKey | None:
    if override is not None:
        raw, where = (override.reveal() if isinstance(override, SecretKey) else override,
                      f"--{name.replace('_', '-')} ({variable})")
    elif environ.get(variable, "").strip():
        raw, where = environ[variable].strip(), variable
    else:
        stored = keys.get(name)
        if stored is None:
            return None
        raw, where = stored.reveal(), f"{name} in the OS keyring (service {keys.service!r})"
    problem = problem_of(raw) if isinstance(raw, str) else "expected text"
    if problem:
        problems.append(f"{where}: {problem}")
        return None
    return SecretKey(raw)
