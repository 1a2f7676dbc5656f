"""The sandbox's HTTP layer: keep-alive, HEAD, 100-continue, and refusal of bad requests."""

from __future__ import annotations

import socket

import httpx


def raw_exchange(sandbox, data: bytes) -> bytes:
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_keep_alive_serves_many_requests_on_one_connection(stripe_sandbox):
    headers = {"Authorization": f"Bearer {stripe_sandbox.test_key}"}
    with httpx.Client(base_url=stripe_sandbox.url, headers=headers) as client:
        for _ in range(20):
            assert client.get("/v1/products").status_code == 200
    assert stripe_sandbox.stats.count("GET", "/v1/products") == 20


def test_head_has_headers_but_no_body(stripe_sandbox):
    reply = raw_exchange(stripe_sandbox, b"HEAD /static/sandbox.css HTTP/1.1\r\nHost: x\r\n"
                                         b"Connection: close\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: " in head and body == b""


def test_expect_100_continue_is_answered(stripe_sandbox):
    body = b"name=Curl+product"
    request = (f"POST /v1/products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               f"{stripe_sandbox.test_key}\r\nContent-Length: {len(body)}\r\n"
               "Expect: 100-continue\r\nConnection: close\r\n\r\n").encode() + body
    reply = raw_exchange(stripe_sandbox, request)
    assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    assert b'"name": "Curl product"' in reply


def test_bad_request_line_and_chunked_bodies_are_refused(stripe_sandbox):
    assert raw_exchange(stripe_sandbox, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
    chunked = (b"POST /v1/products HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"0\r\n\r\n")
    assert raw_exchange(stripe_sandbox, chunked).startswith(b"HTTP/1.1 411")


def test_api_responses_carry_stripe_headers(stripe_sandbox):
    response = httpx.get(f"{stripe_sandbox.url}/v1/products",
                         headers={"Authorization": f"Bearer {stripe_sandbox.test_key}"})
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["stripe-version"] == "2026-10-28.endive"
    assert response.headers["content-type"] == "application/json"
