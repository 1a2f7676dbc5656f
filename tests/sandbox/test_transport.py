"""The sandbox's HTTP layer: keep-alive, HEAD, 100-continue, and refusal of bad requests."""

from __future__ import annotations

import json
import socket

import httpx
import pytest


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


def stripe_error(reply: bytes) -> tuple[int, dict]:
    """The status and `error` of a reply, which must be Stripe-shaped JSON."""
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"Content-Type: application/json" in head, head
    return status, json.loads(body)["error"]


def _post(extra_headers: bytes, body: bytes = b"") -> bytes:
    return b"POST /v1/products HTTP/1.1\r\nHost: x\r\n" + extra_headers + b"\r\n" + body


@pytest.mark.parametrize(("request_bytes", "status", "words"), [
    (b"NONSENSE\r\n\r\n", 400, "request line"),
    (b"GET /v1/products HTTP/7.0\r\nHost: x\r\n\r\n", 505, "HTTP version"),
    (_post(b"Content-Length: ten\r\n"), 400, "Content-Length"),
    (_post(b"Content-Length: -5\r\n"), 400, "Content-Length"),
    (_post(b"Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"), 400, "Content-Length"),
    (_post(b"Transfer-Encoding: chunked\r\n", b"zz\r\nnonsense\r\n"), 400, "chunk size"),
    (_post(b"Transfer-Encoding: chunked\r\n", b"2\r\nabcdef\r\n0\r\n\r\n"), 400,
     "chunk"),
    (_post(b"Transfer-Encoding: gzip\r\n"), 501, "Transfer-Encoding"),
    (_post(b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n"), 400, "both"),
    (_post(b"X-Broken header without colon\r\n"), 400, "header line"),
    (_post(b"X-Big: " + b"a" * (70 * 1024) + b"\r\n"), 431, "headers"),
    (_post(b"Content-Length: 99999999999\r\n"), 413, "larger"),
])
def test_malformed_requests_get_a_stripe_shaped_error(stripe_sandbox, request_bytes, status,
                                                      words):
    got_status, error = stripe_error(raw_exchange(stripe_sandbox, request_bytes))
    assert got_status == status
    assert error["type"] == "invalid_request_error" and words in error["message"]


def test_a_body_cut_short_is_answered(stripe_sandbox):
    host, port = stripe_sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(_post(b"Content-Length: 50\r\n", b"name=short"))
        conn.shutdown(socket.SHUT_WR)
        reply = b"".join(iter(lambda: conn.recv(65536), b""))
    status, error = stripe_error(reply)
    assert status == 400 and "ended before" in error["message"]


def authorized(sandbox, request_head: bytes, body: bytes = b"") -> bytes:
    """Send a request with the sandbox's key and `Connection: close`; the raw reply."""
    auth = f"Authorization: Bearer {sandbox.test_key}\r\nConnection: close\r\n".encode()
    return raw_exchange(sandbox, request_head + auth + b"\r\n" + body)


def test_non_utf8_bodies_and_queries_are_refused(stripe_sandbox):
    body = b"name=caf\xe9"
    for head, sent in ((_post(f"Content-Length: {len(body)}\r\n".encode())[:-2], body),
                       (b"GET /v1/products?ids[]=%E9 HTTP/1.1\r\nHost: x\r\n", b"")):
        status, error = stripe_error(authorized(stripe_sandbox, head, sent))
        assert status == 400 and "UTF-8" in error["message"]


def test_chunked_bodies_are_read(stripe_sandbox):
    reply = authorized(stripe_sandbox, _post(b"Transfer-Encoding: chunked\r\n")[:-2],
                       b"5\r\nname=\r\n6\r\nChunky\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert b'"name": "Chunky"' in reply


def test_api_responses_carry_stripe_headers(stripe_sandbox):
    response = httpx.get(f"{stripe_sandbox.url}/v1/products",
                         headers={"Authorization": f"Bearer {stripe_sandbox.test_key}"})
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["stripe-version"] == "2026-10-28.endive"
    assert response.headers["content-type"] == "application/json"
