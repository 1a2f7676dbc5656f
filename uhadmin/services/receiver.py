"""The local receiver on 127.0.0.1: Checkout's success and cancel pages and a webhook endpoint.

A stdlib ThreadingHTTPServer runs in its own thread (the offline sandbox does the same), so it
works under asyncio, qasync and the CLI alike. Each request that records something hands the
work to the application's event loop with `run_coroutine_threadsafe` and waits for it: the
attempt is recorded (and the ChangeBus told) on the loop's thread before the page renders, so
the page shows what the app now knows.

Safe on a shared machine: every success/cancel link carries the attempt's unguessable token
(nothing is recorded or shown without it); only loopback Host headers are served (DNS
rebinding) and no cross-origin request is answered or allowed (no CORS headers, a foreign
Origin is refused); every connection has a read timeout; malformed requests get a 4xx page,
never a 5xx or a dropped connection; the port is reusable the moment the receiver stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

import jinja2
from markupsafe import Markup

from uhadmin.errors import ConfigError, UhadminError
from uhadmin.money import format_money
from uhadmin.services.checkout import MalformedEventError, ReturnResult

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a request waits for the event loop to record its result. Recording is a database
# write plus, for the success page, one Stripe read; anything slower is reported as a problem
# on the page rather than hanging the browser.
LOOP_TIMEOUT_S = 30.0
MAX_WEBHOOK_BYTES = 1 << 20  # Stripe's events are a few KiB; refuse anything absurd
SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
TOKEN_PLACEHOLDER = "{token}"  # filled per attempt by the gateway's session_params
# A browser or Stripe sends a whole request at once; a connection silent this long is a
# slow-loris or a dead peer, and holds a thread.
READ_TIMEOUT_S = 10.0
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class WebhookSignatureError(UhadminError):
    """A webhook whose Stripe-Signature is missing, wrong or too old; it was not processed."""


class ReceiverHandler(Protocol):
    """What the receiver calls on the event loop (CheckoutService implements it)."""

    def record_return(self, kind: str, *, session_id: str | None, attempt_id: int | None,
                      token: str | None) -> Coroutine[Any, Any, ReturnResult]: ...

    def record_webhook_event(self, event: Mapping[str, Any]) -> Coroutine[Any, Any, str]: ...

    def page_delivered(self, attempt_id: int) -> None: ...


# (payload, Stripe-Signature header, candidate secrets) -> the verified event as a dict;
# raises ValueError saying why when no secret verifies it.
Verifier = Callable[[bytes, str, Sequence[str]], Mapping[str, Any]]


def _templates() -> jinja2.Environment:
    folder = resources.files("uhadmin.resources") / "pages"
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["money"] = lambda minor, currency: format_money(minor, currency)
    return environment


class _Handler(BaseHTTPRequestHandler):
    server_version = "uhadmin-receiver"
    sys_version = ""

    @property
    def _receiver(self) -> CheckoutReceiver:
        assert isinstance(self.server, _HttpServer)  # the one server this handler serves
        return self.server.receiver

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self._receiver.read_timeout)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except TimeoutError:  # the request line or headers never came: close quietly
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._receiver._serve(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self._receiver._serve(self, "POST")

    def do_OPTIONS(self) -> None:  # noqa: N802 - a CORS preflight: refused, no CORS headers
        self._receiver._serve(self, "OPTIONS")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # The query string holds only session and attempt ids, never a secret.
        log.debug("receiver %s %s", self.address_string(), format % args)

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # SO_REUSEADDR: a fixed UHADMIN_RECEIVER_PORT is free again the moment a run ends
    # (closed connections linger in TIME_WAIT for a minute otherwise). On Linux and macOS it
    # still refuses a port another process is listening on, so a busy port stays an error.
    allow_reuse_address = True
    receiver: CheckoutReceiver  # set right after the server is made


class CheckoutReceiver:
    """Serves `/success`, `/cancel`, `/webhook` and the pages' stylesheet on loopback."""

    def __init__(self, *, port: int = 0, host: str = "127.0.0.1",
                 webhook_secrets: Iterable[str] = (), verifier: Verifier | None = None,
                 mode_label: str = "test mode",
                 read_timeout: float = READ_TIMEOUT_S) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"receiver: serves on loopback only (got host {host!r})")
        self.host = host
        self.port = port
        self.mode_label = mode_label
        self.read_timeout = read_timeout
        self._secrets: list[str] = [s for s in webhook_secrets if s]
        self._verifier = verifier
        self._handler: ReceiverHandler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        # Told of every webhook delivery, verified or refused (the Stripe log).
        self.on_webhook: Callable[..., None] | None = None
        self._templates = _templates()
        self._stylesheet = (resources.files("uhadmin.resources") / "pages" / "pages.css"
                            ).read_bytes()
        self._stylesheet_text = Markup(self._stylesheet.decode())  # our own file, not input

    # ----------------------------------------------------------------- wiring and lifecycle
    def attach(self, handler: ReceiverHandler) -> None:
        """Who records returns and webhook events (the CheckoutService)."""
        self._handler = handler

    def add_webhook_secret(self, secret: str) -> None:
        """Accept events signed with `secret` too (e.g. the sandbox endpoint's whsec_)."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    @property
    def has_webhook_secret(self) -> bool:
        return bool(self._secrets)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> CheckoutReceiver:
        """Listen (idempotent). Results go to `loop`, by default the running one."""
        if self._httpd is not None:
            return self
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        try:
            httpd = _HttpServer((self.host, self.port), _Handler)
        except OSError as error:
            raise ConfigError(f"receiver: cannot listen on {self.host}:{self.port} "
                              f"({error.strerror}); set UHADMIN_RECEIVER_PORT to a free port "
                              "or 0 for any free port") from None
        httpd.receiver = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="uhadmin-receiver", daemon=True)
        self._thread.start()
        log.info("checkout receiver listening on %s", self.url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ----------------------------------------------------------------- addresses
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the receiver is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def success_url(self, attempt_id: int) -> str:
        """The success page; Stripe replaces the literal {CHECKOUT_SESSION_ID}, the service
        the literal {token} (the attempt's return token)."""
        return (f"{self.url}/success?session_id={SESSION_PLACEHOLDER}&attempt={attempt_id}"
                f"&token={TOKEN_PLACEHOLDER}")

    def cancel_url(self, attempt_id: int) -> str:
        # Stripe fills {CHECKOUT_SESSION_ID} in success_url only, so the cancel link carries
        # our own attempt id instead.
        return f"{self.url}/cancel?attempt={attempt_id}&token={TOKEN_PLACEHOLDER}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook"

    # ----------------------------------------------------------------- requests
    def _serve(self, request: _Handler, method: str) -> None:
        try:
            self._dispatch(request, method)
        except ValueError as error:  # e.g. a path urlsplit cannot read: the request's fault
            self._message(request, 400, "Bad request", f"This request is malformed ({error}).")
        except Exception:  # the browser gets an answer, never a dropped connection
            log.exception("receiver: %s %s failed", method, request.path[:200])
            self._message(request, 500, "uhadmin could not answer",
                          "Something went wrong in uhadmin; the details are in its log.")

    def _dispatch(self, request: _Handler, method: str) -> None:
        refusal = self._refusal(request)
        if refusal:
            self._message(request, 403, "Request refused", refusal)
        elif method == "OPTIONS":
            self._message(request, 405, "Method not allowed", "This receiver answers no "
                                                              "cross-origin requests.")
        elif method == "POST":
            self._post(request)
        else:
            self._get(request)

    def _refusal(self, request: _Handler) -> str:
        """Why this request must not be served: a Host that is not this loopback address
        (a DNS-rebinding page) or an Origin other than our own (a cross-site page)."""
        host = (request.headers.get("Host") or "").strip().lower()
        name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if not name:
            name, port = host, ""
        if name.strip("[]") not in LOOPBACK_NAMES or (port and port != str(self.port)):
            return "this receiver only answers requests addressed to its loopback address"
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() not in self._own_origins():
            return "cross-origin requests are not answered"
        return ""

    def _own_origins(self) -> set[str]:
        return {f"http://{name}:{self.port}" for name in ("127.0.0.1", "localhost", "[::1]")}

    def _get(self, request: _Handler) -> None:
        split = urlsplit(request.path)
        query = {key: values[0] for key, values in parse_qs(split.query).items()}
        if split.path == "/static/pages.css":
            request.reply(200, self._stylesheet, "text/css; charset=utf-8")
        elif split.path in ("/success", "/cancel"):
            self._return_page(request, split.path[1:], query)
        elif split.path == "/":
            self._message(request, 200, "uhadmin checkout receiver",
                          "Stripe Checkout sends testers back here after paying or canceling.")
        else:
            self._message(request, 404, "Page not found",
                          "The checkout receiver has no page at this address.")

    def _return_page(self, request: _Handler, kind: str, query: Mapping[str, str]) -> None:
        session_id = query.get("session_id") or None
        if session_id == SESSION_PLACEHOLDER or (session_id and len(session_id) > 255):
            session_id = None  # opened by hand, not through Stripe
        raw_attempt = query.get("attempt", "")
        attempt_id = int(raw_attempt) if raw_attempt.isascii() and raw_attempt.isdigit() \
            and len(raw_attempt) <= 12 else None
        if session_id is None and attempt_id is None:
            self._message(request, 400, "Missing checkout session",
                          "This page needs the session_id or attempt that Stripe adds to the "
                          "link; open it from Stripe Checkout.")
            return
        if self._handler is None:
            self._message(request, 503, "uhadmin is not ready",
                          "The receiver is not connected to the app yet; try again.")
            return
        try:
            result = self._on_loop(self._handler.record_return(
                kind, session_id=session_id, attempt_id=attempt_id,
                token=query.get("token")))
        except Exception as error:  # shown on the page; the browser must get an answer
            log.warning("recording the %s return failed: %s", kind, error)
            result = ReturnResult(None, problem=f"uhadmin could not record this: {error}")
        if result.forbidden:
            self._message(request, 403, "This link is not valid",
                          "The link does not carry this checkout attempt's token, so nothing "
                          "was recorded. Open the page Stripe Checkout sends you to.")
            return
        attempt = result.attempt
        shown_session = session_id or (attempt.session_id if attempt else None)
        html = self._templates.get_template(f"{kind}.html").render(
            attempt=attempt, session_id=shown_session, problem=result.problem,
            mode_label=self.mode_label, stylesheet=self._stylesheet_text)
        request.reply(200 if attempt else 404, html.encode(), "text/html; charset=utf-8")
        if attempt is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._handler.page_delivered, attempt.id)

    def _post(self, request: _Handler) -> None:
        if urlsplit(request.path).path != "/webhook":
            self._message(request, 404, "Page not found", "Only /webhook accepts POST.")
            return
        raw_length = request.headers.get("Content-Length") or ""
        length = int(raw_length) if raw_length.isascii() and raw_length.isdigit() else -1
        if not 0 < length <= MAX_WEBHOOK_BYTES:
            self._json(request, 400, {"error": "expected a JSON body with Content-Length "
                                               f"(1 to {MAX_WEBHOOK_BYTES} bytes)"})
            return
        try:
            payload = request.rfile.read(length)
        except TimeoutError:
            payload = b""
        if len(payload) != length:
            self._json(request, 400, {"error": "the body is shorter than its Content-Length"})
            return
        signature = request.headers.get("Stripe-Signature", "")
        try:
            event = self._verify(payload, signature)
        except WebhookSignatureError as error:
            log.warning("webhook refused: %s", error)
            self._tell_log(payload, verified=False, effect=f"refused: {error}")
            self._json(request, 400, {"error": str(error)})
            return
        if self._handler is None:
            self._json(request, 503, {"error": "the app is not ready; retry later"})
            return
        try:
            result = self._on_loop(self._handler.record_webhook_event(event))
        except MalformedEventError as error:
            self._json(request, 400, {"error": str(error)})
            return
        except Exception as error:
            # Stripe retries a failed delivery; the event id keeps the retry from counting twice.
            log.exception("webhook %s could not be recorded", event.get("id"))
            self._json(request, 500, {"error": f"not recorded: {type(error).__name__}"})
            return
        self._tell_log(payload, verified=True, effect=str(result))
        self._json(request, 200, {"received": True, "result": result})

    def _tell_log(self, payload: bytes, *, verified: bool, effect: str) -> None:
        if self.on_webhook is not None:  # the Stripe log (StripeLogService.record_payload)
            self.on_webhook(payload, verified=verified, effect=effect)

    def _verify(self, payload: bytes, signature: str) -> Mapping[str, Any]:
        if not self._secrets:
            raise WebhookSignatureError(
                "no webhook signing secret is configured (UHADMIN_WEBHOOK_SECRET, or the "
                "whsec_ that `stripe listen` prints)")
        if not signature:
            raise WebhookSignatureError("missing Stripe-Signature header")
        verifier = self._verifier
        if verifier is None:
            from uhadmin.services.stripe_gateway.checkout import verify_webhook

            verifier = verify_webhook
        try:
            return verifier(payload, signature, tuple(self._secrets))
        except ValueError as error:
            raise WebhookSignatureError(str(error)) from None

    def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            raise RuntimeError("the app's event loop is not running")
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        return future.result(timeout=LOOP_TIMEOUT_S)

    def _message(self, request: _Handler, status: int, title: str, text: str) -> None:
        html = self._templates.get_template("message.html").render(
            title=title, text=text, mode_label=self.mode_label,
            stylesheet=self._stylesheet_text)
        request.reply(status, html.encode(), "text/html; charset=utf-8")

    @staticmethod
    def _json(request: _Handler, status: int, body: Mapping[str, Any]) -> None:
        request.reply(status, json.dumps(body).encode(), "application/json")
