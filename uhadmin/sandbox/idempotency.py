"""Idempotent requests as Stripe keeps them: one answer per key for 24 hours, replayed."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from uhadmin.sandbox.clock import SandboxClock
from uhadmin.sandbox.common import ApiRequest, Response, json_response
from uhadmin.sandbox.errors import StripeApiError
from uhadmin.sandbox.store import SandboxStore

IDEMPOTENCY_TTL_S = 24 * 3600


class IdempotencyKeys:
    """The stored answers of POSTs sent with an `Idempotency-Key`, and the keys in flight."""

    def __init__(self, store: SandboxStore, clock: SandboxClock) -> None:
        self.store = store
        self.clock = clock
        self._inflight: set[str] = set()

    def in_flight(self, key: str) -> bool:
        return key in self._inflight

    def clear(self) -> None:
        self._inflight.clear()

    async def serve(self, request: ApiRequest, delay: Callable[[], Awaitable[None]],
                    execute: Callable[[], Response]) -> Response:
        """The stored answer for the request's key, else `execute()`'s (kept when it is a
        result Stripe keeps), after `delay()` outside the store's lock."""
        key = request.idempotency_key or ""
        if len(key) > 255:
            error = StripeApiError(400, "Idempotency keys can be at most 255 characters long.",
                                   param="Idempotency-Key")
            return json_response(400, error.body())
        fingerprint = json.dumps([request.method, request.path, request.params],
                                 sort_keys=True)
        with self.store.transaction():
            if key in self._inflight:
                error = StripeApiError(
                    409, "There is currently another in-progress request using this "
                    "Idempotency Key (that probably means you submitted twice, and the other "
                    "request is still going through): " + key + ". Please try again later.",
                    code="idempotency_key_in_use")
                return json_response(409, error.body())
            replay = self._replay(key, fingerprint)
            if replay is not None:
                return replay
            self._inflight.add(key)
        try:
            await delay()
            with self.store.transaction(write=True):
                # Another process sharing the data file may have answered this key meanwhile.
                replay = self._replay(key, fingerprint)
                if replay is not None:
                    return replay
                response = execute()
                if response.stored:
                    if self.store.get("idempotency", key) is not None:  # past its 24 hours
                        self.store.delete("idempotency", key)  # the new one goes last
                    self.store.put("idempotency", {
                        "id": key, "fingerprint": fingerprint, "status": response.status,
                        "body": response.body.decode(), "created": self.clock.now(),
                        "request_id": request.request_id})
            response.headers["Idempotency-Key"] = key
            return response
        finally:
            with self.store.lock:
                self._inflight.discard(key)

    def _replay(self, key: str, fingerprint: str) -> Response | None:
        """The stored answer for `key` (or the error for reusing it with other parameters);
        None when the key is new or past its 24 hours (the clock tick forgets it)."""
        record = self.store.get("idempotency", key)
        if record is None or record["created"] + IDEMPOTENCY_TTL_S <= self.clock.now():
            return None
        if record["fingerprint"] != fingerprint:
            error = StripeApiError(
                400, "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with. Try using a key other than '"
                + key + "' if you meant to execute a different request.",
                type="idempotency_error")
            return json_response(400, error.body())
        return Response(record["status"], record["body"].encode(),
                        headers={"Idempotent-Replayed": "true",
                                 "Original-Request": record["request_id"]})
