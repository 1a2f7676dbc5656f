"""The local receiver over real HTTP: pages, signed webhooks, duplicates, bad signatures."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from uhadmin.domain import Outcome
from uhadmin.errors import ConfigError
from uhadmin.sandbox.webhooks import signature_header
from uhadmin.services.receiver import CheckoutReceiver

pytestmark = pytest.mark.anyio

SECRET = "whsec_" + "ab12" * 8


def session_event(session_id: str, event_type: str = "checkout.session.completed", *,
                  event_id: str = "evt_test_1", status: str = "complete",
                  payment_status: str = "paid") -> dict:
    return {"id": event_id, "object": "event", "type": event_type, "livemode": False,
            "created": int(time.time()),
            "data": {"object": {"id": session_id, "object": "checkout.session",
                                "status": status, "payment_status": payment_status,
                                "amount_total": 1250, "currency": "usd", "url": None,
                                "created": int(time.time()), "expires_at": None,
                                "livemode": False, "payment_intent": "pi_test_1",
                                "metadata": {}}}}


async def post_event(receiver: CheckoutReceiver, event: dict, *, secret: str = SECRET,
                     timestamp: int | None = None, signature: str | None = None,
                     ) -> httpx.Response:
    payload = json.dumps(event).encode()
    header = signature if signature is not None else signature_header(payload, secret,
                                                                       timestamp)
    async with httpx.AsyncClient() as client:
        return await client.post(receiver.webhook_url, content=payload,
                                 headers={"Stripe-Signature": header,
                                          "Content-Type": "application/json"})


@pytest.fixture
async def lab(checkout_lab):
    """The lab with its receiver running and the stripe-listen style secret accepted."""
    await checkout_lab.service.start_receiver()
    checkout_lab.receiver.add_webhook_secret(SECRET)
    return checkout_lab


async def test_signed_completed_event_marks_the_attempt_paid_once(lab):
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    lab.changes.clear()
    event = session_event(attempt.session_id)
    first = await post_event(lab.receiver, event)
    assert first.status_code == 200 and first.json()["result"] == "processed"
    recorded = await lab.service.get(attempt.id)
    assert (recorded.outcome, recorded.status, recorded.payment_intent_id) == (
        Outcome.PAID, "complete", "pi_test_1")
    assert [c.attempt_id for c in lab.changes] == [attempt.id]
    again = await post_event(lab.receiver, event)  # Stripe delivers at least once
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    assert len(lab.changes) == 1  # processed once


async def test_expired_and_async_failure_events(lab):
    lamp = await lab.approved_listing()
    first = await lab.service.create([(lamp.id, 1)])
    second = await lab.service.create([(lamp.id, 1)])
    await post_event(lab.receiver, session_event(
        first.session_id, "checkout.session.expired", event_id="evt_x", status="expired",
        payment_status="unpaid"))
    assert (await lab.service.get(first.id)).outcome is Outcome.EXPIRED
    await post_event(lab.receiver, session_event(
        second.session_id, "checkout.session.async_payment_failed", event_id="evt_y",
        status="complete", payment_status="unpaid"))
    failed = await lab.service.get(second.id)
    assert (failed.outcome, failed.decline_code) == (Outcome.DECLINED, "async_payment_failed")
    await post_event(lab.receiver, session_event(
        second.session_id, "checkout.session.async_payment_succeeded", event_id="evt_z"))
    assert (await lab.service.get(second.id)).outcome is Outcome.PAID


async def test_a_late_stale_event_does_not_undo_a_payment(lab):
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    await post_event(lab.receiver, session_event(attempt.session_id, event_id="evt_paid"))
    await post_event(lab.receiver, session_event(
        attempt.session_id, "checkout.session.expired", event_id="evt_old", status="open",
        payment_status="unpaid"))
    assert (await lab.service.get(attempt.id)).outcome is Outcome.PAID


async def test_bad_stale_or_missing_signatures_are_rejected(lab):
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    event = session_event(attempt.session_id)
    wrong_secret = await post_event(lab.receiver, event, secret="whsec_" + "ff" * 16)
    stale = await post_event(lab.receiver, event, timestamp=int(time.time()) - 301)
    missing = await post_event(lab.receiver, event, signature="")
    garbage = await post_event(lab.receiver, event, signature="t=1,v1=abc")
    for response in (wrong_secret, stale, missing, garbage):
        assert response.status_code == 400
    assert "tolerance" in stale.json()["error"]
    assert "missing Stripe-Signature" in missing.json()["error"]
    assert (await lab.service.get(attempt.id)).outcome is Outcome.OPEN
    # Only verified events are remembered, so a correct delivery later still counts.
    good = await post_event(lab.receiver, event)
    assert good.json()["result"] == "processed"


async def test_without_any_secret_every_webhook_is_refused(checkout_lab):
    receiver = CheckoutReceiver()
    receiver.attach(checkout_lab.service)
    receiver.start()
    try:
        response = await post_event(receiver, session_event("cs_test_x"))
    finally:
        receiver.stop()
    assert response.status_code == 400
    assert "no webhook signing secret" in response.json()["error"]


async def test_the_composition_root_gives_the_receiver_the_configured_secret(tmp_path):
    from uhadmin.bootstrap import build_services
    from uhadmin.config import load_settings

    settings = load_settings({"data_dir": str(tmp_path / "data"), "webhook_secret": SECRET},
                             environ={})
    services = build_services(settings)
    try:
        await services.checkout.start_receiver()
        response = await post_event(services.receiver, session_event("cs_test_elsewhere"))
        refused = await post_event(services.receiver, session_event("cs_test_elsewhere"),
                                   secret="whsec_" + "0" * 32)
    finally:
        await services.aclose()
    assert response.status_code == 200 and response.json()["result"] == "ignored"
    assert refused.status_code == 400
    assert not services.receiver.running


async def test_events_for_other_sessions_and_types_are_acknowledged_and_ignored(lab):
    other = await post_event(lab.receiver, session_event("cs_test_not_ours", event_id="e1"))
    unhandled = await post_event(lab.receiver, {"id": "e2", "type": "product.created",
                                                "data": {"object": {"object": "product"}}})
    assert [r.json()["result"] for r in (other, unhandled)] == ["ignored", "ignored"]


async def test_sandbox_delivers_real_signed_events_to_the_receiver(lab):
    """End to end without a browser: the sandbox's own signed webhook records the payment."""
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    async with httpx.AsyncClient() as client:
        paid = await client.post(attempt.url, data={
            "email": "b@example.test", "cardNumber": "4242424242424242",
            "cardExpiry": "12/34", "cardCvc": "123", "billingName": "B"})
    assert paid.status_code == 303  # we do not follow it: only the webhook may tell us
    async with asyncio.timeout(10):
        recorded = (await lab.service.wait_for_outcome(attempt.id, page_grace=0)).attempt
    assert recorded.outcome is Outcome.PAID


async def test_a_decline_arrives_by_webhook_without_polling(lab):
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    lab.changes.clear()
    async with httpx.AsyncClient() as client:
        declined = await client.post(attempt.url, data={
            "email": "b@example.test", "cardNumber": "4000000000009987",
            "cardExpiry": "12/34", "cardCvc": "123", "billingName": "B"})
    assert declined.status_code == 402
    await asyncio.to_thread(lab.sandbox.wait_for_webhooks, 5)
    recorded = await lab.service.get(attempt.id)
    assert (recorded.outcome, recorded.decline_code) == (Outcome.DECLINED, "lost_card")
    assert recorded.decline_message == "Your card was declined."
    assert lab.changes and all(c.attempt_id == attempt.id for c in lab.changes)


async def test_an_intent_of_another_database_is_ignored(lab):
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    foreign = {"id": "evt_foreign", "type": "payment_intent.payment_failed",
               "data": {"object": {"id": "pi_x", "object": "payment_intent",
                                   "status": "requires_payment_method",
                                   "metadata": {"uhadmin_attempt_id": str(attempt.id),
                                                "uhadmin_attempt_key": "someone-elses"},
                                   "last_payment_error": {"code": "card_declined",
                                                          "decline_code": "generic_decline",
                                                          "message": "declined"}}}}
    response = await post_event(lab.receiver, foreign)
    assert response.json()["result"] == "ignored"
    assert (await lab.service.get(attempt.id)).outcome is Outcome.OPEN


async def test_a_crashed_runs_sandbox_endpoint_is_replaced(checkout_lab):
    lab = checkout_lab
    stale = await lab.gateway.create_webhook_endpoint(
        "http://127.0.0.1:9/webhook", ["*"], description="uhadmin checkout receiver")
    kept = await lab.gateway.create_webhook_endpoint(
        "http://127.0.0.1:9/other", ["*"], description="someone else's")
    await lab.service.start_receiver()
    endpoints = {e.id: e for e in await lab.gateway.list_webhook_endpoints()}
    assert stale.id not in endpoints and kept.id in endpoints
    assert [e.url for e in endpoints.values() if e.id != kept.id] == [lab.receiver.webhook_url]
    await lab.gateway.delete_webhook_endpoint(kept.id)


async def test_pages_css_and_unknown_addresses(lab):
    async with httpx.AsyncClient(base_url=lab.receiver.url) as client:
        css = await client.get("/static/pages.css")
        home = await client.get("/")
        nowhere = await client.get("/nowhere")
        bare = await client.get("/success")
        hand_typed = await client.get("/success?session_id={CHECKOUT_SESSION_ID}")
        unknown = await client.get("/success?session_id=cs_test_unknown")
        unknown_cancel = await client.get("/cancel?attempt=999")
        post_elsewhere = await client.post("/success", content=b"{}")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert home.status_code == 200
    assert nowhere.status_code == 404
    assert bare.status_code == 400 and hand_typed.status_code == 400
    assert unknown.status_code == 404 and "Unknown checkout session" in unknown.text
    assert unknown_cancel.status_code == 404
    assert post_elsewhere.status_code == 404


async def test_success_page_escapes_what_it_shows(lab):
    lamp = await lab.approved_listing("<script>alert(1)</script> lamp")
    attempt = await lab.service.create([(lamp.id, 1)])
    async with httpx.AsyncClient() as client:
        page = await client.get(lab.cancel_link(attempt))
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_loopback_only_and_a_busy_port_is_a_clear_error():
    with pytest.raises(ConfigError, match="loopback only"):
        CheckoutReceiver(host="0.0.0.0")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        receiver = CheckoutReceiver(port=port)
        loop = asyncio.new_event_loop()
        try:
            with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}.*"
                                                  "UHADMIN_RECEIVER_PORT"):
                receiver.start(loop)
        finally:
            loop.close()


async def test_configured_port_is_used(checkout_lab):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    receiver = CheckoutReceiver(port=port)
    receiver.start()
    try:
        assert receiver.url == f"http://127.0.0.1:{port}"
        assert receiver.cancel_url(5) == f"http://127.0.0.1:{port}/cancel?attempt=5" \
                                         "&token={token}"
    finally:
        receiver.stop()
    assert not receiver.running


# --------------------------------------------------------------------------- a shared machine
# Each attack below worked against the receiver before it checked tokens, Host and Origin,
# future timestamps, event shapes, read timeouts and SO_REUSEADDR.

async def test_return_pages_change_nothing_without_the_attempts_token(lab):
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    other = await lab.service.create([(lamp.id, 1)])
    lab.changes.clear()
    async with httpx.AsyncClient(base_url=lab.receiver.url) as client:
        bare = await client.get(f"/cancel?attempt={attempt.id}")
        guessed = await client.get(f"/cancel?attempt={attempt.id}&token={'0' * 32}")
        borrowed = await client.get(lab.cancel_link(other).replace(
            f"attempt={other.id}", f"attempt={attempt.id}"))
        by_session = await client.get(f"/success?session_id={attempt.session_id}")
    for response in (bare, guessed, borrowed, by_session):
        assert response.status_code == 403 and "This link is not valid" in response.text
        assert "Desk lamp" not in response.text  # nor does it show what was bought
    assert (await lab.service.get(attempt.id)).outcome is Outcome.OPEN
    assert lab.changes == []
    async with httpx.AsyncClient() as client:
        real = await client.get(lab.cancel_link(attempt))
    assert real.status_code == 200 and "Checkout canceled" in real.text
    assert (await lab.service.get(attempt.id)).outcome is Outcome.CANCELED


def raw_request(port: int, request: bytes, *, timeout: float = 5.0) -> bytes:
    """Send bytes as they are (any Host header) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1",
                                  "127.0.0.1.nip.io:{port}", ""])
async def test_only_loopback_host_headers_are_served(lab, host):
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: refused."""
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    path = lab.cancel_link(attempt).removeprefix(lab.receiver.url)
    header = f"Host: {host.format(port=lab.receiver.port)}\r\n" if host else ""
    answer = await asyncio.to_thread(raw_request, lab.receiver.port,
                                     f"GET {path} HTTP/1.1\r\n{header}"
                                     "Connection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.0 403"), answer[:80]
    assert (await lab.service.get(attempt.id)).outcome is Outcome.OPEN
    for own in (f"127.0.0.1:{lab.receiver.port}", f"localhost:{lab.receiver.port}"):
        home = await asyncio.to_thread(raw_request, lab.receiver.port,
                                       f"GET / HTTP/1.1\r\nHost: {own}\r\n\r\n".encode())
        assert home.startswith(b"HTTP/1.0 200")


async def test_no_cross_origin_request_is_answered(lab):
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    evil = {"Origin": "http://evil.example"}
    async with httpx.AsyncClient() as client:
        preflight = await client.request("OPTIONS", lab.receiver.webhook_url, headers={
            **evil, "Access-Control-Request-Method": "POST"})
        page = await client.get(lab.cancel_link(attempt), headers=evil)
        hook = await client.post(lab.receiver.webhook_url, content=b"{}", headers=evil)
        own = await client.get(lab.receiver.url + "/", headers={"Origin": lab.receiver.url})
    for response in (preflight, page, hook):
        assert response.status_code in (403, 405)
        assert not [name for name in response.headers if name.lower().startswith("access-")]
    assert own.status_code == 200
    assert (await lab.service.get(attempt.id)).outcome is Outcome.OPEN


@pytest.mark.parametrize("ahead", [330, 10 * 365 * 24 * 3600])
async def test_signatures_dated_in_the_future_are_refused(lab, ahead):
    lamp = await lab.approved_listing()
    attempt = await lab.service.create([(lamp.id, 1)])
    response = await post_event(lab.receiver, session_event(attempt.session_id),
                                timestamp=int(time.time()) + ahead)
    assert response.status_code == 400 and "in the future" in response.json()["error"]
    assert (await lab.service.get(attempt.id)).outcome is Outcome.OPEN
    within = await post_event(lab.receiver, session_event(attempt.session_id),
                              timestamp=int(time.time()) + 60)  # clock skew is tolerated
    assert within.status_code == 200 and within.json()["result"] == "processed"


MALFORMED = [
    b"not json at all",
    b"[1, 2, 3]",
    b'{"id": 5, "type": "checkout.session.completed"}',
    b'{"id": "evt_m1", "type": "checkout.session.completed", "data": "x"}',
    b'{"id": "evt_m2", "type": "checkout.session.completed", "data": {"object": [1]}}',
    b'{"id": "evt_m3", "type": "checkout.session.completed", "data": {"object": '
    b'{"object": "checkout.session", "id": {"a": 1}, "status": "complete"}}}',
    b'{"id": "evt_m4", "type": "checkout.session.expired", "data": {"object": '
    b'{"object": "checkout.session", "id": "cs_x", "status": "expired", "created": "soon"}}}',
    b'{"id": "evt_m5", "type": "checkout.session.completed", "data": {"object": '
    b'{"object": "payment_intent", "id": "pi_x"}}}',
    b'{"id": "evt_m6", "type": "payment_intent.payment_failed", "data": {"object": '
    b'{"object": "payment_intent", "id": "pi_x", "metadata": "attempt 1"}}}',
    b'{"id": "evt_m7", "type": "checkout.session.completed", "data": {"object": '
    b'{"object": "checkout.session", "id": "cs_x", "status": "complete", "metadata": [1]}}}',
    b"\xff\xfe not utf-8",
]


@pytest.mark.parametrize("body", MALFORMED)
async def test_signed_but_malformed_bodies_are_400_never_5xx(lab, body):
    header = signature_header(body, SECRET)
    async with httpx.AsyncClient() as client:
        response = await client.post(lab.receiver.webhook_url, content=body,
                                      headers={"Stripe-Signature": header})
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize("headers", [
    b"Content-Length: many\r\n", b"Content-Length: -5\r\n", b"",
    b"Content-Length: 999999999999\r\n", b"Content-Length: 50\r\n"])  # last: body too short
async def test_bad_lengths_get_an_answer_not_a_dropped_connection(checkout_lab, headers):
    receiver = CheckoutReceiver(read_timeout=0.5)
    receiver.attach(checkout_lab.service)
    receiver.start()
    try:
        answer = await asyncio.to_thread(
            raw_request, receiver.port,
            b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n{}"
            % (receiver.port, headers))
    finally:
        receiver.stop()
    assert answer.startswith(b"HTTP/1.0 400"), answer[:80]


async def test_a_silent_connection_is_closed_after_the_read_timeout(checkout_lab):
    receiver = CheckoutReceiver(read_timeout=0.3)
    receiver.attach(checkout_lab.service)
    receiver.start()
    try:
        def slow_client() -> tuple[bytes, float]:
            with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes
                started = time.monotonic()
                return conn.recv(1024), time.monotonic() - started

        closed_with, after = await asyncio.to_thread(slow_client)
    finally:
        receiver.stop()
    assert closed_with == b""  # the receiver hung up; the 5 s client timeout never fired
    assert after < 4


def test_a_fixed_port_is_free_again_the_moment_the_receiver_stops():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    try:
        first = CheckoutReceiver(port=port).start(loop)
        for _ in range(3):  # the receiver closes these: its side lingers in TIME_WAIT
            assert httpx.get(first.url + "/").status_code == 200
        first.stop()
        second = CheckoutReceiver(port=port).start(loop)
        assert second.port == port
        second.stop()
    finally:
        loop.close()
