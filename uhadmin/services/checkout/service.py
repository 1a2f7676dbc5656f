"""The checkout test lab's service: create sessions for listings, refresh, expire, record returns.

Every attempt is a row in `checkout_attempts`, written BEFORE Stripe is called; its random
`attempt_key` is the create call's idempotency key, so a retry (or a resumed attempt) can
never make a second session. Outcomes arrive three ways: the receiver's success and cancel
pages, signed webhooks (`webhooks.py`), and refreshes (session + payment intent); all of
them go through the store's atomic transitions and the pure rules of domain.checkout_rules.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from uhadmin.config import Settings
from uhadmin.domain.checkout import (
    DEFAULT_EXPIRY,
    MAX_EXPIRY,
    MIN_EXPIRY,
    CheckoutAttempt,
    Outcome,
    TestCard,
)
from uhadmin.domain.checkout_rules import (
    apply_session,
    apply_unanswered_expiry,
    check_checkout_url,
)
from uhadmin.errors import (
    IllegalTransitionError,
    ModeMismatchError,
    StripeRefusedError,
    UhadminError,
)
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.checkout import selection, webhooks
from uhadmin.services.checkout.cards import load_test_cards
from uhadmin.services.checkout.receiving import ReceiverLink
from uhadmin.services.checkout.returns import ReturnResult, record_return
from uhadmin.services.checkout.store import AttemptStore
from uhadmin.services.checkout.waiting import PagesDelivered, WaitResult, wait_for_outcome
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.services.stripe_gateway.checkout import CheckoutGateway, session_params
from uhadmin.services.stripe_log_context import serves, serving

log = logging.getLogger(__name__)

# Stripe measures expires_at from when it receives the request: a minute of margin keeps
# "30 minutes" and "24 hours" inside its window despite clock skew and transit time.
EXPIRY_MARGIN = timedelta(minutes=1)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

Opener = Callable[[str], Any]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReturnPages(Protocol):
    """The receiver as the service sees it (CheckoutReceiver implements it)."""

    @property
    def running(self) -> bool: ...

    def success_url(self, attempt_id: int) -> str: ...

    def cancel_url(self, attempt_id: int) -> str: ...

    def attach(self, handler: Any) -> None: ...


class CheckoutService:
    """Checkout Sessions for testers, their recorded outcomes, and the receiver's callbacks."""

    def __init__(self, db: Database, bus: ChangeBus, listings: ListingService, *,
                 settings: Settings, gateway: CheckoutGateway | None,
                 receiver: Any | None = None, sync: Any | None = None,
                 opener: Opener | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self._bus = bus
        self._listings = listings
        self._settings = settings
        self._gateway = gateway
        self._sync = sync
        self._opener = opener
        self._clock = clock
        self.store = AttemptStore(db, bus, actor=settings.actor, clock=clock)
        self.pages = PagesDelivered()
        self._inflight: dict[str, asyncio.Future[CheckoutAttempt]] = {}
        self._link = ReceiverLink(receiver, self)

    # ----------------------------------------------------------------- wiring
    @property
    def receiver(self) -> Any | None:
        return self._link.receiver

    async def use_receiver(self, receiver: Any | None) -> None:
        """Send buyers to another receiver from now on (e.g. a running `checkout serve`)."""
        await self._link.stop()
        self._link = ReceiverLink(receiver, self)

    def set_opener(self, opener: Opener | None) -> None:
        """How checkout pages are opened: QDesktopServices in the GUI, webbrowser in the CLI."""
        self._opener = opener

    def set_sync(self, sync: Any | None) -> None:
        """The SyncService (anything with `async run() -> SyncReport`) used to publish
        listings that are not in Stripe yet."""
        self._sync = sync

    @property
    def mode(self) -> str:
        """"sandbox", "test" or "live": where sessions are made."""
        if self._gateway is None:
            return self._settings.mode
        return "sandbox" if self.uses_sandbox else self._gateway.mode

    @property
    def uses_sandbox(self) -> bool:
        base = self._gateway.api_base if self._gateway is not None else None
        return bool(base) and urlsplit(base).hostname in _LOOPBACK

    @staticmethod
    def test_cards() -> tuple[TestCard, ...]:
        return load_test_cards()

    def require_gateway(self) -> CheckoutGateway:
        """The gateway, after the live-mode guard; raises before any network call."""
        mode = self._gateway.mode if self._gateway is not None else self._settings.mode
        if mode == "live" and not self._settings.allow_live_mode:
            raise ModeMismatchError(
                "the checkout test lab refuses a LIVE Stripe key: it would charge real cards. "
                "Use a test key (sk_test_…), or allow live mode in settings "
                "(UHADMIN_ALLOW_LIVE_MODE=1) if you really mean it")
        if self._gateway is None:
            raise UhadminError("no Stripe connection is configured for the checkout lab")
        return self._gateway

    def check_checkout_url(self, url: str) -> None:
        """Refuse any URL that is not a Stripe Checkout page (or the sandbox's own page)."""
        base = self._gateway.api_base if self._gateway is not None else None
        check_checkout_url(url, sandbox_base=base if self.uses_sandbox else None)

    # ----------------------------------------------------------------- create
    async def create(self, lines: Sequence[selection.LineRequest] | Mapping[int, int], *,
                     tester: str | None = None, expires_in: timedelta = DEFAULT_EXPIRY,
                     attempt_key: str | None = None,
                     initiator: object | None = None) -> CheckoutAttempt:
        """A NEW Checkout Session in payment mode for approved listings with quantities.

        Concurrent identical calls (a double click) share one session. `attempt_key`
        resumes an attempt whose create never got an answer, with the same idempotency key.
        Listings not yet in Stripe are published first through the sync service, or
        refused with a message naming them.
        """
        gateway = self.require_gateway()
        wanted = selection.validate_request(lines, expires_in)
        tester = (tester or self._settings.actor).strip() or self._settings.actor
        signature = attempt_key or repr(
            [sorted(wanted.items()), tester, int(expires_in.total_seconds())])
        running = self._inflight.get(signature)
        if running is None:
            running = asyncio.ensure_future(self._create_once(
                gateway, wanted, tester, expires_in, attempt_key, initiator))
            self._inflight[signature] = running
            running.add_done_callback(lambda _: self._inflight.pop(signature, None))
        # shield: a cancelled caller (closed window) must not abandon a half-made attempt
        return await asyncio.shield(running)

    async def _create_once(self, gateway: CheckoutGateway, wanted: dict[int, int], tester: str,
                           expires_in: timedelta, attempt_key: str | None,
                           initiator: object | None) -> CheckoutAttempt:
        if attempt_key is not None:
            existing = await self.store.by_key(attempt_key)
            if existing is not None and existing.session_id is not None:
                return existing  # this attempt already has its session: never a second one
        lines = await selection.sellable_lines(self._listings, self._sync, wanted)
        expires_at = self._clock() + min(max(expires_in, MIN_EXPIRY + EXPIRY_MARGIN),
                                         MAX_EXPIRY - EXPIRY_MARGIN)
        # Before the row exists, so a busy port leaves nothing behind. Even with the
        # website's own pages configured, the receiver takes the webhooks.
        await self._link.start()
        self._return_urls(0)  # no pages for the buyer: refuse before anything is written
        key = attempt_key or secrets.token_hex(16)
        attempt = await self.store.insert(key=key, lines=lines, tester=tester,
                                          expires_at=expires_at)
        # A resumed attempt re-sends exactly what it sent first (same key, same parameters).
        success_url, cancel_url = self._return_urls(attempt.id)
        params = session_params(attempt, success_url=success_url, cancel_url=cancel_url,
                                expires_at=attempt.expires_at or expires_at)
        try:
            with serving("checkout", attempt_id=attempt.id):  # tags its Stripe log entry
                info = await gateway.create_session(params,
                                                    idempotency_key=f"uh_checkout_{key}")
        except StripeRefusedError as refused:
            if refused.code == "idempotency_error":
                # The first send may have made a session: keep the row, never guess.
                raise UhadminError(
                    f"attempt {attempt.id} cannot be resumed with different parameters "
                    "(the receiver's port or the pages changed); create a new one") from refused
            # Stripe made nothing: forget the placeholder so history shows only real sessions.
            await self.store.delete(attempt.id)
            raise selection.explain_refusal(refused, attempt.lines) from refused
        except ModeMismatchError:
            await self.store.delete(attempt.id)
            raise
        # Anything else (offline, outcome unknown) keeps the row as "creating": calling
        # create(attempt_key=...) again resumes it with the same idempotency key.
        return await self.store.transition(
            attempt.id, lambda stored: apply_session(replace(stored, status="open"), info),
            source="create", initiator=initiator)

    def _return_urls(self, attempt_id: int) -> tuple[str, str]:
        success_url = self._settings.success_url
        cancel_url = self._settings.cancel_url
        if not (success_url and cancel_url):
            receiver = self._link.receiver
            if receiver is None or not receiver.running:
                raise UhadminError(
                    "no success/cancel pages would be there for the buyer: run `uhadmin "
                    "checkout serve` in another terminal, use --wait, or set "
                    "UHADMIN_SUCCESS_URL and UHADMIN_CANCEL_URL")
            success_url = success_url or receiver.success_url(attempt_id)
            cancel_url = cancel_url or receiver.cancel_url(attempt_id)
        return success_url, cancel_url

    # ----------------------------------------------------------------- open the page
    async def open_in_browser(self, attempt: CheckoutAttempt | int | str) -> str:
        """Open the attempt's Checkout page with the opener; returns the URL opened."""
        self.require_gateway()
        if isinstance(attempt, str) and attempt.startswith(("http://", "https://")):
            url = attempt
        else:
            found = attempt if isinstance(attempt, CheckoutAttempt) else await self.get(attempt)
            if not found.url or found.status != "open":
                raise IllegalTransitionError(
                    f"attempt {found.id} is {found.outcome} (session {found.status}): only an "
                    "open session has a page to pay on; create a new session")
            url = found.url
        self.check_checkout_url(url)
        if self._opener is None:
            raise UhadminError(f"no browser opener is configured; open this URL yourself: {url}")
        result = self._opener(url)
        if inspect.isawaitable(result):
            result = await result
        if result is False:
            raise UhadminError(f"the system browser did not open; open this URL yourself: {url}")
        return url

    # ----------------------------------------------------------------- queries
    async def get(self, ref: int | str) -> CheckoutAttempt:
        """An attempt by id (int) or Checkout Session id (str); NotFoundError otherwise."""
        return await self.store.get(ref)

    async def list_attempts(self, *, tester: str | None = None,
                            outcome: Outcome | None = None,
                            limit: int = 200) -> list[CheckoutAttempt]:
        """Attempts, newest first (optionally one tester's, or one outcome)."""
        return await self.store.list(tester=tester, outcome=outcome,
                                     limit=max(1, min(limit, 1000)))

    # ----------------------------------------------------------------- refresh and expire
    async def refresh(self, ref: int | str, *, initiator: object | None = None,
                      ) -> CheckoutAttempt:
        """Ask Stripe (session, then payment intent) and record what it says."""
        gateway = self.require_gateway()
        return await self._refresh(gateway, await self.get(ref), initiator=initiator)

    async def _refresh(self, gateway: CheckoutGateway, attempt: CheckoutAttempt, *,
                       canceled: bool = False, initiator: object | None = None,
                       source: str = "refresh") -> CheckoutAttempt:
        if attempt.session_id is None:
            now = self._clock()
            return await self.store.transition(
                attempt.id, lambda stored: apply_unanswered_expiry(stored, now),
                source=source, initiator=initiator)
        with serving("checkout", attempt_id=attempt.id):  # tags its Stripe log entries
            info = await gateway.retrieve_session(attempt.session_id)
            intent = None
            if info.payment_intent_id:
                intent = await gateway.retrieve_payment_intent(info.payment_intent_id)
        return await self.store.transition(
            attempt.id, lambda stored: apply_session(stored, info, intent, canceled=canceled),
            source=source, initiator=initiator)

    async def refresh_open(self, *, tester: str | None = None,
                           initiator: object | None = None) -> list[CheckoutAttempt]:
        """Refresh every attempt that is not finished yet (of `tester`, or everyone's);
        returns them as they stand now."""
        gateway = self.require_gateway()
        return [await self._refresh(gateway, attempt, initiator=initiator)
                for attempt in await self.store.unfinished(tester)]

    async def expire(self, ref: int | str, *, initiator: object | None = None,
                     ) -> CheckoutAttempt:
        """Expire an open session now (Stripe refuses if it is not open: said clearly)."""
        gateway = self.require_gateway()
        attempt = await self.get(ref)
        if attempt.session_id is None:
            raise IllegalTransitionError(f"attempt {attempt.id} has no Checkout Session yet")
        try:
            with serving("checkout", attempt_id=attempt.id):  # tags its Stripe log entry
                info = await gateway.expire_session(attempt.session_id)
        except StripeRefusedError as refused:
            if refused.code != "checkout_session_not_open":
                raise
            current = await self._refresh(gateway, attempt, initiator=initiator)
            raise IllegalTransitionError(
                f"session {attempt.session_id} is {current.status} ({current.outcome}): only "
                "open sessions can be expired") from refused
        return await self.store.transition(attempt.id, lambda a: apply_session(a, info),
                                           source="expire", initiator=initiator)

    async def expire_mine(self, *, tester: str | None = None,
                          initiator: object | None = None) -> list[CheckoutAttempt]:
        """Expire every open session of `tester` (default: this user); returns those expired."""
        gateway = self.require_gateway()
        expired: list[CheckoutAttempt] = []
        for attempt in await self.store.open_of(tester or self._settings.actor):
            try:
                with serving("checkout", attempt_id=attempt.id):  # tags its Stripe log entry
                    info = await gateway.expire_session(attempt.session_id or "")
            except StripeRefusedError as refused:
                if refused.code != "checkout_session_not_open":
                    raise
                await self._refresh(gateway, attempt, initiator=initiator)  # record why
                continue
            expired.append(await self.store.transition(
                attempt.id, functools.partial(apply_session, info=info), source="expire",
                initiator=initiator))
        return expired

    # ----------------------------------------------------------------- waiting (CLI --wait)
    async def wait_for_outcome(self, ref: int | str, *, stop: asyncio.Event | None = None,
                               poll_every: float | None = None,
                               page_grace: float | None = None,
                               on_outcome: Callable[[CheckoutAttempt], None] | None = None,
                               ) -> WaitResult:
        """Wait for paid, canceled or expired, polling Stripe as well as listening, then for
        the browser to receive that attempt's page (see waiting.py)."""
        attempt = await self.get(ref)
        options = {name: value for name, value in (("poll_every", poll_every),
                                                   ("page_grace", page_grace))
                   if value is not None}
        return await wait_for_outcome(
            attempt.id, get=self.get, refresh=self.refresh, bus=self._bus,
            pages=self.pages if self._link.receiver is not None else None, stop=stop,
            on_outcome=on_outcome, **options)

    # ----------------------------------------------------------------- receiver callbacks
    @serves("checkout")  # its webhook-endpoint calls, in the Stripe log
    async def start_receiver(self) -> Any:
        """Start the success/cancel/webhook receiver (and its sandbox webhook endpoint)."""
        return await self._link.start(required=True)

    @serves("checkout")
    async def stop_receiver(self) -> None:
        """Stop the receiver and remove the sandbox webhook endpoint registered for it."""
        await self._link.stop()

    async def record_return(self, kind: str, *, session_id: str | None,
                            attempt_id: int | None, token: str | None = None) -> ReturnResult:
        """The buyer came back through the success or cancel page (the receiver calls this).

        Nothing is recorded, or shown, unless the link's token is the attempt's own.
        """
        async def confirm(attempt: CheckoutAttempt) -> CheckoutAttempt:
            return await self._refresh(self.require_gateway(), attempt,
                                       canceled=kind == "cancel", source=f"{kind} page")

        return await record_return(kind, session_id=session_id, attempt_id=attempt_id,
                                   token=token, get=self.get, confirm=confirm, store=self.store)

    def page_delivered(self, attempt_id: int) -> None:
        """The receiver finished sending this attempt's success or cancel page."""
        self.pages.delivered(attempt_id)

    async def record_webhook_event(self, event: Mapping[str, Any]) -> str:
        """Apply one verified webhook event, once: "processed", "duplicate" or "ignored"."""
        gateway = self._gateway
        return await webhooks.record_webhook_event(
            self.store, event,
            read_intent=gateway.retrieve_payment_intent if gateway is not None else None)
