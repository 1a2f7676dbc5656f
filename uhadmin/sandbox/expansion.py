"""`expand[]`: Stripe's dotted expansion (up to four levels) over the objects the sandbox keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uhadmin.sandbox.common import public
from uhadmin.sandbox.errors import invalid_param

MAX_DEPTH = 4
# What each field leads to: (kind of the object it holds or expands to, whether it is an
# expandable id). Kind None: a field Stripe lets you expand that is always null here (no
# customers, invoices, ... in the sandbox), so expanding it leaves it null, as on Stripe.
LINKS: dict[str, dict[str, tuple[str | None, bool]]] = {
    "product": {"default_price": ("price", True)},
    "price": {"product": ("product", True)},
    "checkout_session": {
        "line_items": ("item_list", True), "payment_intent": ("payment_intent", True),
        "customer": (None, True), "invoice": (None, True), "payment_link": (None, True),
        "setup_intent": (None, True), "subscription": (None, True)},
    "item_list": {"data": ("item", False)},
    "item": {"price": ("price", False)},
    "payment_intent": {
        "latest_charge": ("charge", True), "payment_method": ("payment_method", True),
        "application": (None, True), "customer": (None, True), "on_behalf_of": (None, True),
        "review": (None, True)},
    "charge": {
        "payment_intent": ("payment_intent", True),
        "balance_transaction": ("balance_transaction", True), "application": (None, True),
        "application_fee": (None, True), "customer": (None, True),
        "failure_balance_transaction": (None, True), "on_behalf_of": (None, True),
        "review": (None, True), "source_transfer": (None, True), "transfer": (None, True)},
    "event": {}, "webhook_endpoint": {},
}
# Objects a field names that the sandbox does not keep: expanding them is refused by name
# rather than answered with the bare id.
UNSERVED = {"payment_method", "balance_transaction"}


def parse_paths(kind: str, paths: list[str], list_prefix: bool) -> list[list[str]]:
    """Each `expand[]` entry as its field names, checked against what `kind` can expand."""
    parsed = []
    for path in paths:
        segments = path.split(".")
        if list_prefix:
            if segments[0] != "data" or len(segments) == 1:
                raise invalid_param("expand", f"This property cannot be expanded ({path}). "
                                    f"You may want to try expanding 'data.{path}' instead.")
            segments = segments[1:]
        if len(segments) > MAX_DEPTH:
            raise invalid_param("expand", "You cannot expand more than 4 levels of a "
                                f"property. Property: {path}")
        current: str | None = kind
        for index, name in enumerate(segments):
            link = LINKS.get(current or "", {}).get(name)
            last = index == len(segments) - 1
            if link is None or (last and not link[1]) or (not last and link[0] is None):
                raise invalid_param("expand", f"This property cannot be expanded ({path}).")
            if link[0] in UNSERVED:
                raise invalid_param("expand", f"The offline sandbox does not keep "
                                    f"{link[0]} objects, so `{path}` cannot be expanded.")
            current = link[0]
        parsed.append(segments)
    return parsed


class Expansion:
    """Mixed into StripeApi; relies on its store."""

    store: Any

    def _expand(self, obj: dict[str, Any], kind: str, expand: list[str]) -> dict[str, Any]:
        return self._renderer(kind, expand)(obj)

    def _renderer(self, kind: str, expand: list[str], prefix: str = "",
                  ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """How to show objects of `kind` with `expand` (checked now, so a list refuses a bad
        path even when it is empty); `prefix` "data." for list endpoints."""
        if not expand:
            return public
        parsed = parse_paths(kind, expand, prefix == "data.")

        def render(obj: dict[str, Any]) -> dict[str, Any]:
            shown = public(obj)
            for segments in parsed:
                self._expand_into(shown, kind, segments)
            return shown

        return render

    def _expand_into(self, shown: dict[str, Any], kind: str, segments: list[str]) -> None:
        """Expand `segments` inside `shown`, a copy this request owns (nested values are
        copied before they change: stored objects are never changed in place)."""
        name, rest = segments[0], segments[1:]
        target, is_id = LINKS[kind][name]
        value = shown.get(name)
        if target == "item_list":
            session = self.store.get("checkout_session", shown["id"])
            if session is None:
                return
            items = session["_line_items"]
            value = {"object": "list", "data": items[:100], "has_more": len(items) > 100,
                     "url": f"/v1/checkout/sessions/{shown['id']}/line_items"}
        elif is_id and isinstance(value, str):
            found = self.store.get(target or "", value)
            if found is None and target == "price":
                found = self.store.get("inline_price", value)
            value = public(found) if found is not None else value
        if not isinstance(value, dict) or target is None:
            return
        if rest:
            value = dict(value)
            if isinstance(value.get("data"), list) and rest[0] == "data":
                items = [dict(item) for item in value["data"]]
                value["data"] = items
                for item in items:
                    if rest[1:]:
                        self._expand_into(item, LINKS[target]["data"][0] or "", rest[1:])
            else:
                self._expand_into(value, target, rest)
        shown[name] = value
