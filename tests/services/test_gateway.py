"""StripeGateway against the offline sandbox through the real SDK: retries, errors, limits, mode."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from uhadmin.errors import ModeMismatchError, StripeRefusedError, StripeUnavailableError
from uhadmin.services.stripe_gateway import GatewayConfig, StripeGateway
from uhadmin.services.stripe_gateway.catalog import CatalogGateway, ProductFields
from uhadmin.services.stripe_gateway.client import RatePacer

pytestmark = pytest.mark.anyio

FIELDS = ProductFields(name="Desk lamp", description="", images=(), metadata={"listing_id": "1"})


def make_gateway(sandbox, **overrides) -> StripeGateway:
    values = {"api_key": sandbox.test_key, "api_base": sandbox.url, "rate_limit": None,
              "backoff_initial_s": 0.01, "backoff_max_s": 0.05}
    values.update(overrides)
    return StripeGateway(GatewayConfig(**values))


def create(gateway: StripeGateway, product_id: str, key: str):
    return CatalogGateway(gateway).create_product(product_id, FIELDS, 1500, "usd", key=key)


def products_in(sandbox) -> list[str]:
    with sandbox.store.lock:
        return list(sandbox.store.objects["product"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_create_retrieve_and_count_every_request(stripe_sandbox) -> None:
    gateway = make_gateway(stripe_sandbox)
    catalog = CatalogGateway(gateway)
    product = await create(gateway, "uh_test_1", "key-1")
    assert product.id == "uh_test_1" and product.default_price is not None
    assert product.default_price.unit_amount == 1500
    assert (await catalog.retrieve_product("uh_test_1")).name == "Desk lamp"
    assert await catalog.retrieve_product("uh_test_missing") is None  # 404 -> None
    assert gateway.api_calls == 3 == stripe_sandbox.stats.total
    assert gateway.stats.by_status == {200: 2, 404: 1}
    await gateway.aclose()


async def test_500_is_retried_with_the_same_key_and_runs_once(stripe_sandbox) -> None:
    stripe_sandbox.set_faults(fail_rate=1.0)

    async def heal(_seconds: float) -> None:  # the backoff wait: the outage ends meanwhile
        stripe_sandbox.set_faults(fail_rate=0.0)

    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None),
                            sleep=heal)
    await create(gateway, "uh_test_2", "key-2")
    assert gateway.stats.by_status == {500: 1, 200: 1}
    assert gateway.stats.retries == 1
    assert products_in(stripe_sandbox) == ["uh_test_2"]
    await gateway.aclose()


async def test_dropped_reply_is_retried_and_replayed_not_repeated(stripe_sandbox) -> None:
    stripe_sandbox.set_faults(drop_rate=1.0)

    async def heal(_seconds: float) -> None:
        stripe_sandbox.set_faults(drop_rate=0.0)

    gateway = StripeGateway(GatewayConfig(api_key=stripe_sandbox.test_key,
                                          api_base=stripe_sandbox.url, rate_limit=None),
                            sleep=heal)
    product = await create(gateway, "uh_test_3", "key-3")
    assert product.id == "uh_test_3"
    # Two requests reached the sandbox; the first took effect, the retry was replayed.
    assert stripe_sandbox.stats.count("POST", "/v1/products") == 2
    assert products_in(stripe_sandbox) == ["uh_test_3"]
    with stripe_sandbox.store.lock:
        assert stripe_sandbox.store.get("idempotency", "key-3") is not None
    await gateway.aclose()


@pytest.mark.parametrize("code", ["rate_limit", "lock_timeout"])
@pytest.mark.slow
async def test_429_storm_is_absorbed(stripe_sandbox, code: str) -> None:
    stripe_sandbox.set_faults(rate_limit=20, rate_limit_code=code)
    gateway = make_gateway(stripe_sandbox, max_attempts=30, backoff_max_s=0.2)
    await asyncio.gather(*(create(gateway, f"uh_storm_{n}", f"storm-{n}") for n in range(40)))
    assert sorted(products_in(stripe_sandbox)) == sorted(f"uh_storm_{n}" for n in range(40))
    assert gateway.stats.rate_limited > 0
    assert gateway.stats.by_status[429] == gateway.stats.rate_limited
    await gateway.aclose()


async def test_client_limiter_keeps_under_the_sandbox_limit(stripe_sandbox) -> None:
    stripe_sandbox.set_faults(rate_limit=25)
    gateway = make_gateway(stripe_sandbox, rate_limit="auto")  # a test key: 25/s * 0.95
    started = time.monotonic()
    await asyncio.gather(*(create(gateway, f"uh_paced_{n}", f"paced-{n}") for n in range(40)))
    elapsed = time.monotonic() - started
    assert gateway.stats.by_status == {200: 40}  # no 429 at all
    # Evenly paced from the first call: no burst of a second's worth up front.
    assert elapsed >= 39 / (25 * 0.95) * 0.95
    await gateway.aclose()


async def test_rate_pacer_spaces_calls_evenly_and_keeps_the_rate() -> None:
    pacer = RatePacer(50.0)  # one slot every 20 ms
    loop = asyncio.get_running_loop()
    started = loop.time()
    times: list[float] = []

    async def one() -> None:
        await pacer.acquire()
        times.append(loop.time() - started)

    await asyncio.gather(*(one() for _ in range(25)))
    for index, at in enumerate(sorted(times)):
        assert at >= index * 0.020 - 0.002  # never ahead of its slot: no burst
    assert times[-1] < 24 * 0.020 + 0.25  # late wake-ups are not lost throughput
    await asyncio.sleep(0.1)  # idle: the schedule restarts at the next caller, no credit
    resumed = loop.time()
    await pacer.acquire()
    await pacer.acquire()
    assert loop.time() - resumed >= 0.020 - 0.002
    with pytest.raises(ValueError):
        RatePacer(0)


async def test_refusals_map_to_stripe_refused_error_with_details(stripe_sandbox) -> None:
    gateway = make_gateway(stripe_sandbox)
    await create(gateway, "uh_test_4", "key-4a")
    with pytest.raises(StripeRefusedError) as caught:
        await create(gateway, "uh_test_4", "key-4b")
    assert caught.value.code == "resource_already_exists"
    assert caught.value.param == "id" and caught.value.http_status == 400
    assert gateway.stats.retries == 0  # a refusal is final
    await gateway.aclose()


async def test_bad_key_is_refused_without_showing_the_key(stripe_sandbox) -> None:
    key = "sk_test_" + "Wrong" * 6
    gateway = make_gateway(stripe_sandbox, api_key=key)
    stripe_sandbox_key_check = "sk_live_" + "x" * 20
    with pytest.raises(StripeRefusedError):
        # The sandbox refuses live keys: a 401 mapped to a refusal.
        await create(make_gateway(stripe_sandbox, api_key=stripe_sandbox_key_check), "a", "b")
    assert key not in repr(gateway) and key not in repr(gateway.config)
    await gateway.aclose()


async def test_offline_is_stripe_unavailable_and_probe_says_false() -> None:
    gateway = StripeGateway(GatewayConfig(
        api_key="sk_test_offline000000", api_base=f"http://127.0.0.1:{free_port()}",
        rate_limit=None, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02))
    with pytest.raises(StripeUnavailableError, match="no answer from Stripe"):
        await create(gateway, "uh_x", "key-x")
    assert await gateway.probe() is False
    assert gateway.stats.by_status == {0: 3}
    await gateway.aclose()


class _LiveModeStripe(BaseHTTPRequestHandler):
    """Answers every request with a live-mode product: what a misrouted key would see."""

    def do_GET(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"id": "prod_live", "object": "product", "livemode": True,
                           "name": "x", "active": True, "metadata": {}, "images": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def live_mode_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LiveModeStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_livemode_that_contradicts_the_key_stops_everything(live_mode_server) -> None:
    gateway = StripeGateway(GatewayConfig(api_key="sk_test_abc123abc123abc",
                                          api_base=live_mode_server, rate_limit=None))
    with pytest.raises(ModeMismatchError, match="test-mode key but Stripe answered"):
        await CatalogGateway(gateway).retrieve_product("prod_live")
    await gateway.aclose()


def test_limits_follow_the_key_mode() -> None:
    test = StripeGateway(GatewayConfig(api_key="sk_test_abc123abc123abc"))
    live = StripeGateway(GatewayConfig(api_key="sk_live_abc123abc123abc"))
    none = StripeGateway(GatewayConfig(api_key="sk_test_abc123abc123abc", rate_limit=None))
    assert test.mode == "test" and live.mode == "live"
    assert test._global_limiter.rate == pytest.approx(23.75)
    assert test._endpoint_rate is None
    assert live._global_limiter.rate == pytest.approx(95.0)
    assert live._endpoint_rate == pytest.approx(23.75)
    assert none._global_limiter is None and none._endpoint_rate is None
    with pytest.raises(ValueError):
        StripeGateway(GatewayConfig(api_key="sk_test_abc123abc123abc", rate_limit=0))
