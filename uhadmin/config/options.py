"""Each setting's field, variable, flag and parser (a parser raises ValueError(rule))."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from uhadmin.money import is_known_currency


def _parse_database_url(value: Any) -> str:
    text = _text(value)
    dialect = text.split("://", 1)[0] if "://" in text else ""
    if dialect.split("+", 1)[0] not in {"sqlite", "postgresql"}:
        raise ValueError("expected sqlite:///path/to/file.sqlite3 or "
                         "postgresql+psycopg://user:password@host:5432/database "
                         f"(got {mask_password(text)!r})")
    if dialect.startswith("postgresql") and not urlsplit(text).hostname and "host=" not in text:
        raise ValueError(f"a PostgreSQL URL needs a host (got {mask_password(text)!r})")
    return text


def mask_password(url: str) -> str:
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
class Option:
    """One setting: its Settings field, environment variable, flag and parser."""

    field: str
    variable: str
    flag: str
    parse: Callable[[Any], Any]


# The non-secret settings, in the order the settings dialog shows them. Only these may be saved
# in the preferences file.
OPTIONS = (
    Option("database_url", "UHADMIN_DATABASE_URL", "--database-url", _parse_database_url),
    Option("stripe_api_base", "UHADMIN_STRIPE_API_BASE", "--stripe-api-base", _parse_api_base),
    Option("currency", "UHADMIN_CURRENCY", "--currency", _parse_currency),
    Option("success_url", "UHADMIN_SUCCESS_URL", "--success-url", _parse_success_url),
    Option("cancel_url", "UHADMIN_CANCEL_URL", "--cancel-url", _parse_http_url),
    Option("allow_live_mode", "UHADMIN_ALLOW_LIVE_MODE", "--allow-live-mode", _parse_bool),
    Option("receiver_port", "UHADMIN_RECEIVER_PORT", "--receiver-port", _parse_port),
)
OPTION_BY_FIELD = {option.field: option for option in OPTIONS}
PREFERENCE_KEYS = frozenset(OPTION_BY_FIELD)
ACTOR = Option("actor", "UHADMIN_ACTOR", "--actor", _parse_actor)
# Not a preference: a limit belongs to the deployment (the server, the shared account).
RATE_LIMIT = Option("stripe_rate_limit", "UHADMIN_STRIPE_RATE_LIMIT", "--stripe-rate-limit",
                      _parse_rate_limit)
OVERRIDABLE = PREFERENCE_KEYS | {"actor", "stripe_key", "webhook_secret", "data_dir",
                                  "stripe_rate_limit"}
