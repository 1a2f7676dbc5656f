"""Reading what the SDK answers: StripeObjects and the plain dicts of raw calls alike."""

from __future__ import annotations

from typing import Any


def response_field(obj: Any, name: str) -> Any:
    """A field of a response: a StripeObject, or the plain dict a raw call answers
    (catalog._raw_post); None when it has no such field."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def livemode_of(result: Any) -> bool | None:
    """The `livemode` a response carries (a list carries it on its items)."""
    livemode = response_field(result, "livemode")
    if isinstance(livemode, bool):
        return livemode
    data = response_field(result, "data")
    if isinstance(data, list) and data:
        livemode = response_field(data[0], "livemode")
        if isinstance(livemode, bool):
            return livemode
    return None
