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
from uhadmin.services.stripe_gateway.pacing import AdaptivePacer

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


@pytest.mark.slow  # 40 requests paced at 25 a second
async def test_client_limiter_keeps_under_the_sandbox_limit(stripe_sandbox) -> None:
    stripe_sandbox.set_faults(rate_limit=25)
    # A configured limit (UHADMIN_STRIPE_RATE_LIMIT): "auto" would not pace a sandbox.
    gateway = make_gateway(stripe_sandbox, rate_limit=25 * 0.95)
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
    # products.create answers a plain dict (the SDK's raw request): checked all the same.
    with pytest.raises(ModeMismatchError, match="products.create: the API key is a test-mode"):
        await CatalogGateway(gateway).create_product(
            "uh_x", ProductFields(name="x", description="", images=(), metadata={}), 500, "usd",
            key="key-live")
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
    assert none.pace is None and none._endpoint_rate is None
    with pytest.raises(ValueError):
        StripeGateway(GatewayConfig(api_key="sk_test_abc123abc123abc", rate_limit=0))


def test_auto_paces_only_when_talking_to_stripe() -> None:
    key = "sk_test_abc123abc123abc"
    for base in (None, "https://api.stripe.com", "https://files.stripe.com/"):
        assert StripeGateway(GatewayConfig(api_key=key, api_base=base)).pace == \
            pytest.approx(23.75), base
    for base in ("http://127.0.0.1:12111", "https://stripe-mock.example", "http://notstripe.com"):
        assert StripeGateway(GatewayConfig(api_key=key, api_base=base)).pace is None, base
    configured = StripeGateway(GatewayConfig(api_key=key, api_base="http://127.0.0.1:1",
                                             rate_limit=40))
    assert configured.pace == 40
    configured.set_rate_limit(10)  # a shared limit divided among processes
    assert configured.pace == 10
    configured.set_rate_limit(None)
    assert configured.pace is None


async def test_rate_pacer_changes_its_rate_at_run_time() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:  # virtual time: a busy machine cannot skew it
        now[0] += seconds
        await asyncio.sleep(0)

    pacer = RatePacer(1000.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        await pacer.acquire()
    pacer.set_rate(20.0)  # from the next slot on: 50 ms apart
    slots = []
    for _ in range(4):
        await pacer.acquire()
        slots.append(now[0])
    gaps = [later - earlier for earlier, later in zip(slots, slots[1:], strict=False)]
    assert gaps == pytest.approx([0.050] * 3)
    with pytest.raises(ValueError):
        pacer.set_rate(0)


async def test_rate_pacer_lowers_the_rate_for_callers_already_waiting() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:  # virtual time: slots are compared exactly
        now[0] += seconds
        await asyncio.sleep(0)

    pacer = RatePacer(10.0, clock=lambda: now[0], sleep=sleep)
    slots: list[float] = []

    async def one() -> None:
        await pacer.acquire()
        slots.append(now[0])
        if len(slots) == 5:  # another sync started: this one's share drops, 15 calls wait
            pacer.set_rate(2.0)

    await asyncio.gather(*(one() for _ in range(20)))
    # The 15 waiting calls take the new rate; slots handed out at the old one would have
    # sent them 0.1 s apart (what made 4 syncs send ~50 requests/s at start-up).
    assert slots == pytest.approx([0.1 * n for n in range(5)]
                                  + [0.4 + 0.5 * n for n in range(1, 16)])


def test_adaptive_pace_keeps_its_429_back_off_when_the_limit_is_set_again() -> None:
    now = [100.0]
    pacer = AdaptivePacer(6.0, clock=lambda: now[0])
    pacer.rate_limited()
    assert pacer.rate == pytest.approx(3.0)
    pacer.set_rate(6.0)  # the shared-limit heartbeat re-sets the same share every beat
    assert pacer.rate == pytest.approx(3.0)
    pacer.set_rate(2.0)  # a lower share wins over the back-off
    assert pacer.rate == pytest.approx(2.0) and pacer.ceiling == 2.0
    pacer.set_rate(None)
    assert pacer.rate is None  # at its limit, not backed off: follows the new one


def test_adaptive_pace_halves_on_429_and_recovers_gradually() -> None:
    now = [100.0]
    pacer = AdaptivePacer(None, clock=lambda: now[0])
    for _ in range(80):  # unpaced: 80 requests in this second
        asyncio.run(pacer.acquire())
    pacer.rate_limited()
    assert pacer.rate == pytest.approx(40)  # half of what it was sending
    pacer.rate_limited()  # a burst of 429s in the same second lowers it once
    assert pacer.rate == pytest.approx(40)
    now[0] += 1.0
    pacer.rate_limited()
    assert pacer.rate == pytest.approx(20)
    rates = []
    for _ in range(5):  # quiet seconds: 10 % more each
        now[0] += 1.0
        pacer._recover(now[0])
        rates.append(pacer.rate)
    assert rates == pytest.approx([20 * 1.1 ** n for n in range(1, 6)])
    for _ in range(200):
        now[0] += 1.0
        pacer._recover(now[0])
    assert pacer.rate is None  # recovered all the way: unpaced again

    capped = AdaptivePacer(25.0, clock=lambda: now[0])
    capped.rate_limited()
    assert capped.rate == pytest.approx(12.5)
    for _ in range(20):
        now[0] += 1.0
        capped._recover(now[0])
    assert capped.rate == 25.0  # back to the configured limit, never above


@pytest.mark.slow  # 60 requests against a 20-a-second limit, with 429s and backoff
async def test_429s_from_a_custom_server_slow_an_unpaced_gateway(stripe_sandbox) -> None:
    stripe_sandbox.set_faults(rate_limit=20)
    gateway = make_gateway(stripe_sandbox, rate_limit="auto", max_attempts=30,
                           backoff_max_s=0.2)
    assert gateway.pace is None  # a sandbox URL: unpaced until it says 429
    await asyncio.gather(*(create(gateway, f"uh_adapt_{n}", f"adapt-{n}") for n in range(60)))
    assert len(products_in(stripe_sandbox)) == 60
    assert gateway.stats.rate_limited > 0
    assert gateway.pace is not None and gateway.pace < 60
    await gateway.aclose()
