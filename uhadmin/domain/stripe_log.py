"""Frozen values of the Stripe request log and the pure rules that shape its entries."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from uhadmin.errors import ConfigError, ValidationError

# What a response keeps: enough to recognise the object, never a whole catalog page.
RESPONSE_EXCERPT_CHARS = 2000
REDACTED = "[redacted]"

# Default retention: 30 days or 200,000 entries, whichever is smaller.
DEFAULT_RETENTION_DAYS = 30
DEFAULT_RETENTION_ENTRIES = 200_000
RETENTION_DAYS_VARIABLE = "UHADMIN_STRIPE_LOG_DAYS"
RETENTION_ENTRIES_VARIABLE = "UHADMIN_STRIPE_LOG_MAX_ENTRIES"

# Secret-looking values anywhere (a parameter, a response, an error message): API keys,
# restricted keys, webhook signing secrets, and the client secrets of sessions and intents.
_SECRET_VALUE = re.compile(
    r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+"
    r"|\b[a-z]{2,4}_[A-Za-z0-9]+_secret_[A-Za-z0-9]+")
# Parameter or field names (the last bracket segment) whose value is secret whatever it looks
# like: card details, secrets, passwords, keys.
_SECRET_NAMES = {"secret", "client_secret", "password", "api_key", "secret_key", "cvc",
                 "number", "exp_month", "exp_year", "card_number", "signing_secret"}
# A JSON field with one of those names (alone or as the last bracket segment) and a
# non-empty string value, in a body without escapes: redacted in the text as it came.
_SECRET_FIELD = re.compile(
    r'("(?:[^"\\]*\[)?(?:' + "|".join(sorted(_SECRET_NAMES)) + r')\]?"\s*:\s*)"[^"\\]+"',
    re.IGNORECASE)
# The head of an object as Stripe writes it: {"id": "prod_1", "object": "product", ...
_OBJECT_HEAD = re.compile(r'\{\s*"id"\s*:\s*"([^"\\]+)"\s*,\s*"object"\s*:\s*"([^"\\]+)"\s*[,}]')


@dataclass(frozen=True)
class Retention:
    """How much of the log is kept: entries older than `days`, or beyond `entries`, go."""

    days: int = DEFAULT_RETENTION_DAYS
    entries: int = DEFAULT_RETENTION_ENTRIES

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Retention:
        """Retention from UHADMIN_STRIPE_LOG_DAYS / _MAX_ENTRIES (ConfigError naming one)."""
        values = {"days": DEFAULT_RETENTION_DAYS, "entries": DEFAULT_RETENTION_ENTRIES}
        for name, variable in (("days", RETENTION_DAYS_VARIABLE),
                               ("entries", RETENTION_ENTRIES_VARIABLE)):
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            if not raw.isdigit() or int(raw) < 1:
                raise ConfigError(f"{variable}: expected a whole number of at least 1 "
                                  f"(got {raw!r})")
            values[name] = int(raw)
        return cls(**values)


@dataclass(frozen=True)
class StripeLogEntry:
    """One HTTP attempt at Stripe (kind "request") or one webhook event received ("webhook").

    `call_id` links the attempts of one logical call; `retry` is 0 for the first attempt.
    `params` are the form-decoded parameters in the order sent, secrets redacted.
    """

    id: int
    time: datetime
    kind: str = "request"
    method: str = ""
    path: str = ""
    api_base: str = ""
    api_version: str = ""
    params: tuple[tuple[str, str], ...] = ()
    idempotency_key: str | None = None
    request_id: str | None = None
    status: int | None = None
    latency_ms: float | None = None
    call_id: str = ""
    retry: int = 0
    endpoint: str = ""
    served: str = ""
    sync_run: str | None = None
    listing_id: int | None = None
    listing_revision: int | None = None
    attempt_id: int | None = None
    error_type: str | None = None
    error_code: str | None = None
    decline_code: str | None = None
    error_message: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    response_excerpt: str = ""
    event_id: str | None = None
    event_type: str | None = None
    signature_verified: bool | None = None
    effect: str = ""

    @property
    def is_error(self) -> bool:
        return self.error_type is not None or (self.status is not None and self.status >= 400) \
            or self.status == 0

    def as_json(self) -> dict[str, Any]:
        """The shape `uhadmin log --json` prints for one entry."""
        return {
            "id": self.id, "time": self.time.isoformat(), "kind": self.kind,
            "method": self.method, "path": self.path, "status": self.status,
            "request_id": self.request_id, "idempotency_key": self.idempotency_key,
            "listing_id": self.listing_id, "listing_revision": self.listing_revision,
            "attempt_id": self.attempt_id, "latency_ms": self.latency_ms,
            "error_type": self.error_type, "error_code": self.error_code,
            "decline_code": self.decline_code, "error_message": self.error_message,
            "params": dict_of_params(self.params), "api_version": self.api_version,
            "call_id": self.call_id, "retry": self.retry, "endpoint": self.endpoint,
            "served": self.served, "sync_run": self.sync_run,
            "object_type": self.object_type, "object_id": self.object_id,
            "event_id": self.event_id, "event_type": self.event_type,
            "signature_verified": self.signature_verified, "effect": self.effect,
        }


STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "no answer")


@dataclass(frozen=True)
class StripeLogFilter:
    """Which entries to show; every field left empty matches everything."""

    listing_id: int | None = None
    listing_revision: int | None = None
    attempt_id: int | None = None
    status_class: str | None = None  # one of STATUS_CLASSES
    errors_only: bool = False
    method: str | None = None
    text: str = ""
    since: datetime | None = None
    call_id: str | None = None
    request_ids: tuple[str, ...] = field(default=())
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.status_class is not None and self.status_class not in STATUS_CLASSES:
            raise ValidationError.single("status_class",
                                         f"one of {', '.join(STATUS_CLASSES)}")


def status_class_of(status: int | None) -> str | None:
    """"2xx".."5xx", "no answer" for 0 (no response at all), None for a webhook entry."""
    if status is None:
        return None
    if status == 0:
        return "no answer"
    return f"{status // 100}xx"


_DURATION = re.compile(r"(\d+)\s*(s|sec|m|min|h|d|w)")
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, *, field_name: str = "since") -> timedelta:
    """"90s", "15m", "2h", "1d", "1h30m" -> timedelta; ValidationError naming the field."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ValidationError.single(field_name, "expected a duration like 90s, 15m, 2h, 1d "
                                                 f"or 1h30m (got {text!r})")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))


# --- shaping one raw exchange into an entry ---------------------------------------------

def redact_text(text: str) -> str:
    """Every secret-looking value in free text replaced."""
    # Every match holds one of these words: looking for them is a tenth of the regex's
    # cost, and most texts (every sync request) hold none.
    if not _has_secret_marker(text):
        return text
    return _SECRET_VALUE.sub(REDACTED, text)


def _has_secret_marker(text: str) -> bool:
    return ("k_test_" in text or "k_live_" in text or "whsec_" in text
            or "_secret_" in text)


@functools.lru_cache(maxsize=4096)  # the same few dozen names come back on every request
def is_secret_name(name: str) -> bool:
    """card[number], card[cvc], ...[secret]: secret by name; metadata keys are the caller's
    own words and never count (their values are still scanned for secret-looking text)."""
    if name.startswith("metadata[") or "[metadata]" in name:
        return False
    last = name.rsplit("[", 1)[-1].rstrip("]")
    return last.lower() in _SECRET_NAMES


def decode_params(query: str, body: str | bytes | None) -> tuple[tuple[str, str], ...]:
    """The form pairs of a URL query and a form body, in order, secrets redacted."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    pairs = _form_pairs(query) + _form_pairs(body or "") if query else _form_pairs(body or "")
    # One look at all values together stands for a look at each (a marker holds no
    # newline, so none can be missed): a sync request holds no secret-looking value.
    scan = _has_secret_marker("\n".join([value for _, value in pairs]))
    return tuple((name, REDACTED if is_secret_name(name)
                  else redact_text(value) if scan else value) for name, value in pairs)


def _form_pairs(text: str) -> list[tuple[str, str]]:
    """parse_qsl(text, keep_blank_values=True), at ~60 % of its cost: without an escaped
    "&" or "=" the text is unquoted once as a whole (the same pairs: an escape never spans
    a separator), not once per name and value."""
    if "%26" in text or "%3D" in text or "%3d" in text:
        return [(_unquote(name), _unquote(value)) for name, _, value in
                (part.partition("=") for part in text.split("&") if part)]
    whole = _unquote(text)
    return [(name, value) for name, _, value in
            (part.partition("=") for part in whole.split("&") if part)]


def _unquote(text: str) -> str:
    """unquote_plus(text); an ASCII text (what the SDK sends) is decoded as bytes at once,
    which is what unquote does with each run of ASCII it finds, at half the cost."""
    if "%" not in text:
        return text.replace("+", " ")
    if text.isascii():
        return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "replace")
    return unquote_plus(text)


def has_secret_name_part(lowered: str) -> bool:
    """Whether a lower-cased text holds a part of a secret name: every name in _SECRET_NAMES
    holds one, so a text without them names no secret."""
    return ("secret" in lowered or "password" in lowered or "api_key" in lowered
            or "cvc" in lowered or "number" in lowered or "exp_" in lowered)


def redact_json(value: Any) -> Any:
    """A parsed JSON value with secret fields and secret-looking strings replaced."""
    if isinstance(value, dict):
        return {key: REDACTED if (is_secret_name(key) and isinstance(item, str) and item)
                else redact_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def summarise_response(body: str | bytes | None) -> dict[str, Any]:
    """Object type and id, Stripe's error fields and a bounded, redacted excerpt."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    summary: dict[str, Any] = {"object_type": None, "object_id": None, "error_type": None,
                               "error_code": None, "decline_code": None,
                               "error_message": None, "response_excerpt": ""}
    if not body:
        return summary
    head = _OBJECT_HEAD.match(body)
    if head is not None and len(body) <= RESPONSE_EXCERPT_CHARS and "\\" not in body \
            and '"error"' not in body:
        # An object as Stripe writes one, id and type first: those two read from its head
        # rather than from parsing all of it (a sync's every answer).
        summary["object_id"], summary["object_type"] = head.group(1, 2)
        summary["response_excerpt"] = _redacted_as_text(body)
        return summary
    try:
        parsed = json.loads(body)
    except ValueError:
        summary["response_excerpt"] = redact_text(body)[:RESPONSE_EXCERPT_CHARS]
        return summary
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            summary["error_type"] = _text_or_none(error.get("type")) or "api_error"
            summary["error_code"] = _text_or_none(error.get("code"))
            summary["decline_code"] = _text_or_none(error.get("decline_code"))
            message = _text_or_none(error.get("message"))
            summary["error_message"] = redact_text(message)[:500] if message else None
        else:
            summary["object_type"] = _text_or_none(parsed.get("object"))
            summary["object_id"] = _text_or_none(parsed.get("id"))
    if len(body) <= RESPONSE_EXCERPT_CHARS and "\\" not in body:
        summary["response_excerpt"] = _redacted_as_text(body)
        return summary
    excerpt = json.dumps(redact_json(parsed), indent=1, sort_keys=False)
    summary["response_excerpt"] = excerpt[:RESPONSE_EXCERPT_CHARS]
    return summary


def _redacted_as_text(body: str) -> str:
    """A short JSON body without escapes as it came, redacted in its text: as safe as
    re-encoding the redacted parse (no escapes, so every string reads in the text as it does
    parsed), at a tenth of the cost; readable_excerpt() indents it for display."""
    if has_secret_name_part(body.lower()):  # "card[cvc]" too
        body = _SECRET_FIELD.sub(lambda found: f'{found.group(1)}"{REDACTED}"', body)
    return redact_text(body)


def readable_excerpt(excerpt: str) -> str:
    """A stored response excerpt as a person reads it: JSON indented (the log stores short
    bodies as they came), anything else (a cut-off excerpt, HTML) as it is."""
    if not excerpt.startswith(("{", "[")):
        return excerpt
    try:
        return json.dumps(json.loads(excerpt), indent=1, sort_keys=False)
    except ValueError:
        return excerpt


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


# --- parameters as nested values (snippets, --json) --------------------------------------

_BRACKETS = re.compile(r"\[([^\]]*)\]")


def dict_of_params(params: tuple[tuple[str, str], ...] | list) -> dict[str, Any]:
    """Form pairs ("line_items[0][price]", "price_1") back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for name, value in params:
        head = name.split("[", 1)[0]
        keys: list[str] = [head, *_BRACKETS.findall(name[len(head):])]
        node: Any = root
        for position, key in enumerate(keys):
            last = position == len(keys) - 1
            if last:
                child: Any = value
            else:  # "[0]" or "[]" next: a list; "[name]": a dict
                following = keys[position + 1]
                child = [] if following.isdigit() or following == "" else {}
            if isinstance(node, list):
                index = len(node) if key == "" else int(key) if key.isdigit() else None
                if index is None:
                    break
                while len(node) <= index:
                    node.append(None)
                if last or node[index] is None:
                    node[index] = child
                node = node[index]
            else:
                if last or key not in node:
                    node[key] = child
                node = node[key]
    return root


def typed_params(value: Any, *, inside_metadata: bool = False) -> Any:
    """Form strings typed the way a person writes them in code: "1500" -> 1500, "true" ->
    True; metadata values stay strings (Stripe keeps them as strings)."""
    if isinstance(value, dict):
        return {key: typed_params(item, inside_metadata=inside_metadata or key == "metadata")
                for key, item in value.items()}
    if isinstance(value, list):
        return [typed_params(item, inside_metadata=inside_metadata) for item in value]
    if inside_metadata or not isinstance(value, str):
        return value
    if re.fullmatch(r"-?(?:0|[1-9]\d{0,15})", value):
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    return value


def describe_entry(entry: StripeLogEntry) -> str:
    """An entry as a person reads it: the request, then the answer."""
    lines: list[str] = []
    if entry.kind == "webhook":
        verified = "signature verified" if entry.signature_verified else "signature NOT verified"
        lines += [f"webhook {entry.event_type or '?'} {entry.event_id or ''}".rstrip(),
                  f"   {verified}; {entry.effect}"]
    if entry.kind == "request":
        lines.append(f"{entry.method} {entry.api_base}{entry.path}")
        lines += [f"  Stripe-Version: {entry.api_version}"] if entry.api_version else []
        lines += [f"  Idempotency-Key: {entry.idempotency_key}"] if entry.idempotency_key \
            else []
        lines += [f"  {name} = {value}" for name, value in entry.params]
        lines += ["", f"-> {entry.status if entry.status else 'no answer'}"
                  + (f"  Request-Id: {entry.request_id}" if entry.request_id else "")]
        if entry.call_id:
            lines.append(f"   call {entry.call_id} ({entry.endpoint}), attempt {entry.retry + 1}")
    if entry.object_type:
        lines.append(f"   {entry.object_type} {entry.object_id or ''}".rstrip())
    if entry.error_type:
        lines.append(f"   error {entry.error_type} code={entry.error_code or '-'} "
                     f"decline_code={entry.decline_code or '-'}: {entry.error_message or ''}")
    if entry.response_excerpt:
        lines += ["", entry.response_excerpt]
    return "\n".join(lines)
