"""The events feed and webhook endpoints (`/v1/events`, `/v1/webhook_endpoints`)."""

from __future__ import annotations

import copy
import secrets
from typing import Any

import stripe.params as sp

from uhadmin.sandbox.common import ApiRequest
from uhadmin.sandbox.errors import invalid_param, no_such
from uhadmin.sandbox.store import new_id
from uhadmin.sandbox.validation import validate
from uhadmin.sandbox.webhooks import is_loopback_url, remote_webhook_refusal


class EventEndpoints:
    """Mixed into StripeApi; relies on its store, clock and paging helpers."""

    store: Any
    allow_remote_webhooks: bool
    _page: Any
    _expand: Any
    _renderer: Any
    _created_filter: Any
    _check_metadata: Any
    _merged_metadata: Any
    _now: Any

    def list_events(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.EventListParams)
        if "type" in p and "types" in p:
            raise invalid_param("types", "You may only specify one of these parameters: "
                                "type, types.")
        items = self.store.newest_first("event")
        if "type" in p:
            wanted = p["type"]
            if wanted.endswith(".*"):
                items = [e for e in items if e["type"].startswith(wanted[:-1])]
            else:
                items = [e for e in items if e["type"] == wanted]
        if "types" in p:
            types = set(p["types"])
            items = [e for e in items if e["type"] in types]
        if "delivery_success" in p:
            items = [e for e in items if (e["pending_webhooks"] == 0) == p["delivery_success"]]
        items = self._created_filter(items, p.get("created"))
        return self._page(items, p, "event", "/v1/events",
                          self._renderer("event", p.get("expand", []), "data."))

    def retrieve_event(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.EventRetrieveParams)
        event = self.store.get("event", req.path_args["id"])
        if event is None:
            raise no_such("event", req.path_args["id"])
        return self._expand(event, "event", p.get("expand", []))

    def _endpoint(self, endpoint_id: str) -> dict[str, Any]:
        endpoint = self.store.get("webhook_endpoint", endpoint_id)
        if endpoint is None:
            raise no_such("webhook_endpoint", endpoint_id)
        return endpoint

    def _check_url(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise invalid_param("url", f"Invalid URL: {url}. URLs must begin with http:// or "
                                "https://", code="url_invalid")
        if not self.allow_remote_webhooks and not is_loopback_url(url):
            raise invalid_param("url", remote_webhook_refusal(url), code="url_invalid")

    def create_webhook_endpoint(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.WebhookEndpointCreateParams)
        self._check_url(p["url"])
        self._check_metadata(p.get("metadata"))
        secret = "whsec_" + secrets.token_hex(16)
        endpoint = {
            "id": new_id("we_"), "object": "webhook_endpoint",
            "api_version": p.get("api_version"), "application": None,
            "created": self._now(), "description": p.get("description"),
            "enabled_events": p["enabled_events"], "livemode": False,
            "metadata": p.get("metadata") or {}, "status": "enabled", "url": p["url"],
            "_secret": secret,
        }
        self.store.put("webhook_endpoint", endpoint)
        # Stripe shows the signing secret only in the create response.
        return dict(self._expand(endpoint, "webhook_endpoint", p.get("expand", [])),
                    secret=secret)

    def list_webhook_endpoints(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.WebhookEndpointListParams)
        return self._page(self.store.newest_first("webhook_endpoint"), p, "webhook_endpoint",
                          "/v1/webhook_endpoints",
                          self._renderer("webhook_endpoint", p.get("expand", []), "data."))

    def retrieve_webhook_endpoint(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.WebhookEndpointRetrieveParams)
        return self._expand(self._endpoint(req.path_args["id"]), "webhook_endpoint",
                            p.get("expand", []))

    def update_webhook_endpoint(self, req: ApiRequest) -> dict[str, Any]:
        p = validate(req.params, sp.WebhookEndpointUpdateParams)
        endpoint = copy.deepcopy(self._endpoint(req.path_args["id"]))
        if "url" in p:
            self._check_url(p["url"])
            endpoint["url"] = p["url"]
        if "enabled_events" in p:
            endpoint["enabled_events"] = p["enabled_events"]
        if "description" in p:
            endpoint["description"] = p["description"] or None
        if "disabled" in p:
            endpoint["status"] = "disabled" if p["disabled"] else "enabled"
        if "metadata" in p:
            self._check_metadata(p["metadata"])
            endpoint["metadata"] = self._merged_metadata(endpoint["metadata"], p["metadata"])
        self.store.put("webhook_endpoint", endpoint)
        return self._expand(endpoint, "webhook_endpoint", p.get("expand", []))

    def delete_webhook_endpoint(self, req: ApiRequest) -> dict[str, Any]:
        validate(req.params, sp.WebhookEndpointDeleteParams)
        endpoint = self._endpoint(req.path_args["id"])
        self.store.delete("webhook_endpoint", endpoint["id"])
        return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
