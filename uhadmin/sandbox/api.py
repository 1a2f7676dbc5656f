"""StripeApi: the sandbox's Stripe v1 endpoints over the shared store, with the indexes, events,
paging and search that every endpoint family uses."""

from __future__ import annotations

import base64
import copy
import heapq
from collections.abc import Callable
from typing import Any

import stripe.params as sp

from uhadmin.sandbox import search
from uhadmin.sandbox.account import account_object
from uhadmin.sandbox.catalog import CatalogEndpoints
from uhadmin.sandbox.charges import ChargeEndpoints
from uhadmin.sandbox.checkout import CheckoutEndpoints
from uhadmin.sandbox.clock import SandboxClock
from uhadmin.sandbox.common import API_VERSION, ApiRequest, public
from uhadmin.sandbox.errors import invalid_param, no_such
from uhadmin.sandbox.expansion import Expansion
from uhadmin.sandbox.notifications import EventEndpoints
from uhadmin.sandbox.payments import PaymentAttempts
from uhadmin.sandbox.store import SandboxStore, new_id
from uhadmin.sandbox.validation import validate


class StripeApi(CatalogEndpoints, CheckoutEndpoints, PaymentAttempts, ChargeEndpoints,
                EventEndpoints, Expansion):
    """Endpoint handlers. Callers hold `store.lock` around each call."""

    def __init__(self, store: SandboxStore, clock: SandboxClock, base_url: Callable[[], str],
                 on_event: Callable[[dict[str, Any]], None], search_delay_s: float = 0.0,
                 allow_remote_webhooks: bool = False) -> None:
        self.store = store
        self.allow_remote_webhooks = allow_remote_webhooks
        self.clock = clock
        self.base_url = base_url
        self.on_event = on_event
        self.search_delay_s = search_delay_s
        # Search sees each object as it was `search_delay_s` ago: (visible_at, snapshot) pairs.
        self._search_versions: dict[str, dict[str, list[tuple[float, dict[str, Any]]]]] = {
            "product": {}, "price": {}}
        self._prices_by_product: dict[str, set[str]] = {}
        self._expiry_heap: list[tuple[int, str]] = []
        self.rebuild_indexes()

    # ----------------------------------------------------------------- indexes
    def rebuild_indexes(self) -> None:
        """After loading a persisted account: every object is searchable at once."""
        self._prices_by_product.clear()
        for kind in ("product", "price"):
            self._search_versions[kind] = {
                oid: [(0.0, public(obj))] for oid, obj in self.store.objects[kind].items()}
        for price in self.store.objects["price"].values():
            self._prices_by_product.setdefault(price["product"], set()).add(price["id"])
        self._expiry_heap = sorted((s["expires_at"], sid) for sid, s in
                                   self.store.objects["checkout_session"].items()
                                   if s["status"] == "open")

    def apply_external_changes(self, changed: list[tuple[str, dict[str, Any]]],
                               deleted: list[tuple[str, str]], full: bool) -> None:
        """Another process changed the shared account file: bring the indexes along."""
        if full:
            self.rebuild_indexes()
            return
        for kind, object_id in deleted:
            if kind in self._search_versions:
                self._search_versions[kind].pop(object_id, None)
        for kind, obj in changed:
            if kind in self._search_versions:
                self._index_for_search(kind, obj)
            if kind == "price":
                self._prices_by_product.setdefault(obj["product"], set()).add(obj["id"])
            elif kind == "checkout_session" and obj["status"] == "open":
                heapq.heappush(self._expiry_heap, (obj["expires_at"], obj["id"]))

    def sessions_due(self) -> bool:
        """Whether `expire_due_sessions` may have something to do (so the request writes)."""
        return bool(self._expiry_heap) and self._expiry_heap[0][0] <= self._now()

    def _index_for_search(self, kind: str, obj: dict[str, Any]) -> None:
        versions = self._search_versions[kind].setdefault(obj["id"], [])
        now = self.clock.now()
        # Drop versions already superseded by a visible newer one.
        visible = [i for i, (at, _) in enumerate(versions) if at <= now]
        if visible:
            del versions[:visible[-1]]
        versions.append((now + self.search_delay_s, public(obj)))

    # ----------------------------------------------------------------- helpers
    def _now(self) -> int:
        return self.clock.timestamp()

    def emit(self, event_type: str, obj: dict[str, Any], request: ApiRequest | None = None,
             previous_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"object": public(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event = {
            "id": new_id("evt_"), "object": "event", "api_version": API_VERSION,
            "created": self._now(), "data": data, "livemode": False, "pending_webhooks": 0,
            "request": {"id": request.request_id if request else None,
                        "idempotency_key": request.idempotency_key if request else None},
            "type": event_type,
        }
        self.store.put("event", event)
        self.on_event(event)
        return event

    @staticmethod
    def _check_metadata(metadata: Any, param: str = "metadata") -> None:
        if metadata == "" or metadata is None:
            return
        if len(metadata) > 50:
            raise invalid_param(param, "Metadata can have up to 50 keys.")
        for key, value in metadata.items():
            if len(key) > 40:
                raise invalid_param(f"{param}[{key}]",
                                    "Metadata keys can have up to 40 characters.")
            if len(value) > 500:
                raise invalid_param(f"{param}[{key}]",
                                    "Metadata values can have up to 500 characters.")

    @staticmethod
    def _merged_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
        """Stripe's rules: `metadata=""` clears all, a key set to "" is removed."""
        if update == "":
            return {}
        merged = dict(current)
        for key, value in update.items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged

    @staticmethod
    def _check_length(params: dict[str, Any], name: str, limit: int) -> None:
        value = params.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise invalid_param(name, f"Invalid string: {value[:20]}...; must be at most "
                                      f"{limit} characters", code="string_too_long")

    @staticmethod
    def _list_envelope(data: list[dict[str, Any]], has_more: bool, url: str) -> dict[str, Any]:
        return {"object": "list", "data": data, "has_more": has_more, "url": url}

    def _page(self, items: list[dict[str, Any]], params: dict[str, Any], kind: str,
              url: str, shown: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
              ) -> dict[str, Any]:
        """Newest-first cursor paging: `limit` 1..100, `starting_after`, `ending_before`."""
        limit = params.get("limit", 10)
        if limit < 1:
            raise invalid_param("limit", "This value must be greater than or equal to 1.",
                                code="parameter_invalid_integer")
        if limit > 100:
            raise invalid_param("limit", "This value must be less than or equal to 100.",
                                code="parameter_invalid_integer")
        ids = [item["id"] for item in items]
        if "starting_after" in params and "ending_before" in params:
            raise invalid_param("starting_after", "You may only specify one of these "
                                "parameters: ending_before, starting_after.")
        if "starting_after" in params:
            start = self._cursor_index(ids, params["starting_after"], kind, "starting_after") + 1
            page = items[start:start + limit]
            has_more = start + limit < len(items)
        elif "ending_before" in params:
            end = self._cursor_index(ids, params["ending_before"], kind, "ending_before")
            begin = max(0, end - limit)
            page = items[begin:end]
            has_more = begin > 0
        else:
            page = items[:limit]
            has_more = limit < len(items)
        render = shown or public
        return self._list_envelope([render(item) for item in page], has_more, url)

    def _cursor_index(self, ids: list[str], cursor: str, kind: str, param: str) -> int:
        try:
            return ids.index(cursor)
        except ValueError:
            if self.store.get(kind, cursor) is None:
                raise no_such(kind.replace("_", " "), cursor, param) from None
            # The cursor object exists but the filters exclude it: Stripe still pages from
            # its place in creation order.
            order = list(reversed(self.store.objects[kind]))
            position = order.index(cursor)
            before = {oid for oid in order[:position + 1]}
            return max((i for i, oid in enumerate(ids) if oid in before), default=-1)

    @staticmethod
    def _created_filter(items: list[dict[str, Any]], created: Any) -> list[dict[str, Any]]:
        if created is None:
            return items
        if isinstance(created, int):
            return [i for i in items if i["created"] == created]
        checks = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
                  "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}
        for op, bound in created.items():
            items = [i for i in items if checks[op](i["created"], bound)]
        return items

    def _search(self, kind: str, params: dict[str, Any], fields: set[str], url: str,
                ) -> dict[str, Any]:
        limit = params.get("limit", 10)
        if not 1 <= limit <= 100:
            raise invalid_param("limit", "This value must be between 1 and 100.",
                                code="parameter_invalid_integer")
        match = search.matcher(params["query"], fields)
        offset = 0
        if params.get("page"):
            try:
                offset = int(base64.urlsafe_b64decode(params["page"].encode()).decode())
            except (ValueError, UnicodeDecodeError):
                raise invalid_param("page", "Invalid page token.") from None
        now = self.clock.now()
        hits: list[dict[str, Any]] = []
        for object_id in reversed(self.store.objects[kind]):
            visible = [snap for at, snap in self._search_versions[kind].get(object_id, ())
                       if at <= now]
            if visible and match(visible[-1]):
                hits.append(visible[-1])
        page = hits[offset:offset + limit]
        has_more = offset + limit < len(hits)
        token = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
        return {"object": "search_result", "data": copy.deepcopy(page), "has_more": has_more,
                "next_page": token if has_more else None, "url": url}

    # ----------------------------------------------------------------- account
    def retrieve_account(self, req: ApiRequest) -> dict[str, Any]:
        validate(req.params, sp.AccountRetrieveCurrentParams)
        return account_object(req.api_key)
