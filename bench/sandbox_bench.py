"""Requests per second the offline Stripe sandbox serves to the real stripe SDK.

Measures a sync client making sequential calls and an async client with 16 in flight, for
simple reads (retrieve a product) and writes (create a product), against a sandbox in this
process (what the test suite sees: client and server share one GIL), the same kept in a
SQLite data file (what the app's no-key default runs: one SQLite transaction per request),
and in its own process (`uhadmin sandbox serve`), plus raw kept-alive HTTP GETs with no SDK
in the way (the server's own capacity). Run: python bench/sandbox_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import stripe

from uhadmin.sandbox.server import SandboxServer


def make_client(url: str, key: str) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": url},
                               http_client=stripe.HTTPXClient(allow_sync_methods=True,
                                                              timeout=30))


def sequential(count: int, call: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for index in range(count):
        call(index)
    return count / (time.perf_counter() - started)


def concurrent(count: int, concurrency: int, call: Callable[[int], object]) -> float:
    """`call` must use a client made for this run: an httpx.AsyncClient is bound to the
    event loop it first ran on, and each asyncio.run() makes a new loop."""

    async def run() -> float:
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int) -> None:
            async with gate:
                await call(index)  # type: ignore[misc]

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - started)

    return asyncio.run(run())


def measure(label: str, url: str, key: str, count: int, concurrency: int) -> dict[str, float]:
    client = make_client(url, key)
    product = client.v1.products.create({"name": "Bench product"})
    client.v1.products.retrieve(product.id)  # warm the connection
    results = {
        "sync retrieve": sequential(count, lambda i: client.v1.products.retrieve(product.id)),
        "sync create": sequential(count, lambda i: client.v1.products.create(
            {"name": f"Sync {i}", "metadata": {"listing_id": str(i)}})),
    }
    reader = make_client(url, key)
    results[f"async retrieve x{concurrency}"] = concurrent(
        count, concurrency, lambda i: reader.v1.products.retrieve_async(product.id))
    writer = make_client(url, key)
    results[f"async create x{concurrency}"] = concurrent(
        count, concurrency, lambda i: writer.v1.products.create_async(
            {"name": f"Async {i}", "metadata": {"listing_id": str(i)}}))
    for name, rate in results.items():
        print(f"{label:<18} {name:<22} {rate:8.0f} req/s")
    return results


def handler_cost(label: str, server: SandboxServer, count: int) -> None:
    """Microseconds per request inside the server (routing, store, JSON), no HTTP or SDK:
    what the data file's transaction adds shows here undiluted by client noise."""
    from uhadmin.sandbox.transport import Headers

    headers = Headers([("Authorization", f"Bearer {server.test_key}")])

    async def run() -> None:
        await server._handle("POST", "/v1/products", headers, b"id=bench_cost&name=Cost")
        for name, method, target, body in (
                ("retrieve", "GET", "/v1/products/bench_cost", b""),
                ("update", "POST", "/v1/products/bench_cost", b"name=Renamed"),
                ("create", "POST", "/v1/products", b"name=Cost&metadata[listing_id]=1")):
            started = time.perf_counter()
            for _ in range(count):
                await server._handle(method, target, headers, body)
            cost = (time.perf_counter() - started) / count * 1e6
            print(f"{label:<18} {'handler ' + name:<22} {cost:8.0f} us/request")

    asyncio.run(run())


def raw_capacity(url: str, key: str, product_id: str, count: int, concurrency: int) -> float:
    """GETs over kept-alive sockets with no SDK or httpx in the way: the server's own rate."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    request = (f"GET /v1/products/{product_id} HTTP/1.1\r\nHost: {host}\r\n"
               f"Authorization: Bearer {key}\r\n\r\n").encode()

    async def worker(requests: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(requests):
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            await reader.readexactly(length)
        writer.close()

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
        return (count // concurrency) * concurrency / (time.perf_counter() - started)

    return asyncio.run(run())


def external_sandbox() -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", "from uhadmin.cli import main; main()", "sandbox", "serve",
         "--port", "0", "--json"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    announced = json.loads(process.stdout.readline())
    return process, announced["url"], announced["test_key"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only-in-process", action="store_true",
                        help="skip the separate-process measurements")
    args = parser.parse_args()
    with SandboxServer() as server:
        handler_cost("in-process", server, args.count)
        measure("in-process", server.url, server.test_key, args.count, args.concurrency)
    with tempfile.TemporaryDirectory() as folder, \
            SandboxServer(data_path=Path(folder) / "account.sqlite3") as server:
        handler_cost("in-process, file", server, args.count)
        measure("in-process, file", server.url, server.test_key, args.count, args.concurrency)
    if args.only_in_process:
        return
    process, url, key = external_sandbox()
    try:
        measure("separate process", url, key, args.count, args.concurrency)
        product = make_client(url, key).v1.products.create({"name": "Raw bench"})
        rate = raw_capacity(url, key, product.id, args.count * 2, args.concurrency)
        print(f"{'separate process':<18} {f'raw HTTP x{args.concurrency}':<22} {rate:8.0f} req/s"
              "  (no SDK: the server's own capacity)")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
