"""The hosted checkout page: HTML forms (no JavaScript needed) over the checkout endpoints."""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import jinja2

from uhadmin.sandbox.common import Response
from uhadmin.sandbox.payments import CardForm, PaymentResult

if TYPE_CHECKING:
    from uhadmin.sandbox.server import SandboxServer

ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                "vnd", "vuv", "xaf", "xof", "xpf"}
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
_PAGE = re.compile(r"^/c/pay/(?P<id>[A-Za-z0-9_]+)(?P<rest>/authenticate)?$")


def format_amount(amount: int, currency: str) -> str:
    """Minor units to text, e.g. (1250, 'usd') -> 'USD 12.50'; exact, never float."""
    places = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    value = Decimal(amount).scaleb(-places)
    return f"{currency.upper()} {value:,.{places}f}"


def _templates() -> jinja2.Environment:
    folder = resources.files("uhadmin.resources") / "sandbox"
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["money"] = lambda amount, currency: format_amount(amount, currency)
    return environment


class HostedCheckout:
    """Serves `/c/pay/<session>` (page and form post), its 3-D Secure step and the CSS."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.api = server.api
        self.templates = _templates()
        folder = resources.files("uhadmin.resources") / "sandbox"
        self.stylesheet = (folder / "sandbox.css").read_bytes()

    def serve(self, method: str, path: str, query: str, body: bytes,
              headers: Any) -> tuple[Response, str]:
        if path == "/static/sandbox.css" and method == "GET":
            return Response(200, self.stylesheet, "text/css; charset=utf-8"), path
        if path == "/" and method == "GET":
            return self._page(200, "index.html", url=self.server.url), path
        found = _PAGE.match(path)
        if not found:
            return self._message(404, "Page not found",
                                 "The offline Stripe sandbox has no page at this address."), \
                "/{unknown}"
        session_id = found.group("id")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        if found.group("rest"):
            template = "/c/pay/{id}/authenticate"
            if method == "POST":
                return self._authenticate(session_id, form.get("action") == "complete"), \
                    template
            return self._challenge(session_id), template
        template = "/c/pay/{id}"
        if method == "POST":
            return self._pay(session_id, form), template
        return self._checkout(session_id), template

    # ----------------------------------------------------------------- pages
    def _page(self, status: int, name: str, **context: Any) -> Response:
        html = self.templates.get_template(name).render(**context)
        return Response(status, html.encode(), "text/html; charset=utf-8")

    def _message(self, status: int, title: str, text: str, link: str | None = None,
                 link_text: str | None = None) -> Response:
        return self._page(status, "message.html", title=title, text=text, link=link,
                          link_text=link_text)

    @staticmethod
    def _redirect(url: str) -> Response:
        return Response(303, b"", "text/plain", headers={"Location": url})

    def _closed_page(self, session: dict[str, Any] | None) -> Response | None:
        if session is None:
            return self._message(404, "Checkout Session not found",
                                 "This checkout link does not belong to any session of this "
                                 "offline Stripe account.")
        if session["status"] == "expired":
            return self._message(410, "This Checkout Session has expired",
                                 "The link to pay has expired. Go back to the shop and start "
                                 "the payment again.", session["cancel_url"], "Back to the shop")
        if session["status"] == "complete":
            return self._message(200, "This Checkout Session is complete",
                                 "The payment has already been made; there is nothing more to "
                                 "pay here.", session["success_url"] and session["success_url"]
                                 .replace("{CHECKOUT_SESSION_ID}", session["id"]),
                                 "Continue")
        return None

    def _checkout(self, session_id: str, error: PaymentResult | None = None,
                  form: dict[str, str] | None = None, status: int = 200) -> Response:
        with self.server.store.transaction(write_if=self.api.sessions_due):
            session = self.api.open_session_for_payment(session_id)
            closed = self._closed_page(session)
            if closed is not None:
                return closed
            assert session is not None
            context = {
                "session": session, "line_items": session["_line_items"],
                "error": error, "form": form or {"email": session["customer_email"] or ""},
                "action": f"/c/pay/{session_id}",
            }
        return self._page(status, "checkout.html", **context)

    def _pay(self, session_id: str, form: dict[str, str]) -> Response:
        card = CardForm(email=form.get("email", ""), card_number=form.get("cardNumber", ""),
                        expiry=form.get("cardExpiry", ""), cvc=form.get("cardCvc", ""),
                        name=form.get("billingName", ""))
        with self.server.store.transaction(write=True):
            session = self.api.open_session_for_payment(session_id)
            closed = self._closed_page(session)
            if closed is not None:
                return closed
            result = self.api.pay(session_id, card)
        if result.kind in ("redirect", "authenticate"):
            return self._redirect(result.redirect_url or "/")
        # A decline shows inline and the session stays open, as on Stripe's page.
        return self._checkout(session_id, result, form, status=402)

    def _challenge(self, session_id: str) -> Response:
        with self.server.store.transaction(write_if=self.api.sessions_due):
            session = self.api.open_session_for_payment(session_id)
            closed = self._closed_page(session)
            if closed is not None:
                return closed
            assert session is not None
            intent = self.server.store.get("payment_intent", session["payment_intent"] or "")
            if intent is None or intent["status"] != "requires_action":
                return self._redirect(f"/c/pay/{session_id}")
        return self._page(200, "authenticate.html", session=session, intent=intent,
                          action=f"/c/pay/{session_id}/authenticate")

    def _authenticate(self, session_id: str, approved: bool) -> Response:
        with self.server.store.transaction(write=True):
            session = self.api.open_session_for_payment(session_id)
            closed = self._closed_page(session)
            if closed is not None:
                return closed
            result = self.api.authenticate(session_id, approved)
        if result.kind == "redirect":
            return self._redirect(result.redirect_url or "/")
        return self._checkout(session_id, result, status=402)
