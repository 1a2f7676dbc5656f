"""Decode Stripe's form bodies: `a[b][0][c]=v` bracket notation into nested dicts."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from uhadmin.sandbox.errors import StripeApiError

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def split_key(key: str) -> list[str]:
    """`line_items[0][price]` -> ['line_items', '0', 'price']; `expand[]` -> ['expand', '']."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    rest = "[" + rest
    segments = _SEGMENT.findall(rest)
    if "".join(f"[{s}]" for s in segments) != rest:
        raise StripeApiError(400, f"Invalid parameter name: {key}", param=key,
                             code="parameter_unknown", stored=False)
    return [head, *segments]


def decode_form(text: str) -> dict[str, Any]:
    """Nested dicts whose leaves are strings; lists stay dicts keyed by index (the validator,
    which knows the expected type, turns them into lists)."""
    result: dict[str, Any] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise StripeApiError(400, "Invalid request: a percent-encoded parameter is not "
                             "UTF-8.", stored=False) from None
    for key, value in pairs:
        path = split_key(key)
        node: Any = result
        for depth, segment in enumerate(path):
            last = depth == len(path) - 1
            if segment == "":
                # `expand[]=a&expand[]=b`: each empty index appends.
                segment = str(len(node))
            if not isinstance(node, dict):
                raise _conflict(key)
            if last:
                if isinstance(node.get(segment), dict):
                    raise _conflict(key)
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    # `metadata=` (unset all) together with `metadata[k]=v` makes no sense.
                    raise _conflict(key)
                node = child
    return result


def _conflict(key: str) -> StripeApiError:
    return StripeApiError(400, f"Invalid parameter: {key} is given both as a value and as a hash.",
                          param=split_key(key)[0], code="parameter_invalid_string", stored=False)
