"""Fixtures the sandbox tests share."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import stripe


@pytest.fixture
def price(stripe_client):
    product = stripe_client.v1.products.create({
        "name": "Used textbook", "default_price_data": {"currency": "usd", "unit_amount": 1250}})
    return stripe_client.v1.prices.retrieve(product.default_price)


class Receiver:
    """A loopback webhook receiver that records raw bodies and signature headers."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def events(self, secret: str) -> list[stripe.Event]:
        return [stripe.Webhook.construct_event(body, signature, secret)
                for body, signature in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
