"""The gateway's lean HTTP client sends what the SDK's stock HTTPX client sends, via any proxy."""

from __future__ import annotations

import asyncio
import json

import pytest
import stripe

from uhadmin.services.stripe_gateway.lean_http import LeanHTTPXClient

pytestmark = pytest.mark.anyio

KEY = "sk_test_uhadminLeanHttp000000000"
# Headers whose values differ between two requests whatever the client (telemetry carries
# the previous request's duration).
VARYING = {"x-stripe-client-telemetry", "idempotency-key"}
ANSWER = json.dumps({"id": "prod_1", "object": "product", "livemode": False}).encode()


class CapturingServer:
    """A loopback HTTP/1.1 server that keeps every request it reads and answers 200 JSON."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[tuple[str, str]], bytes]] = []

    async def __aenter__(self) -> CapturingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                headers = []
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, value = header.decode().rstrip("\r\n").split(":", 1)
                    headers.append((name, value.strip()))
                length = int(dict((n.lower(), v) for n, v in headers).get("content-length", 0))
                body = await reader.readexactly(length) if length else b""
                self.requests.append((line.decode().rstrip("\r\n"), headers, body))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Request-Id: req_1\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(ANSWER), ANSWER))
                await writer.drain()
        finally:
            writer.close()


async def _send_both_ways(url: str, api_base: str) -> None:
    for http in (stripe.HTTPXClient(timeout=5), LeanHTTPXClient(timeout=5)):
        client = stripe.StripeClient(KEY, http_client=http, max_network_retries=0,
                                     base_addresses={"api": api_base})
        await client.raw_request_async("post", "/v1/products", name="Lamp ü",
                                       metadata={"listing_id": "7"}, idempotency_key="k1")
        await client.v1.products.retrieve_async("prod_1")
        await http.close_async()


def _comparable(request: tuple[str, list[tuple[str, str]], bytes]) -> tuple:
    """The request line, every header as sent (name, order) and the body."""
    line, headers, body = request
    return (line, [(name, "" if name.lower() in VARYING else value) for name, value in headers],
            body)


async def test_the_request_on_the_wire_is_the_stock_clients() -> None:
    async with CapturingServer() as server:
        await _send_both_ways(server.url, server.url)
    stock, lean = server.requests[:2], server.requests[2:]
    assert len(lean) == 2
    for mine, theirs in zip(lean, stock, strict=True):
        assert _comparable(mine) == _comparable(theirs)
    names = [name.lower() for name in (n for n, _ in lean[0][1])]
    assert len(names) == len(set(names)), "a header sent twice"
    assert lean[0][0] == "POST /v1/products HTTP/1.1"


async def test_a_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    async with CapturingServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        # Nothing listens at the target: only the proxy can answer.
        await _send_both_ways(proxy.url, "http://127.0.0.9:9")
    assert [line for line, _, _ in proxy.requests[2:]] == [
        "POST http://127.0.0.9:9/v1/products HTTP/1.1",
        "GET http://127.0.0.9:9/v1/products/prod_1 HTTP/1.1"]


async def test_no_answer_is_the_sdks_connection_error() -> None:
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    http = LeanHTTPXClient(timeout=5)
    client = stripe.StripeClient(KEY, http_client=http, max_network_retries=0,
                                 base_addresses={"api": f"http://127.0.0.1:{port}"})
    with pytest.raises(stripe.APIConnectionError):
        await client.v1.products.retrieve_async("prod_1")
    await http.close_async()
