"""The sandbox's Stripe v1 endpoints: products, prices, checkout sessions, payment intents,
events and webhook endpoints, over the shared store."""

from __future__ import annotations

import base64
import copy
import heapq
from collections.abc import Callable
from typing import Any

import stripe.params as sp

from uhadmin.sandbox import search
from uhadmin.sandbox.account import account_object
from uhadmin.sandbox.charges import ChargeEndpoints
from uhadmin.sandbox.checkout import CheckoutEndpoints
from uhadmin.sandbox.clock import SandboxClock
from uhadmin.sandbox.common import API_VERSION, ApiRequest, public
from uhadmin.sandbox.errors import StripeApiError, invalid_param, missing_param, no_such
from uhadmin.sandbox.expansion import Expansion
from uhadmin.sandbox.notifications import EventEndpoints
from uhadmin.sandbox.payments import PaymentAttempts
from uhadmin.sandbox.prices import check_unit_amount, checked_currency
from uhadmin.sandbox.store import SandboxStore, new_id
from uhadmin.sandbox.validation import validate


class StripeApi(CheckoutEndpoints, PaymentAttempts, ChargeEndpoints, EventEndpoints,
                Expansion):
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

    # ----------------------------------------------------------------- products
    def _product(self, product_id: str, param: str = "id") -> dict[str, Any]:
        product = self.store.get("product", product_id)
        if product is None:
            raise no_such("product", product_id, param, named_in_request=param != "id")
        return product

    def _price(self, price_id: str, param: str = "id") -> dict[str, Any]:
        price = self.store.get("price", price_id)
        if price is None:
            raise no_such("price", price_id, param, named_in_request=param != "id")
        return price

    def create_product(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.ProductCreateParams)
        if not p["name"]:
            raise missing_param("name")
        for name, limit in (("name", 5000), ("description", 40000), ("unit_label", 12),
                            ("statement_descriptor", 22)):
            self._check_length(p, name, limit)
        if len(p.get("images", [])) > 8:
            raise invalid_param("images", "You can only provide up to 8 images.")
        self._check_metadata(p.get("metadata"))
        product_id = p.get("id") or new_id("prod_", 14)
        if self.store.get("product", product_id) is not None:
            raise StripeApiError(400, "Product already exists.", code="resource_already_exists",
                                 param="id")
        now = self._now()
        product = {
            "id": product_id, "object": "product", "active": p.get("active", True),
            "created": now, "default_price": None,
            "description": p.get("description") or None, "images": p.get("images", []),
            "livemode": False, "marketing_features": p.get("marketing_features", []),
            "metadata": p.get("metadata") or {}, "name": p["name"],
            "package_dimensions": p.get("package_dimensions"),
            "shippable": p.get("shippable"), "statement_descriptor":
                p.get("statement_descriptor"), "tax_code": p.get("tax_code"),
            "type": p.get("type", "service"), "unit_label": p.get("unit_label"),
            "updated": now, "url": p.get("url"),
        }
        price = None
        if "default_price_data" in p:
            price = self._build_price(p["default_price_data"], product_id, "default_price_data")
            product["default_price"] = price["id"]
        self.store.put("product", product)
        self._index_for_search("product", product)
        self.emit("product.created", product, req)
        if price is not None:
            self._store_new_price(price, req)
        return self._expand(product, "product", p.get("expand", []))

    def retrieve_product(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.ProductRetrieveParams)
        return self._expand(self._product(req.path_args["id"]), "product", p.get("expand", []))

    def update_product(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.ProductUpdateParams)
        product = self._product(req.path_args["id"])
        for name, limit in (("name", 5000), ("description", 40000), ("unit_label", 12),
                            ("statement_descriptor", 22)):
            self._check_length(p, name, limit)
        if "name" in p and not p["name"]:
            raise invalid_param("name", "You cannot unset the name of a product.")
        if isinstance(p.get("images"), list) and len(p["images"]) > 8:
            raise invalid_param("images", "You can only provide up to 8 images.")
        self._check_metadata(p.get("metadata"))
        updated = copy.deepcopy(product)
        if p.get("default_price") == "":
            # Stripe accepts an empty string to unset the default price.
            updated["default_price"] = None
        elif "default_price" in p:
            price = self._price(p["default_price"], "default_price")
            if price["product"] != product["id"]:
                raise invalid_param("default_price", f"The price `{price['id']}` does not "
                                    f"belong to product `{product['id']}`.", stored=True)
            if not price["active"]:
                raise invalid_param("default_price", f"The price `{price['id']}` is inactive "
                                    "and cannot be set as the default price.", stored=True)
            updated["default_price"] = price["id"]
        for name in ("active", "name", "shippable", "tax_code", "url", "unit_label",
                     "statement_descriptor", "description", "package_dimensions",
                     "marketing_features", "images"):
            if name in p:
                value = p[name]
                if value == "":
                    value = [] if name in ("images", "marketing_features") else None
                updated[name] = value
        if "metadata" in p:
            updated["metadata"] = self._merged_metadata(product["metadata"], p["metadata"])
        previous = {k: copy.deepcopy(v) for k, v in product.items()
                    if not k.startswith("_") and updated.get(k) != v}
        if previous:
            updated["updated"] = self._now()
        self.store.put("product", updated)
        self._index_for_search("product", updated)
        if previous:
            self.emit("product.updated", updated, req, previous)
        return self._expand(updated, "product", p.get("expand", []))

    def list_products(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.ProductListParams)
        items = self.store.newest_first("product")
        if "active" in p:
            items = [i for i in items if i["active"] == p["active"]]
        if "ids" in p:
            wanted = set(p["ids"])
            items = [i for i in items if i["id"] in wanted]
        for name in ("shippable", "url", "type"):
            if name in p:
                items = [i for i in items if i.get(name) == p[name]]
        items = self._created_filter(items, p.get("created"))
        expand = p.get("expand", [])
        return self._page(items, p, "product", "/v1/products",
                          self._renderer("product", expand, "data."))

    def retrieve_account(self, req: ApiRequest) -> dict[str, Any]:
        validate(req.params, sp.AccountRetrieveCurrentParams)
        return account_object(req.api_key)

    def delete_product(self, req: ApiRequest) -> dict[str, Any]:
        validate(req.params, sp.ProductDeleteParams)
        product = self._product(req.path_args["id"])
        if self._prices_by_product.get(product["id"]):
            raise StripeApiError(400, "This product cannot be deleted because it has one or "
                                 "more user-created prices.", code="product_has_prices")
        self.store.delete("product", product["id"])
        self._search_versions["product"].pop(product["id"], None)
        self.emit("product.deleted", product, req)
        return {"id": product["id"], "object": "product", "deleted": True}

    def search_products(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.ProductSearchParams)
        return self._search("product", p, {"active", "name", "description", "metadata",
                                           "created", "id", "shippable", "url"},
                            "/v1/products/search")

    # ----------------------------------------------------------------- prices
    def _build_price(self, p: dict[str, Any], product_id: str, prefix: str = "",
                     ) -> dict[str, Any]:
        def name(field_name: str) -> str:
            return f"{prefix}[{field_name}]" if prefix else field_name

        if "currency" not in p:
            raise missing_param(name("currency"))
        currency = checked_currency(p["currency"], name("currency"))
        has_amount = "unit_amount" in p or "unit_amount_decimal" in p
        if not has_amount and "custom_unit_amount" not in p:
            raise missing_param(name("unit_amount"))
        if "unit_amount" in p and "unit_amount_decimal" in p:
            raise invalid_param(name("unit_amount_decimal"), "You may only specify one of "
                                "these parameters: unit_amount, unit_amount_decimal.")
        unit_amount = p.get("unit_amount")
        decimal_amount = p.get("unit_amount_decimal")
        if decimal_amount is not None:
            if decimal_amount == decimal_amount.to_integral_value():
                unit_amount = int(decimal_amount)
        check_unit_amount(p.get("unit_amount"), currency, name("unit_amount"))
        check_unit_amount(decimal_amount, currency, name("unit_amount_decimal"))
        self._check_metadata(p.get("metadata"), name("metadata"))
        recurring = p.get("recurring")
        return {
            "id": new_id("price_"), "object": "price", "active": p.get("active", True),
            "billing_scheme": "per_unit", "created": self._now(), "currency": currency,
            "custom_unit_amount": p.get("custom_unit_amount"), "livemode": False,
            "lookup_key": None, "metadata": p.get("metadata") or {},
            "nickname": p.get("nickname"), "product": product_id,
            "recurring": ({"interval": recurring["interval"],
                           "interval_count": recurring.get("interval_count", 1),
                           "usage_type": recurring.get("usage_type", "licensed"),
                           "meter": None, "trial_period_days": None}
                          if recurring else None),
            "tax_behavior": p.get("tax_behavior", "unspecified"), "tiers_mode": None,
            "transform_quantity": None, "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": (str(decimal_amount) if decimal_amount is not None
                                    else None if unit_amount is None else str(unit_amount)),
        }

    def _store_new_price(self, price: dict[str, Any], req: ApiRequest) -> None:
        self.store.put("price", price)
        self._prices_by_product.setdefault(price["product"], set()).add(price["id"])
        self._index_for_search("price", price)
        self.emit("price.created", price, req)

    def _claim_lookup_key(self, price: dict[str, Any], lookup_key: str | None,
                          transfer: bool, req: ApiRequest) -> None:
        if lookup_key:
            if len(lookup_key) > 200:
                raise invalid_param("lookup_key", "Lookup keys can have up to 200 characters.")
            for other in self.store.objects["price"].values():
                if other["id"] != price["id"] and other.get("lookup_key") == lookup_key:
                    if not transfer:
                        raise invalid_param("lookup_key", f"A price (`{other['id']}`) already "
                                            "uses that lookup key.", stored=True,
                                            code="lookup_key_already_exists")
                    moved = dict(other, lookup_key=None)
                    self.store.put("price", moved)
                    self._index_for_search("price", moved)
                    self.emit("price.updated", moved, req, {"lookup_key": lookup_key})
        price["lookup_key"] = lookup_key or None

    def create_price(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.PriceCreateParams)
        if "product" in p and "product_data" in p:
            raise invalid_param("product", "You may only specify one of these parameters: "
                                "product, product_data.")
        created_product = None
        if "product" in p:
            product_id = self._product(p["product"], "product")["id"]
        elif "product_data" in p:
            data = p["product_data"]
            self._check_length(data, "name", 5000)
            created_product = {
                "id": data.get("id") or new_id("prod_", 14), "object": "product",
                "active": data.get("active", True),
                "created": self._now(), "default_price": None, "description": None,
                "images": [], "livemode": False, "marketing_features": [],
                "metadata": data.get("metadata") or {}, "name": data["name"],
                "package_dimensions": None, "shippable": None,
                "statement_descriptor": data.get("statement_descriptor"),
                "tax_code": data.get("tax_code"), "type": "service",
                "unit_label": data.get("unit_label"), "updated": self._now(), "url": None}
            if self.store.get("product", created_product["id"]) is not None:
                raise StripeApiError(400, "Product already exists.",
                                     code="resource_already_exists", param="product_data[id]")
            product_id = created_product["id"]
        else:
            raise missing_param("product")
        price = self._build_price(p, product_id)
        self._claim_lookup_key(price, p.get("lookup_key"), p.get("transfer_lookup_key", False),
                               req)
        if created_product is not None:
            self.store.put("product", created_product)
            self._index_for_search("product", created_product)
            self.emit("product.created", created_product, req)
        self._store_new_price(price, req)
        return self._expand(price, "price", p.get("expand", []))

    def retrieve_price(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.PriceRetrieveParams)
        price_id = req.path_args["id"]
        price = self.store.get("price", price_id) or self.store.get("inline_price", price_id)
        if price is None:
            raise no_such("price", price_id)
        return self._expand(price, "price", p.get("expand", []))

    def update_price(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.PriceUpdateParams)
        price = self._price(req.path_args["id"])
        self._check_metadata(p.get("metadata"))
        updated = copy.deepcopy(price)
        if p.get("active") is False and price["active"]:
            product = self.store.get("product", price["product"])
            if product is not None and product.get("default_price") == price["id"]:
                # Stripe's own wording (stripe-python issue #658).
                raise invalid_param("active", "This price cannot be archived because it is "
                                    "the default price of its product.", stored=True)
        for name in ("active", "nickname", "tax_behavior", "currency_options"):
            if name in p:
                updated[name] = None if p[name] == "" else p[name]
        if "metadata" in p:
            updated["metadata"] = self._merged_metadata(price["metadata"], p["metadata"])
        if "lookup_key" in p:
            self._claim_lookup_key(updated, p["lookup_key"] or None,
                                   p.get("transfer_lookup_key", False), req)
        previous = {k: copy.deepcopy(v) for k, v in price.items()
                    if not k.startswith("_") and updated.get(k) != v}
        self.store.put("price", updated)
        self._index_for_search("price", updated)
        if previous:
            self.emit("price.updated", updated, req, previous)
        return self._expand(updated, "price", p.get("expand", []))

    def list_prices(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.PriceListParams)
        items = self.store.newest_first("price")
        if "active" in p:
            items = [i for i in items if i["active"] == p["active"]]
        if "product" in p:
            items = [i for i in items if i["product"] == p["product"]]
        if "lookup_keys" in p:
            wanted = set(p["lookup_keys"])
            items = [i for i in items if i.get("lookup_key") in wanted]
        if "currency" in p:
            items = [i for i in items if i["currency"] == p["currency"].lower()]
        if "type" in p:
            items = [i for i in items if i["type"] == p["type"]]
        items = self._created_filter(items, p.get("created"))
        expand = p.get("expand", [])
        return self._page(items, p, "price", "/v1/prices",
                          self._renderer("price", expand, "data."))

    def search_prices(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.PriceSearchParams)
        return self._search("price", p, {"active", "currency", "lookup_key", "metadata",
                                         "product", "type", "created", "id"},
                            "/v1/prices/search")
