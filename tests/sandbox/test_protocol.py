"""Authentication, error classes, idempotency and fault injection, as the SDK sees them."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
import stripe

from uhadmin.sandbox.server import SandboxServer


def client_with_key(sandbox, key: str, **options) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": sandbox.url},
                               http_client=stripe.HTTPXClient(allow_sync_methods=True),
                               **options)


@pytest.mark.parametrize("key", ["sk_test_abc123", "rk_test_XYZ789"])
def test_any_well_formed_test_key_is_accepted(stripe_sandbox, key):
    assert client_with_key(stripe_sandbox, key).v1.products.list().data == []


@pytest.mark.parametrize("key", ["sk_test_", "sk_test_has-dash", "pk_test_abc", "nonsense"])
def test_malformed_key_is_authentication_error(stripe_sandbox, key):
    with pytest.raises(stripe.AuthenticationError) as caught:
        client_with_key(stripe_sandbox, key).v1.products.list()
    assert caught.value.http_status == 401


@pytest.mark.parametrize("key", ["sk_live_abc123", "rk_live_abc123"])
def test_live_keys_are_refused(stripe_sandbox, key):
    with pytest.raises(stripe.AuthenticationError) as caught:
        client_with_key(stripe_sandbox, key).v1.products.list()
    assert "live keys" in caught.value.user_message
    assert key not in caught.value.user_message  # masked, like Stripe does


def test_missing_key_header_is_401_in_stripes_envelope(stripe_sandbox):
    response = httpx.get(f"{stripe_sandbox.url}/v1/products")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in response.json()["error"]["message"]


def test_unknown_and_ill_typed_params_name_the_param(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.create({"name": "x", "colour": "red"})  # type: ignore
    assert (caught.value.http_status, caught.value.param) == (400, "colour")
    assert caught.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.create({"name": "x", "type": "gadget"})
    assert caught.value.param == "type"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.products.create({"description": "no name"})  # type: ignore
    assert (caught.value.param, caught.value.code) == ("name", "parameter_missing")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.prices.create({"currency": "usd", "product": "p",
                                        "unit_amount": "twelve"})  # type: ignore
    assert caught.value.param == "unit_amount"


def test_unrecognised_url_is_404(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.raw_request("get", "/v1/coupons_nope")
    assert caught.value.http_status == 404


def test_idempotent_replay_returns_the_first_response(stripe_client, stripe_sandbox):
    options = {"idempotency_key": "create-listing-1"}
    first = stripe_client.v1.products.create({"name": "Kayak"}, options)
    second = stripe_client.v1.products.create({"name": "Kayak"}, options)
    assert second.id == first.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(stripe_client.v1.products.list().data) == 1


def test_idempotent_replay_includes_stored_errors(stripe_client):
    stripe_client.v1.products.create({"name": "Kite", "id": "kite"})
    options = {"idempotency_key": "dup-kite"}
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            stripe_client.v1.products.create({"name": "Kite", "id": "kite"}, options)
        assert caught.value.code == "resource_already_exists"
    assert caught.value.headers.get("Idempotent-Replayed") == "true"


def test_same_key_different_params_is_idempotency_error(stripe_client):
    stripe_client.v1.products.create({"name": "Boat"}, {"idempotency_key": "k1"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        stripe_client.v1.products.create({"name": "Other boat"}, {"idempotency_key": "k1"})
    assert caught.value.http_status == 400
    assert "same parameters" in caught.value.user_message


def test_concurrent_duplicate_gets_409(stripe_client, stripe_sandbox):
    stripe_sandbox.set_faults(latency_ms=400)

    async def both():
        calls = [stripe_client.v1.products.create_async({"name": "Raft"},
                                                        {"idempotency_key": "race"})
                 for _ in range(2)]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(both())
    errors = [r for r in results if isinstance(r, Exception)]
    products = [r for r in results if not isinstance(r, Exception)]
    assert len(products) == 1 and len(errors) == 1
    assert isinstance(errors[0], stripe.APIError)
    assert errors[0].http_status == 409
    assert errors[0].error.code == "idempotency_key_in_use"


def test_idempotency_keys_expire_after_24h_of_sandbox_clock(stripe_client, stripe_sandbox):
    first = stripe_client.v1.products.create({"name": "Canoe"}, {"idempotency_key": "k24"})
    stripe_sandbox.clock.advance(23 * 3600)
    assert stripe_client.v1.products.create({"name": "Canoe"},
                                            {"idempotency_key": "k24"}).id == first.id
    stripe_sandbox.clock.advance(3600)
    assert stripe_client.v1.products.create({"name": "Canoe"},
                                            {"idempotency_key": "k24"}).id != first.id


def test_validation_errors_are_not_stored_under_the_key(stripe_client):
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.products.create({"name": "x", "bogus": 1},  # type: ignore
                                         {"idempotency_key": "fix-me"})
    assert stripe_client.v1.products.create({"name": "x"}, {"idempotency_key": "fix-me"}).id


def test_rate_limit_returns_429_rate_limit_error(stripe_client, stripe_sandbox):
    stripe_sandbox.set_faults(rate_limit=5)
    stripe_sandbox.reset_stats()
    errors = []
    for _ in range(12):
        try:
            stripe_client.v1.products.list()
        except stripe.RateLimitError as exc:
            errors.append(exc)
    assert 5 <= 12 - len(errors) <= 7
    assert errors[0].http_status == 429 and errors[0].error.code == "rate_limit"
    assert stripe_sandbox.stats.by_status[429] == len(errors)
    time.sleep(1.0)
    stripe_client.v1.products.list()  # the bucket refills


def test_lock_timeout_style_429_says_retry(stripe_client, stripe_sandbox):
    stripe_sandbox.set_faults(rate_limit=1, rate_limit_code="lock_timeout")
    stripe_client.v1.products.list()
    with pytest.raises(stripe.RateLimitError) as caught:
        stripe_client.v1.products.list()
    assert caught.value.error.code == "lock_timeout"
    assert caught.value.headers.get("Stripe-Should-Retry") == "true"


def test_fail_rate_gives_api_error_without_effect(stripe_client, stripe_sandbox):
    stripe_sandbox.set_faults(fail_rate=1.0)
    with pytest.raises(stripe.APIError) as caught:
        stripe_client.v1.products.create({"name": "Ghost"})
    assert caught.value.http_status == 500
    stripe_sandbox.set_faults(fail_rate=0.0)
    assert stripe_client.v1.products.list().data == []


def test_drop_rate_commits_then_drops_the_connection(stripe_client, stripe_sandbox):
    stripe_sandbox.set_faults(drop_rate=1.0)
    with pytest.raises(stripe.APIConnectionError):
        stripe_client.v1.products.create({"name": "Dropped"}, {"idempotency_key": "drop-1"})
    stripe_sandbox.set_faults(drop_rate=0.0)
    listed = stripe_client.v1.products.list().data
    assert [p.name for p in listed] == ["Dropped"]
    # The application's retry with the same key learns the outcome instead of duplicating.
    replay = stripe_client.v1.products.create({"name": "Dropped"}, {"idempotency_key": "drop-1"})
    assert replay.id == listed[0].id


def test_latency_is_added(stripe_client, stripe_sandbox):
    stripe_sandbox.set_faults(latency_ms=200)
    started = time.perf_counter()
    stripe_client.v1.products.list()
    assert time.perf_counter() - started >= 0.2


def test_requests_are_served_concurrently(stripe_client, stripe_sandbox):
    stripe_sandbox.set_faults(latency_ms=300)

    async def many():
        started = time.perf_counter()
        await asyncio.gather(*(stripe_client.v1.products.list_async() for _ in range(10)))
        return time.perf_counter() - started

    assert asyncio.run(many()) < 1.5  # ten 300 ms requests in parallel, not 3 s in a row


def test_stats_count_by_status_and_endpoint(stripe_client, stripe_sandbox):
    stripe_sandbox.reset_stats()
    product = stripe_client.v1.products.create({"name": "Counted"})
    stripe_client.v1.products.retrieve(product.id)
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.products.retrieve("missing")
    stats = stripe_sandbox.stats
    assert stats.total == 3
    assert stats.by_status == {200: 2, 404: 1}
    assert stats.count("GET", "/v1/products/{id}") == 2
    assert stats.by_endpoint[("POST", "/v1/products")] == 1


def test_context_manager_and_separate_servers_are_independent():
    with SandboxServer() as first, SandboxServer(latency_ms=0) as second:
        a = client_with_key(first, first.test_key)
        b = client_with_key(second, second.test_key)
        a.v1.products.create({"name": "Only in first"})
        assert b.v1.products.list().data == []
        assert first.test_key.startswith("sk_test_")
    with pytest.raises(stripe.APIConnectionError):
        client_with_key(first, first.test_key).v1.products.list()


def test_server_works_from_a_running_event_loop():
    async def inside_loop():
        server = SandboxServer().start()
        try:
            client = client_with_key(server, server.test_key)
            created = await client.v1.products.create_async({"name": "From a loop"})
            fetched = await asyncio.to_thread(client.v1.products.retrieve, created.id)
            return fetched.name
        finally:
            server.stop()

    assert asyncio.run(inside_loop()) == "From a loop"


def test_faults_validate_their_values(stripe_sandbox):
    with pytest.raises(ValueError):
        stripe_sandbox.set_faults(fail_rate=1.5)
    with pytest.raises(ValueError):
        stripe_sandbox.set_faults(rate_limit=0)
    with pytest.raises(ValueError):
        SandboxServer(host="0.0.0.0")
    assert threading.active_count() > 0


def test_server_ignores_the_global_event_loop_policy():
    """qasync.run() installs a policy whose loops are Qt loops; the sandbox must not use it."""

    class QtOnlyPolicy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self):
            raise AssertionError("the sandbox must make its own loop")

    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(QtOnlyPolicy())
    try:
        with SandboxServer() as server:
            assert client_with_key(server, server.test_key).v1.products.list().data == []
    finally:
        asyncio.set_event_loop_policy(previous)
