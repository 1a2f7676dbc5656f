"""Stripe's error envelope as a Python exception the sandbox raises and the server renders."""

from __future__ import annotations

from typing import Any


class StripeApiError(Exception):
    """One Stripe API error: HTTP status plus the `error` object Stripe sends back.

    `stored` says whether the idempotency layer keeps this result: Stripe saves results only
    once an endpoint has started executing, not for parameter validation failures.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        stored: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.stored = stored
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def invalid_param(param: str, message: str, *, code: str = "parameter_invalid_string",
                  stored: bool = False) -> StripeApiError:
    """A 400 for a bad request parameter (by default not stored under an idempotency key)."""
    return StripeApiError(400, message, param=param, code=code, stored=stored)


def unknown_param(param: str) -> StripeApiError:
    return StripeApiError(400, f"Received unknown parameter: {param}",
                          code="parameter_unknown", param=param, stored=False)


def missing_param(param: str) -> StripeApiError:
    return StripeApiError(400, f"Missing required param: {param}.",
                          code="parameter_missing", param=param, stored=False)


def no_such(kind: str, object_id: str, param: str = "id", *,
            named_in_request: bool = False) -> StripeApiError:
    """404 for the object a URL names; 400 for one a request parameter names (a price in
    `line_items`, say), as Stripe answers."""
    return StripeApiError(400 if named_in_request else 404, f"No such {kind}: '{object_id}'",
                          code="resource_missing", param=param)
