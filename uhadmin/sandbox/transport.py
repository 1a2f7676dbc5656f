"""A small HTTP/1.1 server on asyncio, running its own event loop in a background thread.

One thread serves every connection: no thread per connection, so no GIL convoy when the
SDK keeps 16 requests in flight, and it behaves the same whether the caller is sync code,
plain asyncio or a qasync loop (the caller's loop is never touched).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from uhadmin.sandbox.common import Response
from uhadmin.sandbox.errors import StripeApiError

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
        except ConnectionError:
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
        """Serve one request; False when the connection should close. A request the server
        cannot read gets a Stripe-shaped error and the connection closes: never silence."""
        try:
            request = await _read_request(reader)
        except _Malformed as exc:
            await _refuse(writer, exc)
            return False
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():  # the peer stopped mid-request; a bare close is fine
                await _refuse(writer, _Malformed(400, "The request ended before its "
                                                      "headers or body were complete."))
            return False
        except asyncio.LimitOverrunError:
            await _refuse(writer, _Malformed(431, "The request's headers are larger than "
                                                  f"{MAX_HEAD_BYTES // 1024} KiB."))
            return False
        method, target, headers, body, keep_alive = request
        if (headers.get("Expect") or "").lower() == "100-continue" and body is None:
            # curl asks before sending bodies over 1 KiB; answering saves it a 1 s wait.
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if body is None:
            try:
                body = await _read_body(reader, headers)
            except _Malformed as exc:
                await _refuse(writer, exc)
                return False
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                await _refuse(writer, _Malformed(400, "The request body ended before its "
                                                      "declared length."))
                return False
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


class _Malformed(Exception):
    """A request whose HTTP framing cannot be read: refused with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(r"^HTTP/1\.[01]$")


async def _read_request(reader: asyncio.StreamReader,
                        ) -> tuple[str, str, Headers, bytes | None, bool]:
    """Method, target, headers, the body when there is none to read (b"") else None, and
    whether to keep the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    while lines and not lines[0]:  # stray CRLFs before a request are allowed (RFC 9112)
        lines.pop(0)
    parts = lines[0].split(" ") if lines else []
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
        raise _Malformed(400, f"Malformed request line: {(lines or [''])[0][:100]!r}.")
    method, target, version = parts
    if not _VERSION.match(version):
        raise _Malformed(505, f"Unsupported HTTP version: {version[:20]!r}.")
    pairs = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name):
            raise _Malformed(400, f"Malformed header line: {line[:100]!r}.")
        pairs.append((name, value.strip()))
    headers = Headers(pairs)
    lengths = {value for name, value in pairs if name.lower() == "content-length"}
    chunked = (headers.get("Transfer-Encoding") or "").lower()
    if chunked and chunked != "chunked":
        raise _Malformed(501, f"Unsupported Transfer-Encoding: {chunked[:40]!r}.")
    if chunked and lengths:
        raise _Malformed(400, "A request may not have both Content-Length and "
                              "Transfer-Encoding.")
    if len(lengths) > 1 or any(not (v.isascii() and v.isdigit()) for v in lengths):
        raise _Malformed(400, f"Invalid Content-Length: {', '.join(sorted(lengths))[:40]!r}.")
    length = int(next(iter(lengths), "0"))
    if length > MAX_BODY_BYTES:
        raise _Malformed(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    connection = (headers.get("Connection") or "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return method, target, headers, None if (length or chunked) else b"", keep_alive


async def _read_body(reader: asyncio.StreamReader, headers: Headers) -> bytes:
    if (headers.get("Transfer-Encoding") or "").lower() != "chunked":
        return await reader.readexactly(int(headers.get("Content-Length") or 0))
    body = bytearray()
    while True:
        size_line = (await reader.readuntil(b"\r\n"))[:-2].split(b";")[0].strip()
        if not size_line or len(size_line) > 8 or not all(
                c in b"0123456789abcdefABCDEF" for c in size_line):
            raise _Malformed(400, f"Invalid chunk size: {size_line[:20]!r}.")
        size = int(size_line, 16)
        if len(body) + size > MAX_BODY_BYTES:
            raise _Malformed(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, ignored
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise _Malformed(400, "A chunk is longer than its declared size.")


async def _refuse(writer: asyncio.StreamWriter, problem: _Malformed) -> None:
    error = StripeApiError(problem.status, problem.message)
    response = Response(problem.status, json.dumps(error.body()).encode())
    try:
        writer.write(encode_response(response, "", keep_alive=False))
        await writer.drain()
    except ConnectionError:
        pass  # the client has gone: nobody is left to tell
