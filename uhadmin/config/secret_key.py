"""Stripe secrets: recognising a key by its prefix, and a value that shows only its mask."""

from __future__ import annotations

import re
from typing import Literal

from uhadmin.errors import ConfigError

STRIPE_KEY_VARIABLE = "UHADMIN_STRIPE_API_KEY"
WEBHOOK_SECRET_VARIABLE = "UHADMIN_WEBHOOK_SECRET"

KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
_MASKABLE_PREFIX = re.compile(r"^(?:[a-z]{2,5}_(?:test_|live_)?)")
# Anything that could be a Stripe secret: refused by the preferences file wherever it appears.
LOOKS_LIKE_SECRET = re.compile(r"(?:sk|rk)_(?:test|live)_|whsec_")


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
    _value: str

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
    problem = stripe_key_problem(raw)
    if problem:
        raise ConfigError(f"{STRIPE_KEY_VARIABLE}: {problem}")
    return "live" if raw[3:7] == "live" else "test"


def stripe_key_problem(raw: str) -> str | None:
    """What is wrong with `raw` as a Stripe secret or restricted key, or None."""
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


def webhook_secret_problem(raw: str) -> str | None:
    """What is wrong with `raw` as a webhook signing secret, or None."""
    if not raw.startswith("whsec_") or not re.fullmatch(r"whsec_[A-Za-z0-9_+/=]+", raw):
        return f"must be a webhook signing secret starting with whsec_ (got {mask_key(raw)})"
    return None
