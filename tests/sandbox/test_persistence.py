"""A sandbox account in a SQLite file survives stop and start."""

from __future__ import annotations

import stripe

from uhadmin.sandbox.server import SandboxServer


def client_for(server: SandboxServer) -> stripe.StripeClient:
    return stripe.StripeClient(server.test_key, base_addresses={"api": server.url},
                               http_client=stripe.HTTPXClient(allow_sync_methods=True))


def test_state_survives_restart(tmp_path):
    data = tmp_path / "account.sqlite3"
    with SandboxServer(data_path=data) as first:
        client = client_for(first)
        product = client.v1.products.create({
            "name": "Kept", "id": "listing_1", "metadata": {"listing_id": "1"},
            "default_price_data": {"currency": "usd", "unit_amount": 700}})
        session = client.v1.checkout.sessions.create({
            "mode": "payment", "success_url": "http://shop.test/ok",
            "line_items": [{"price": product.default_price, "quantity": 1}]})
        client.v1.products.create({"name": "Keyed"}, {"idempotency_key": "keep-me"})
        endpoint = client.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/hook",
                                                       "enabled_events": ["*"]})
        event_count = len(client.v1.events.list({"limit": 100}).data)
    with SandboxServer(data_path=data) as second:
        client = client_for(second)
        again = client.v1.products.retrieve("listing_1", {"expand": ["default_price"]})
        assert again.default_price.unit_amount == 700
        assert [p.id for p in client.v1.products.list().data][-1] == "listing_1"
        assert client.v1.products.search({"query": "metadata['listing_id']:'1'"}).data
        assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
        replay = client.v1.products.create({"name": "Keyed"}, {"idempotency_key": "keep-me"})
        assert replay.last_response.headers.get("Idempotent-Replayed") == "true"
        assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]
        assert len(client.v1.events.list({"limit": 100}).data) == event_count
        try:
            client.v1.products.delete("listing_1")
        except stripe.InvalidRequestError as exc:
            assert "user-created prices" in exc.user_message
        else:
            raise AssertionError("a product with prices must stay undeletable after restart")


def test_memory_state_does_not_survive(tmp_path):
    with SandboxServer() as first:
        client_for(first).v1.products.create({"name": "Gone"})
    with SandboxServer() as second:
        assert client_for(second).v1.products.list().data == []


def test_the_same_server_object_restarts_on_its_port_with_its_state(tmp_path):
    server = SandboxServer(data_path=tmp_path / "restart.sqlite3").start()
    try:
        url = server.url
        client_for(server).v1.products.create({"name": "Before restart", "id": "kept"})
        server.stop()
        server.start()
        assert server.url == url
        client = client_for(server)
        assert client.v1.products.retrieve("kept").name == "Before restart"
        client.v1.products.create({"name": "After restart", "id": "later"})
    finally:
        server.stop()
    with SandboxServer(data_path=tmp_path / "restart.sqlite3") as fresh:
        assert client_for(fresh).v1.products.retrieve("later").name == "After restart"
