"""Events feed and signed webhook delivery, verified with the SDK's own construct_event."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import stripe

from uhadmin.sandbox.server import SandboxServer


def test_events_for_catalog_changes_with_filters(stripe_client, stripe_sandbox):
    product = stripe_client.v1.products.create({
        "name": "Globe", "default_price_data": {"currency": "usd", "unit_amount": 900}})
    stripe_sandbox.clock.advance(5)
    cutoff = stripe_sandbox.clock.timestamp() - 1
    stripe_client.v1.products.update(product.id, {"name": "Desk globe"})
    events = stripe_client.v1.events.list().data
    assert [e.type for e in events] == ["product.updated", "price.created", "product.created"]
    updated = events[0]
    assert updated.id.startswith("evt_") and updated.object == "event"
    assert updated.data.object.name == "Desk globe"
    assert updated.data.previous_attributes.name == "Globe"
    assert [e.type for e in stripe_client.v1.events.list({"created": {"gt": cutoff}}).data] == [
        "product.updated"]
    assert [e.type for e in stripe_client.v1.events.list({"type": "price.*"}).data] == [
        "price.created"]
    assert stripe_client.v1.events.retrieve(updated.id).type == "product.updated"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.events.retrieve("evt_missing")


def test_webhook_endpoint_api_and_signed_delivery(stripe_client, stripe_sandbox, receiver):
    endpoint = stripe_client.v1.webhook_endpoints.create({
        "url": receiver.url, "enabled_events": ["product.created", "checkout.session.expired"]})
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.id.startswith("we_") and endpoint.status == "enabled"
    listed = stripe_client.v1.webhook_endpoints.list().data
    assert [e.id for e in listed] == [endpoint.id]
    assert listed[0].to_dict().get("secret") is None  # the secret is shown once, at creation
    stripe_client.v1.products.create({"name": "Signed"})
    stripe_client.v1.prices.create({"product_data": {"name": "Not subscribed"},
                                    "currency": "usd", "unit_amount": 100})
    assert stripe_sandbox.wait_for_webhooks()
    events = receiver.events(endpoint.secret)
    assert [e.type for e in events] == ["product.created", "product.created"]
    assert events[0].data.object.name == "Signed"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(receiver.received[0][0], receiver.received[0][1],
                                       "whsec_wrong")
    assert stripe_client.v1.webhook_endpoints.delete(endpoint.id).deleted is True
    stripe_client.v1.products.create({"name": "After delete"})
    assert stripe_sandbox.wait_for_webhooks()
    assert len(receiver.received) == 2


def test_disabled_endpoint_gets_nothing(stripe_client, stripe_sandbox, receiver):
    endpoint = stripe_client.v1.webhook_endpoints.create({"url": receiver.url,
                                                          "enabled_events": ["*"]})
    stripe_client.v1.webhook_endpoints.update(endpoint.id, {"disabled": True})
    stripe_client.v1.products.create({"name": "Quiet"})
    assert stripe_sandbox.wait_for_webhooks()
    assert receiver.received == []


def test_webhook_urls_given_at_start_use_the_server_secret(receiver):
    with SandboxServer(webhook_urls=[receiver.url]) as server:
        client = stripe.StripeClient(server.test_key, base_addresses={"api": server.url},
                                     http_client=stripe.HTTPXClient(allow_sync_methods=True))
        client.v1.products.create({"name": "Forwarded"})
        assert server.wait_for_webhooks()
        assert [e.type for e in receiver.events(server.webhook_secret)] == ["product.created"]
        event_id = receiver.events(server.webhook_secret)[0].id
        deadline = time.monotonic() + 2
        while client.v1.events.retrieve(event_id).pending_webhooks and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.v1.events.retrieve(event_id).pending_webhooks == 0


def test_slow_receiver_never_blocks_requests(stripe_client, stripe_sandbox):
    hold = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            hold.wait(5)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    slow = HTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=slow.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        stripe_client.v1.webhook_endpoints.create({
            "url": f"http://127.0.0.1:{slow.server_address[1]}/", "enabled_events": ["*"]})
        started = time.perf_counter()
        for index in range(5):
            stripe_client.v1.products.create({"name": f"Fast {index}"})
        assert time.perf_counter() - started < 1.0
    finally:
        hold.set()
        stripe_sandbox.wait_for_webhooks()
        slow.shutdown()
        slow.server_close()


def test_checkout_completion_reaches_the_webhook(stripe_client, stripe_sandbox, receiver):
    import httpx

    endpoint = stripe_client.v1.webhook_endpoints.create({
        "url": receiver.url, "enabled_events": ["checkout.session.completed"]})
    session = stripe_client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "http://shop.test/ok",
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 500,
                                       "product_data": {"name": "Lamp"}}, "quantity": 1}]})
    httpx.post(session.url, data={"email": "a@b.test", "cardNumber": "4242424242424242",
                                  "cardExpiry": "12/34", "cardCvc": "123",
                                  "billingName": "A"})
    assert stripe_sandbox.wait_for_webhooks()
    [event] = receiver.events(endpoint.secret)
    assert event.type == "checkout.session.completed"
    assert event.data.object.id == session.id and event.data.object.payment_status == "paid"


def test_events_are_kept_30_days_of_sandbox_clock(stripe_client, stripe_sandbox):
    old = stripe_client.v1.products.create({"name": "Old news"})
    stripe_sandbox.clock.advance(29 * 24 * 3600)
    stripe_client.v1.products.update(old.id, {"name": "Recent news"})
    stripe_sandbox.clock.advance(2 * 24 * 3600)
    deadline = time.monotonic() + 3
    while len(stripe_client.v1.events.list().data) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e.type for e in stripe_client.v1.events.list().data] == ["product.updated"]


# Never an address that could be reached: an IP literal from the IPv6 documentation range
# or link-local, or a name under .invalid, so a regression here still sends nothing away.
@pytest.mark.parametrize("url", ["http://hooks.invalid/hook", "https://example.com/hook",
                                 "http://[2001:db8::5]:8080/", "http://[fe80::1]/",
                                 "http://127.0.0.1.nip.io/hook"])
def test_webhook_endpoints_off_this_machine_are_refused(stripe_client, url):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.webhook_endpoints.create({"url": url, "enabled_events": ["*"]})
    assert caught.value.param == "url"
    assert "--allow-remote-webhooks" in caught.value.user_message
    endpoint = stripe_client.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/",
                                                          "enabled_events": ["*"]})
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.webhook_endpoints.update(endpoint.id, {"url": url})


@pytest.mark.parametrize("url", ["http://localhost:9/hook", "http://127.0.0.2:9/",
                                 "http://[::1]:9/", "http://shop.localhost:9/"])
def test_loopback_webhook_endpoints_are_accepted(stripe_client, url):
    endpoint = stripe_client.v1.webhook_endpoints.create({"url": url, "enabled_events": ["*"]})
    assert endpoint.url == url


def test_remote_webhooks_only_when_allowed(tmp_path):
    with pytest.raises(ValueError, match="allow-remote-webhooks"):
        SandboxServer(webhook_urls=["http://hooks.invalid/hook"])
    data = tmp_path / "account.sqlite3"
    # Created by a sandbox that allows it (no event is made, so nothing is sent)...
    with SandboxServer(data_path=data, allow_remote_webhooks=True) as allowing:
        client = stripe.StripeClient(allowing.test_key,
                                     base_addresses={"api": allowing.url},
                                     http_client=stripe.HTTPXClient(allow_sync_methods=True))
        endpoint = client.v1.webhook_endpoints.create({"url": "http://hooks.invalid/hook",
                                                       "enabled_events": ["*"]})
        assert endpoint.url == "http://hooks.invalid/hook"
    # ...a sandbox that does not allow it on the same account does not deliver there.
    with SandboxServer(data_path=data) as strict:
        client = stripe.StripeClient(strict.test_key, base_addresses={"api": strict.url},
                                     http_client=stripe.HTTPXClient(allow_sync_methods=True))
        client.v1.products.create({"name": "Quiet"})
        assert strict.wait_for_webhooks(5)
        assert strict.webhooks.delivered == strict.webhooks.failed == 0
        assert client.v1.events.list().data[0].pending_webhooks == 0
