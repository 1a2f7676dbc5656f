"""A request's URL and parameters as the Stripe log stores them (parameters: JSON pairs)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii as json_string
from urllib.parse import urlsplit

from uhadmin.domain.stripe_log import (
    _has_secret_marker,
    _unquote,
    decode_params,
    has_secret_name_part,
)

_holds_equals = operator.methodcaller("__contains__", "=")


def split_url(url: str) -> tuple[str, str, str]:
    """(api_base, path, query) of a request URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path, parts.query


def params_json(params: Sequence[tuple[str, str]]) -> str:
    """json.dumps(params) for pairs of strings, the same text, by json's own string encoder:
    json.dumps sets up an encoder on every call, about twice what this costs."""
    return "[" + ", ".join(["[" + json_string(name) + ", " + json_string(value) + "]"
                            for name, value in params]) + "]"


def params_json_of(query: str, body: str | bytes | None) -> str:
    """params_json(decode_params(query, body)): the same text, and for a sync's request (no
    escaped "&" or "=", no secret-looking name or value) without making a pair at all.

    Such a text unquoted whole reads as its pairs (see _form_pairs); json's encoder escapes
    neither "&" nor "=", so encoding it whole and turning each "&" into `"], ["` and each
    "=" into `", "` writes each name and value as encoding it alone would. A text that could
    hold anything to redact takes decode_params, which looks at every pair."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = f"{query}&{body}" if query and body else query or body or ""
    if not text:
        return "[]"
    if "%26" in text or "%3D" in text or "%3d" in text:
        return params_json(decode_params(query, body))
    whole = _unquote(text)
    parts = whole.split("&")
    # Each part holds one "=": as many as there are parts, and none without.
    if (whole.count("=") != len(parts) or not all(map(_holds_equals, parts))
            or _has_secret_marker(whole) or has_secret_name_part(whole.lower())):
        return params_json(decode_params(query, body))
    return '[[' + json_string(whole).replace("&", '"], ["').replace("=", '", "') + ']]'
