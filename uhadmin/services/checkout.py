"""The checkout test lab: create Checkout Sessions for listings, record and refresh outcomes.

Every attempt is a row in `checkout_attempts`, written BEFORE Stripe is called; its random
`attempt_key` is the create call's idempotency key, so a retry (or a resumed attempt) can
never make a second session. Outcomes arrive three ways: the receiver's success and cancel
pages, signed webhooks, and explicit refreshes (session + payment intent). Each change is
broadcast as Change("checkout", {attempt id}).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from uhadmin.config import Settings
from uhadmin.domain.checkout import (
    DEFAULT_EXPIRY,
    MAX_EXPIRY,
    MIN_EXPIRY,
    CheckoutAttempt,
    CheckoutLine,
    Outcome,
    TestCard,
    decide_outcome,
    describe_duration,
)
from uhadmin.domain.listing import Listing, ListingStatus, SyncState
from uhadmin.errors import (
    FieldProblem,
    IllegalTransitionError,
    ModeMismatchError,
    NotFoundError,
    StripeRefusedError,
    StripeUnavailableError,
    UhadminError,
    ValidationError,
)
from uhadmin.services.change_bus import Change, ChangeBus
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.services.receiver import CheckoutReceiver, ReturnResult
from uhadmin.services.stripe_gateway.checkout import (
    CheckoutGateway,
    PaymentIntentInfo,
    SessionInfo,
    payment_intent_info,
    session_info,
)
from uhadmin.services.stripe_log_context import serves, serving
from uhadmin.services.tables import CheckoutAttemptRow, WebhookEventRow

log = logging.getLogger(__name__)

# The events the receiver acts on; others are acknowledged and recorded as seen.
SESSION_EVENTS = (
    "checkout.session.completed",
    "checkout.session.expired",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
)
# A declined card leaves the session open and sends no session event; this one tells the
# app at once (the payment intent carries our attempt in its metadata).
DECLINE_EVENT = "payment_intent.payment_failed"
HANDLED_EVENTS = (*SESSION_EVENTS, DECLINE_EVENT)
STRIPE_CHECKOUT_HOST = "checkout.stripe.com"
SANDBOX_ENDPOINT_DESCRIPTION = "uhadmin checkout receiver"
MAX_LINES = 100  # Stripe's limit on line items per session
METADATA_VALUE_LIMIT = 500
# Stripe measures expires_at from when it receives the request: a minute of margin keeps
# "30 minutes" and "24 hours" inside its window despite clock skew and transit time.
EXPIRY_MARGIN = timedelta(minutes=1)
# After expires_at, how long the waiting CLI gives the webhook before asking Stripe itself.
EXPIRY_GRACE_S = 5.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

Opener = Callable[[str], Any]
LineRequest = tuple[int, int]  # (listing id, quantity)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _from_unix(stamp: int | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


def load_test_cards() -> tuple[TestCard, ...]:
    """Stripe's test cards from resources/test_cards.json."""
    path = resources.files("uhadmin.resources") / "test_cards.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(TestCard(number=card["number"], brand=card["brand"], outcome=card["outcome"],
                          decline_code=card.get("decline_code", ""),
                          description=card.get("description", ""))
                 for card in data["cards"])


def _attempt_from_row(row: CheckoutAttemptRow) -> CheckoutAttempt:
    lines = tuple(
        CheckoutLine(listing_id=int(item["listing_id"]), quantity=int(item["quantity"]),
                     title=str(item.get("title", "")), price_id=str(item.get("price_id", "")),
                     unit_amount=int(item.get("unit_amount", 0)),
                     currency=str(item.get("currency", row.currency)))
        for item in (row.line_items or []))
    return CheckoutAttempt(
        id=row.id, attempt_key=row.attempt_key, session_id=row.session_id, url=row.url,
        lines=lines, amount_total=row.amount_total, currency=row.currency, tester=row.tester,
        livemode=bool(row.livemode), created_at=_as_utc(row.created_at),
        expires_at=_as_utc(row.expires_at), status=row.status,
        payment_status=row.payment_status, outcome=Outcome(row.outcome),
        decline_code=row.decline_code or "", decline_message=row.decline_message or "",
        payment_intent_id=row.payment_intent_id, updated_at=_as_utc(row.updated_at))


def _attempt_fields(attempt: CheckoutAttempt) -> dict[str, Any]:
    """What a refresh may change on the row (the rest is fixed when the attempt is made)."""
    return {"session_id": attempt.session_id, "url": attempt.url,
            "amount_total": attempt.amount_total, "livemode": attempt.livemode,
            "expires_at": attempt.expires_at, "status": attempt.status,
            "payment_status": attempt.payment_status, "outcome": str(attempt.outcome),
            "decline_code": attempt.decline_code, "decline_message": attempt.decline_message,
            "payment_intent_id": attempt.payment_intent_id}


_STATUS_RANK = {"creating": 0, "open": 1, "complete": 2, "expired": 2}


def apply_session(attempt: CheckoutAttempt, info: SessionInfo,
                  intent: PaymentIntentInfo | None = None, *, canceled: bool = False,
                  async_failure: bool = False) -> CheckoutAttempt:
    """The attempt after Stripe said `info` (and `intent`); pure, so every path agrees.

    Status never moves backwards (a late "open" copy cannot undo "complete"); a decline
    reason is kept until a newer one replaces it, even after the buyer cancels or pays.
    """
    status = info.status
    if _STATUS_RANK.get(status, 1) < _STATUS_RANK.get(attempt.status, 0):
        status = attempt.status
    decline_code, decline_message = attempt.decline_code, attempt.decline_message
    if intent is not None and intent.declined:
        decline_code, decline_message = intent.reason_code, intent.error_message
    if async_failure:
        decline_code = "async_payment_failed"
        decline_message = "The delayed payment method failed after checkout completed."
    payment_status = info.payment_status
    if attempt.payment_status == "paid" and payment_status != "paid":
        payment_status = "paid"
    previous = Outcome.CANCELED if canceled else attempt.outcome
    has_decline = (intent is not None and intent.declined) or async_failure
    outcome = decide_outcome(status=status, payment_status=payment_status, previous=previous,
                             has_decline=has_decline)
    if outcome is Outcome.OPEN and attempt.outcome is Outcome.DECLINED \
            and info.status == "open":
        outcome = Outcome.DECLINED  # a later read without the intent does not forget it
    return replace(
        attempt, session_id=info.id, url=info.url if status == "open" else None,
        amount_total=info.amount_total if info.amount_total is not None
        else attempt.amount_total, livemode=info.livemode,
        expires_at=_from_unix(info.expires_at) or attempt.expires_at, status=status,
        payment_status=payment_status, outcome=outcome, decline_code=decline_code,
        decline_message=decline_message,
        payment_intent_id=info.payment_intent_id or attempt.payment_intent_id)


def apply_decline(attempt: CheckoutAttempt, intent: PaymentIntentInfo) -> CheckoutAttempt:
    """The attempt after Stripe said its payment failed (the session stays open)."""
    if not intent.declined:
        return attempt
    outcome = Outcome.DECLINED if attempt.outcome in (Outcome.OPEN, Outcome.DECLINED) \
        else attempt.outcome
    return replace(attempt, outcome=outcome, decline_code=intent.reason_code,
                   decline_message=intent.error_message,
                   payment_intent_id=attempt.payment_intent_id or intent.id)


class CheckoutService:
    """Checkout Sessions for testers, their recorded outcomes, and the receiver's callbacks."""

    def __init__(self, db: Database, bus: ChangeBus, listings: ListingService, *,
                 settings: Settings, gateway: CheckoutGateway | None,
                 receiver: CheckoutReceiver | None = None, sync: Any | None = None,
                 opener: Opener | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = db
        self._bus = bus
        self._listings = listings
        self._settings = settings
        self._gateway = gateway
        self._receiver = receiver
        self._sync = sync
        self._opener = opener
        self._clock = clock
        self._inflight: dict[str, asyncio.Future[CheckoutAttempt]] = {}
        self._webhook_endpoint_id: str | None = None
        if receiver is not None:
            receiver.attach(self)

    # ----------------------------------------------------------------- wiring
    @property
    def receiver(self) -> CheckoutReceiver | None:
        return self._receiver

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
        return "sandbox" if self._uses_sandbox else self._gateway.mode

    @property
    def _uses_sandbox(self) -> bool:
        base = self._gateway.api_base if self._gateway is not None else None
        return bool(base) and urlsplit(base).hostname in _LOOPBACK

    @staticmethod
    def test_cards() -> tuple[TestCard, ...]:
        return load_test_cards()

    # ----------------------------------------------------------------- guards
    def _require_gateway(self) -> CheckoutGateway:
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
        parts = urlsplit(url or "")
        if parts.scheme == "https" and parts.hostname == STRIPE_CHECKOUT_HOST \
                and not parts.username and parts.port in (None, 443):
            return
        base = self._gateway.api_base if self._gateway is not None else None
        if self._uses_sandbox and base:
            sandbox = urlsplit(base)
            if (parts.scheme, parts.hostname, parts.port) == (
                    sandbox.scheme, sandbox.hostname, sandbox.port) \
                    and parts.path.startswith("/c/pay/"):
                return
        allowed = f"https://{STRIPE_CHECKOUT_HOST}/…"
        if self._uses_sandbox and base:
            allowed += f" or the offline sandbox's {base}/c/pay/…"
        raise ValidationError.single(
            "url", f"refusing to open {url!r}: only Stripe Checkout pages ({allowed}) are "
                   "opened")

    # ----------------------------------------------------------------- create
    async def create(self, lines: Sequence[LineRequest] | Mapping[int, int], *,
                     tester: str | None = None, expires_in: timedelta = DEFAULT_EXPIRY,
                     attempt_key: str | None = None,
                     initiator: object | None = None) -> CheckoutAttempt:
        """A NEW Checkout Session in payment mode for approved listings with quantities.

        Concurrent identical calls (a double click) share one session. `attempt_key`
        resumes an attempt whose create never got an answer, with the same idempotency key.
        Listings not yet in Stripe are published first through the sync service, or
        refused with a message naming them.
        """
        gateway = self._require_gateway()
        wanted = self._validate_request(lines, expires_in)
        tester = (tester or self._settings.actor).strip() or self._settings.actor
        signature = attempt_key or json.dumps(
            [sorted(wanted.items()), tester, int(expires_in.total_seconds())])
        running = self._inflight.get(signature)
        if running is None:
            running = asyncio.ensure_future(self._create_once(
                gateway, wanted, tester, expires_in, attempt_key, initiator))
            self._inflight[signature] = running
            running.add_done_callback(lambda _: self._inflight.pop(signature, None))
        # shield: a cancelled caller (closed window) must not abandon a half-made attempt
        return await asyncio.shield(running)

    @staticmethod
    def _validate_request(lines: Sequence[LineRequest] | Mapping[int, int],
                          expires_in: timedelta) -> dict[int, int]:
        pairs = list(lines.items()) if isinstance(lines, Mapping) else list(lines)
        problems: list[FieldProblem] = []
        wanted: dict[int, int] = {}
        if not pairs:
            problems.append(FieldProblem("lines", "choose at least one listing"))
        for pair in pairs:
            try:
                listing_id, quantity = pair
            except (TypeError, ValueError):
                problems.append(FieldProblem("lines", f"expected (listing id, quantity), "
                                                      f"got {pair!r}"))
                continue
            if not isinstance(listing_id, int) or isinstance(listing_id, bool) \
                    or listing_id < 1:
                problems.append(FieldProblem("lines", f"{listing_id!r} is not a listing id"))
                continue
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                problems.append(FieldProblem(
                    "quantity", f"listing {listing_id}: quantity must be a whole number of "
                                f"at least 1 (got {quantity!r})"))
                continue
            wanted[listing_id] = wanted.get(listing_id, 0) + quantity
        if len(wanted) > MAX_LINES:
            problems.append(FieldProblem("lines", f"at most {MAX_LINES} listings per session "
                                                  f"(got {len(wanted)})"))
        if not isinstance(expires_in, timedelta) or not MIN_EXPIRY <= expires_in <= MAX_EXPIRY:
            shown = describe_duration(expires_in) if isinstance(expires_in, timedelta) \
                else repr(expires_in)
            problems.append(FieldProblem(
                "expires_in", f"must be between 30 minutes and 24 hours (got {shown})"))
        if problems:
            raise ValidationError(problems)
        return wanted

    async def _create_once(self, gateway: CheckoutGateway, wanted: dict[int, int], tester: str,
                           expires_in: timedelta, attempt_key: str | None,
                           initiator: object | None) -> CheckoutAttempt:
        if attempt_key is not None:
            existing = await self._db.run(functools.partial(self._by_key_in, key=attempt_key))
            if existing is not None and existing.session_id is not None:
                return existing  # this attempt already has its session: never a second one
        listings = await self._sellable(wanted)
        lines = tuple(CheckoutLine(listing_id=listing.id, quantity=wanted[listing.id],
                                   title=listing.title, price_id=listing.stripe_price_id or "",
                                   unit_amount=listing.price_minor, currency=listing.currency)
                      for listing in listings)
        now = self._clock()
        expires_at = now + min(max(expires_in, MIN_EXPIRY + EXPIRY_MARGIN),
                               MAX_EXPIRY - EXPIRY_MARGIN)
        if self._receiver is not None:
            # Before the row exists, so a busy port leaves nothing behind. Even with the
            # website's own pages configured, the receiver takes the webhooks.
            await self.start_receiver()
        key = attempt_key or secrets.token_hex(16)
        attempt = await self._db.run(functools.partial(
            self._insert_in, key=key, lines=lines, tester=tester, now=now,
            expires_at=expires_at), write=True)
        # A resumed attempt re-sends exactly what it sent first (same key, same parameters).
        params = self._session_params(attempt, attempt.lines, attempt.tester,
                                      attempt.expires_at or expires_at)
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
            await self._db.run(functools.partial(self._delete_in, attempt_id=attempt.id),
                               write=True)
            raise self._explain_refusal(refused, attempt.lines) from refused
        except ModeMismatchError:
            await self._db.run(functools.partial(self._delete_in, attempt_id=attempt.id),
                               write=True)
            raise
        # Anything else (offline, outcome unknown) keeps the row as "creating": calling
        # create(attempt_key=...) again resumes it with the same idempotency key.
        created = apply_session(replace(attempt, status="open"), info)
        created = await self._save(created)
        self._publish(created.id, initiator)
        return created

    async def _sellable(self, wanted: dict[int, int]) -> list[Listing]:
        listings: list[Listing] = []
        problems: list[FieldProblem] = []
        for listing_id in wanted:
            try:
                listings.append(await self._listings.get(listing_id))
            except NotFoundError:
                problems.append(FieldProblem("lines", f"listing {listing_id} does not exist"))
        for listing in listings:
            if listing.status is not ListingStatus.APPROVED:
                problems.append(FieldProblem(
                    "lines", f"listing {listing.id} “{listing.title}” is {listing.status}: only "
                             "approved (published) listings can be sold"))
        currencies = {listing.currency for listing in listings}
        if len(currencies) > 1:
            problems.append(FieldProblem(
                "lines", "one session sells in one currency (got "
                         f"{', '.join(sorted(c.upper() for c in currencies))})"))
        if problems:
            raise ValidationError(problems)
        missing = [listing for listing in listings if not self._in_stripe(listing)]
        if missing:
            failures = await self._publish_missing(missing)
            listings = [await self._listings.get(listing.id) for listing in listings]
            still = [listing for listing in listings if not self._in_stripe(listing)]
            if still:
                raise UhadminError("; ".join(
                    f"listing {listing.id} “{listing.title}” could not be published to Stripe"
                    + (f" ({why})" if (why := failures.get(listing.id) or listing.sync_error)
                       else "")
                    for listing in still))
        return listings

    @staticmethod
    def _in_stripe(listing: Listing) -> bool:
        """Sold at the price the database says: pushed, and nothing newer waiting."""
        return bool(listing.stripe_price_id) and listing.sync_state is SyncState.SYNCED

    async def _publish_missing(self, missing: Sequence[Listing]) -> Mapping[int, str]:
        """Run the sync so these listings reach Stripe; returns why any of them failed."""
        names = ", ".join(f"listing {listing.id} “{listing.title}” ({listing.sync_state})"
                          for listing in missing)
        if self._sync is None:
            raise UhadminError(f"not in Stripe yet: {names}. Publish first "
                               "(`uhadmin sync`, or Sync in the app), then try again")
        # The sync drains the whole outbox (the resume point of every push); the listings
        # asked for are in it, so one run publishes them along with anything else queued.
        report = await self._sync.run()
        if getattr(report, "offline", False):
            raise StripeUnavailableError(f"Stripe could not be reached to publish {names}; "
                                         "the change stays queued")
        return dict(getattr(report, "failures", {}) or {})

    def _session_params(self, attempt: CheckoutAttempt, lines: Sequence[CheckoutLine],
                        tester: str, expires_at: datetime) -> dict[str, Any]:
        success_url = self._settings.success_url
        cancel_url = self._settings.cancel_url
        if not (success_url and cancel_url):
            if self._receiver is None or not self._receiver.running:
                raise UhadminError("no success/cancel pages: start the receiver or set "
                                   "UHADMIN_SUCCESS_URL and UHADMIN_CANCEL_URL")
            success_url = success_url or self._receiver.success_url(attempt.id)
            cancel_url = cancel_url or self._receiver.cancel_url(attempt.id)
        listing_ids = ",".join(str(line.listing_id) for line in lines)
        if len(listing_ids) > METADATA_VALUE_LIMIT:
            listing_ids = listing_ids[:METADATA_VALUE_LIMIT].rsplit(",", 1)[0]
        # No payment_method_types: the endive API version removed it (dynamic methods).
        return {
            "mode": "payment",
            "line_items": [{"price": line.price_id, "quantity": line.quantity}
                           for line in lines],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": f"uhadmin-attempt-{attempt.id}",
            "metadata": {"uhadmin_attempt_id": str(attempt.id),
                         "uhadmin_attempt_key": attempt.attempt_key,
                         "tester": tester[:METADATA_VALUE_LIMIT],
                         "listing_ids": listing_ids},
            "expires_at": int(expires_at.timestamp()),
            # So a decline (payment_intent.payment_failed) can be tied to this attempt.
            "payment_intent_data": {"metadata": {
                "uhadmin_attempt_id": str(attempt.id),
                "uhadmin_attempt_key": attempt.attempt_key}},
        }

    @staticmethod
    def _explain_refusal(refused: StripeRefusedError,
                         lines: Sequence[CheckoutLine]) -> StripeRefusedError:
        """Name the listing when Stripe's complaint is about one line item."""
        found = re.match(r"line_items\[(\d+)\]", refused.param or "")
        if not found or int(found.group(1)) >= len(lines):
            return refused
        line = lines[int(found.group(1))]
        return StripeRefusedError(f"listing {line.listing_id} “{line.title}”: {refused}",
                                  code=refused.code, param=refused.param,
                                  http_status=refused.http_status)

    # ----------------------------------------------------------------- open the page
    async def open_in_browser(self, attempt: CheckoutAttempt | int | str) -> str:
        """Open the attempt's Checkout page with the opener; returns the URL opened."""
        self._require_gateway()
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
        return await self._db.run(functools.partial(self._get_in, ref=ref))

    async def list_attempts(self, *, tester: str | None = None,
                            outcome: Outcome | None = None,
                            limit: int = 200) -> list[CheckoutAttempt]:
        """Attempts, newest first (optionally one tester's, or one outcome)."""
        return await self._db.run(functools.partial(
            self._list_in, tester=tester, outcome=outcome, limit=max(1, min(limit, 1000))))

    # ----------------------------------------------------------------- refresh and expire
    async def refresh(self, ref: int | str, *, initiator: object | None = None,
                      ) -> CheckoutAttempt:
        """Ask Stripe (session, then payment intent) and record what it says."""
        gateway = self._require_gateway()
        attempt = await self.get(ref)
        return await self._refresh(gateway, attempt, initiator=initiator)

    async def _refresh(self, gateway: CheckoutGateway, attempt: CheckoutAttempt, *,
                       canceled: bool = False, initiator: object | None = None,
                       ) -> CheckoutAttempt:
        if attempt.session_id is None:
            # The create never got an answer. Past its expiry no session can still be open.
            if attempt.expires_at is not None and attempt.expires_at <= self._clock():
                return await self._store_if_changed(
                    replace(attempt, status="expired", outcome=Outcome.EXPIRED), attempt,
                    initiator)
            return attempt
        with serving("checkout", attempt_id=attempt.id):  # tags its Stripe log entries
            info = await gateway.retrieve_session(attempt.session_id)
            intent = None
            if info.payment_intent_id:
                intent = await gateway.retrieve_payment_intent(info.payment_intent_id)
        updated = apply_session(attempt, info, intent, canceled=canceled)
        return await self._store_if_changed(updated, attempt, initiator)

    async def refresh_open(self, *, tester: str | None = None,
                           initiator: object | None = None) -> list[CheckoutAttempt]:
        """Refresh every attempt that is not finished yet (of `tester`, or everyone's);
        returns them as they stand now."""
        gateway = self._require_gateway()
        pending = await self._db.run(functools.partial(self._unfinished_in, tester=tester))
        return [await self._refresh(gateway, attempt, initiator=initiator)
                for attempt in pending]

    async def expire(self, ref: int | str, *, initiator: object | None = None,
                     ) -> CheckoutAttempt:
        """Expire an open session now (Stripe refuses if it is not open: said clearly)."""
        gateway = self._require_gateway()
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
        return await self._store_if_changed(apply_session(attempt, info), attempt, initiator)

    async def expire_mine(self, *, tester: str | None = None,
                          initiator: object | None = None) -> list[CheckoutAttempt]:
        """Expire every open session of `tester` (default: this user); returns those expired."""
        gateway = self._require_gateway()
        who = tester or self._settings.actor
        mine = await self._db.run(functools.partial(self._open_of_in, tester=who))
        expired: list[CheckoutAttempt] = []
        for attempt in mine:
            try:
                info = await gateway.expire_session(attempt.session_id or "")
            except StripeRefusedError as refused:
                if refused.code != "checkout_session_not_open":
                    raise
                await self._refresh(gateway, attempt, initiator=initiator)  # record why
                continue
            expired.append(await self._store_if_changed(apply_session(attempt, info), attempt,
                                                        initiator))
        return expired

    # ----------------------------------------------------------------- waiting (CLI --wait)
    async def wait_for_outcome(self, ref: int | str) -> CheckoutAttempt:
        """Wait until the attempt is paid, canceled or expired (a decline may be retried,
        so it does not end the wait). Learns from the receiver and webhooks, without
        polling; at the session's expiry it asks Stripe once in case no webhook comes.
        Bound it with `asyncio.timeout(...)` if needed."""
        attempt = await self.get(ref)
        changed = asyncio.Event()

        def on_change(change: Change) -> None:
            if change.kind == "checkout" and (not change.ids or attempt.id in change.ids):
                changed.set()

        unsubscribe = self._bus.subscribe(on_change)
        asked_at_expiry = False
        try:
            while True:
                attempt = await self.get(attempt.id)
                if attempt.outcome.is_final:
                    return attempt
                changed.clear()
                if attempt.expires_at is None or asked_at_expiry:
                    await changed.wait()
                    continue
                until_expiry = (attempt.expires_at - self._clock()).total_seconds()
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel.
                    async with asyncio.timeout(max(0.0, until_expiry) + EXPIRY_GRACE_S):
                        await changed.wait()
                except TimeoutError:
                    asked_at_expiry = True
                    await self.refresh(attempt.id)
        finally:
            unsubscribe()

    # ----------------------------------------------------------------- receiver
    @serves("checkout")  # its webhook-endpoint calls, in the Stripe log
    async def start_receiver(self) -> CheckoutReceiver:
        """Start the success/cancel/webhook receiver; against the sandbox, also register its
        webhook endpoint there so events arrive signed with a known secret."""
        receiver = self._receiver
        if receiver is None:
            raise UhadminError("this app was built without a checkout receiver")
        receiver.start(asyncio.get_running_loop())
        if self._uses_sandbox and self._webhook_endpoint_id is None and self._gateway:
            gateway = self._require_gateway()
            # A sandbox that keeps its data may still hold the endpoint of a run that
            # crashed: deliveries to its dead port would only queue up retries.
            for stale in await gateway.list_webhook_endpoints():
                if stale.description == SANDBOX_ENDPOINT_DESCRIPTION:
                    await gateway.delete_webhook_endpoint(stale.id)
            endpoint = await gateway.create_webhook_endpoint(
                receiver.webhook_url, HANDLED_EVENTS, description=SANDBOX_ENDPOINT_DESCRIPTION)
            self._webhook_endpoint_id = endpoint.id
            receiver.add_webhook_secret(endpoint.secret)
        return receiver

    @serves("checkout")
    async def stop_receiver(self) -> None:
        """Stop the receiver and remove the sandbox webhook endpoint registered for it."""
        endpoint_id, self._webhook_endpoint_id = self._webhook_endpoint_id, None
        if endpoint_id is not None and self._gateway is not None:
            try:
                await self._gateway.delete_webhook_endpoint(endpoint_id)
            except UhadminError as error:
                log.info("could not remove sandbox webhook endpoint: %s", error)
        if self._receiver is not None:
            self._receiver.stop()

    async def record_return(self, kind: str, *, session_id: str | None,
                            attempt_id: int | None) -> ReturnResult:
        """The buyer came back through the success or cancel page (the receiver calls this)."""
        attempt = None
        for ref in (session_id, attempt_id):
            if ref is not None:
                try:
                    attempt = await self.get(ref)
                    break
                except NotFoundError:
                    continue
        if attempt is None:
            return ReturnResult(None, "uhadmin has no attempt for this session")
        problem = ""
        try:
            attempt = await self._refresh(self._require_gateway(), attempt,
                                          canceled=kind == "cancel")
        except UhadminError as error:
            problem = (f"Stripe could not confirm the result just now ({error}); uhadmin "
                       "will record it on the next refresh")
            if kind == "cancel":
                attempt = await self._store_if_changed(
                    replace(attempt, outcome=Outcome.CANCELED)
                    if attempt.outcome is not Outcome.PAID else attempt, attempt, None)
        return ReturnResult(attempt, problem)

    async def record_webhook_event(self, event: Mapping[str, Any]) -> str:
        """Apply one verified webhook event, once: "processed", "duplicate" or "ignored"."""
        event_id = str(event.get("id", ""))
        event_type = str(event.get("type", ""))
        if not event_id:
            return "ignored"
        obj = (event.get("data") or {}).get("object") or {}
        info = intent = None
        if event_type in SESSION_EVENTS and obj.get("object") == "checkout.session":
            info = session_info(obj)
        elif event_type == DECLINE_EVENT and obj.get("object") == "payment_intent":
            intent = obj
        result, before, after = await self._db.run(functools.partial(
            self._apply_event_in, event_id=event_id, event_type=event_type, info=info,
            intent=intent, now=self._clock()), write=True)
        if after is not None and before != after:
            self._publish(after.id, None)
        return result

    # ----------------------------------------------------------------- storage (worker thread)
    def _publish(self, attempt_id: int, initiator: object | None) -> None:
        self._bus.publish(Change(kind="checkout", ids=frozenset({attempt_id}),
                                 initiator=initiator))

    async def _save(self, attempt: CheckoutAttempt) -> CheckoutAttempt:
        return await self._db.run(functools.partial(self._update_in, attempt=attempt,
                                                    now=self._clock()), write=True)

    async def _store_if_changed(self, updated: CheckoutAttempt, before: CheckoutAttempt,
                                initiator: object | None) -> CheckoutAttempt:
        if _attempt_fields(updated) == _attempt_fields(before):
            return before
        saved = await self._save(updated)
        self._publish(saved.id, initiator)
        return saved

    @staticmethod
    def _insert_in(session: Session, *, key: str, lines: Iterable[CheckoutLine], tester: str,
                   now: datetime, expires_at: datetime) -> CheckoutAttempt:
        existing = session.execute(select(CheckoutAttemptRow).where(
            CheckoutAttemptRow.attempt_key == key)).scalar_one_or_none()
        if existing is not None:  # resuming an attempt whose create never answered
            return _attempt_from_row(existing)
        items = [{"listing_id": line.listing_id, "quantity": line.quantity,
                  "title": line.title, "price_id": line.price_id,
                  "unit_amount": line.unit_amount, "currency": line.currency}
                 for line in lines]
        row = CheckoutAttemptRow(
            attempt_key=key, line_items=items, currency=items[0]["currency"],
            amount_total=sum(item["unit_amount"] * item["quantity"] for item in items),
            tester=tester, livemode=False, created_at=now, expires_at=expires_at,
            status="creating", payment_status="unpaid", outcome=str(Outcome.OPEN),
            decline_code="", decline_message="", updated_at=now)
        session.add(row)
        session.flush()
        return _attempt_from_row(row)

    @staticmethod
    def _delete_in(session: Session, *, attempt_id: int) -> None:
        session.execute(delete(CheckoutAttemptRow).where(CheckoutAttemptRow.id == attempt_id))

    @staticmethod
    def _update_in(session: Session, *, attempt: CheckoutAttempt,
                   now: datetime) -> CheckoutAttempt:
        row = session.get(CheckoutAttemptRow, attempt.id)
        if row is None:
            raise NotFoundError(f"checkout attempt {attempt.id} does not exist")
        for name, value in _attempt_fields(attempt).items():
            setattr(row, name, value)
        row.updated_at = now
        session.flush()
        return _attempt_from_row(row)

    @staticmethod
    def _by_key_in(session: Session, *, key: str) -> CheckoutAttempt | None:
        row = session.execute(select(CheckoutAttemptRow).where(
            CheckoutAttemptRow.attempt_key == key)).scalar_one_or_none()
        return None if row is None else _attempt_from_row(row)

    @staticmethod
    def _row_in(session: Session, ref: int | str) -> CheckoutAttemptRow | None:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return session.get(CheckoutAttemptRow, ref)
        return session.execute(select(CheckoutAttemptRow).where(
            CheckoutAttemptRow.session_id == str(ref))).scalar_one_or_none()

    @classmethod
    def _get_in(cls, session: Session, *, ref: int | str) -> CheckoutAttempt:
        row = cls._row_in(session, ref)
        if row is None:
            what = f"attempt {ref}" if isinstance(ref, int) else f"session {ref}"
            raise NotFoundError(f"checkout {what} is not one of this app's attempts")
        return _attempt_from_row(row)

    @staticmethod
    def _list_in(session: Session, *, tester: str | None, outcome: Outcome | None,
                 limit: int) -> list[CheckoutAttempt]:
        query = select(CheckoutAttemptRow)
        if tester is not None:
            query = query.where(CheckoutAttemptRow.tester == tester)
        if outcome is not None:
            query = query.where(CheckoutAttemptRow.outcome == str(outcome))
        query = query.order_by(CheckoutAttemptRow.created_at.desc(),
                               CheckoutAttemptRow.id.desc()).limit(limit)
        return [_attempt_from_row(row) for row in session.execute(query).scalars()]

    @staticmethod
    def _open_of_in(session: Session, *, tester: str) -> list[CheckoutAttempt]:
        rows = session.execute(select(CheckoutAttemptRow).where(
            CheckoutAttemptRow.tester == tester, CheckoutAttemptRow.status == "open",
            CheckoutAttemptRow.session_id.is_not(None)).order_by(CheckoutAttemptRow.id))
        return [_attempt_from_row(row) for row in rows.scalars()]

    @staticmethod
    def _unfinished_in(session: Session, *, tester: str | None) -> list[CheckoutAttempt]:
        query = select(CheckoutAttemptRow).where(CheckoutAttemptRow.outcome.in_(
            [str(Outcome.OPEN), str(Outcome.DECLINED)]))
        if tester is not None:
            query = query.where(CheckoutAttemptRow.tester == tester)
        rows = session.execute(query.order_by(CheckoutAttemptRow.id)).scalars()
        return [_attempt_from_row(row) for row in rows]

    @classmethod
    def _row_for_intent_in(cls, session: Session,
                           intent: Mapping[str, Any]) -> CheckoutAttemptRow | None:
        """Our attempt named in the intent's metadata; the key must match too, because
        attempt numbers repeat across databases sharing one Stripe account."""
        metadata = intent.get("metadata") or {}
        raw_id = str(metadata.get("uhadmin_attempt_id", ""))
        if not raw_id.isdigit():
            return None
        row = session.get(CheckoutAttemptRow, int(raw_id))
        if row is None or row.attempt_key != metadata.get("uhadmin_attempt_key"):
            return None
        return row

    @classmethod
    def _apply_event_in(cls, session: Session, *, event_id: str, event_type: str,
                        info: SessionInfo | None, intent: Mapping[str, Any] | None,
                        now: datetime,
                        ) -> tuple[str, CheckoutAttempt | None, CheckoutAttempt | None]:
        if session.get(WebhookEventRow, event_id) is not None:
            return "duplicate", None, None
        try:
            with session.begin_nested():  # a savepoint: losing the race must not doom the rest
                session.add(WebhookEventRow(event_id=event_id, type=event_type[:100],
                                            received_at=now))
        except IntegrityError:  # the same event delivered twice at once: the other one won
            return "duplicate", None, None
        if info is not None:
            row = cls._row_in(session, info.id)
        elif intent is not None:
            row = cls._row_for_intent_in(session, intent)
        else:
            return "ignored", None, None
        if row is None:
            return "ignored", None, None  # a session of another app on the same account
        before = _attempt_from_row(row)
        if info is not None:
            after = apply_session(before, info,
                                  async_failure=event_type.endswith("async_payment_failed"))
        else:
            after = apply_decline(before, payment_intent_info(intent))
        fields = _attempt_fields(after)
        # An event that says what the row already says (the success page or a refresh got
        # there first) changes nothing: no new updated_at, so no change is broadcast.
        if fields != _attempt_fields(before):
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
            session.flush()
        return "processed", before, _attempt_from_row(row)


__all__ = ["HANDLED_EVENTS", "CheckoutService", "apply_decline", "apply_session",
           "load_test_cards"]

