"""A small HTTP/1.1 server on asyncio, running its own event loop in a background thread.

One thread serves every connection: no thread per connection, so no GIL convoy when the
SDK keeps 16 requests in flight, and it behaves the same whether the caller is sync code,
plain asyncio or a qasync loop (the caller's loop is never touched).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from uhadmin.sandbox.common import Response

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024


class Headers:
    """Case-insensitive request headers."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values = {name.lower(): value for name, value in pairs}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name.lower(), default)


# (method, target, headers, body) -> (response, request id)
App = Callable[[str, str, Headers, bytes], Awaitable[tuple[Response, str]]]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def encode_response(response: Response, request_id: str, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}",
             f"Content-Type: {response.content_type}",
             f"Content-Length: {len(response.body)}",
             f"Request-Id: {request_id}",
             "Server: uhadmin-offline-stripe",
             "Cache-Control: no-cache, no-store"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class LoopbackHttpServer:
    """`start()` binds and serves in a thread; `stop()` closes every connection and joins."""

    def __init__(self, host: str, port: int, app: App) -> None:
        self.host = host
        self.port = port
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            # Not asyncio.new_event_loop(): under qasync.run() the global policy makes Qt
            # event loops, which cannot run on this thread. A selector loop serves TCP on
            # every platform.
            loop = asyncio.SelectorEventLoop()
            self.loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_server(
                    self._connection, self.host, self.port, backlog=512,
                    limit=MAX_HEAD_BYTES))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="stripe-sandbox-http", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def stop(self) -> None:
        loop = self.loop
        if loop is None or self._thread is None:
            return

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        self._thread.join(timeout=10)
        self._thread = None
        self.loop = None

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Small request/response pairs on kept-alive connections: without this, Nagle
            # plus delayed ACKs add ~40 ms to a request.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writers.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
                ValueError):
            pass
        except asyncio.CancelledError:
            # Only `stop()` cancels connections; ending quietly keeps asyncio's stream
            # callback from logging each one as an error.
            return
        except Exception:
            log.exception("sandbox connection failed")
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            writer.write(encode_response(Response(400, b"bad request line", "text/plain"),
                                         "", False))
            return False
        method, target, version = parts
        pairs = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                pairs.append((name.strip(), value.strip()))
        headers = Headers(pairs)
        if (headers.get("Transfer-Encoding") or "").lower() == "chunked":
            writer.write(encode_response(Response(411, b"length required", "text/plain"),
                                         "", False))
            return False
        length = int(headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            writer.write(encode_response(Response(413, b"too large", "text/plain"), "", False))
            return False
        if length and (headers.get("Expect") or "").lower() == "100-continue":
            # curl asks before sending bodies over 1 KiB; answering saves it a 1 s wait.
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(length) if length else b""
        connection = (headers.get("Connection") or "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else \
            connection == "keep-alive"
        response, request_id = await self.app("GET" if method == "HEAD" else method, target,
                                              headers, body)
        if response.drop:
            # "Commit then drop": the request took effect, the client hears nothing.
            writer.transport.abort()
            return False
        payload = encode_response(response, request_id, keep_alive)
        if method == "HEAD":
            payload = payload[:len(payload) - len(response.body)]
        writer.write(payload)
        await writer.drain()
        return keep_alive
