"""The buyer's return through the success or cancel page: check the link, then record it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from uhadmin.domain.checkout import CheckoutAttempt
from uhadmin.domain.checkout_rules import apply_cancel, token_matches
from uhadmin.errors import NotFoundError, UhadminError
from uhadmin.services.checkout.store import AttemptStore


@dataclass(frozen=True)
class ReturnResult:
    """What the app recorded for a buyer who came back through the success or cancel page."""

    attempt: CheckoutAttempt | None
    problem: str = ""  # e.g. "Stripe could not be reached to confirm the payment"
    forbidden: bool = False  # the link's token did not match: nothing was recorded


async def record_return(kind: str, *, session_id: str | None, attempt_id: int | None,
                        token: str | None, get: Callable[[int | str], Awaitable[CheckoutAttempt]],
                        confirm: Callable[[CheckoutAttempt], Awaitable[CheckoutAttempt]],
                        store: AttemptStore) -> ReturnResult:
    """Record a return of `kind` ("success" or "cancel") after `confirm` asks Stripe.

    Nothing is recorded, or shown, unless the link's token is the attempt's own.
    """
    attempt = None
    for ref in (attempt_id, session_id):
        if ref is not None:
            try:
                attempt = await get(ref)
                break
            except NotFoundError:
                continue
    if attempt is None:
        return ReturnResult(None, "uhadmin has no attempt for this session")
    if not token_matches(attempt, token) or (
            session_id is not None and attempt.session_id not in (None, session_id)):
        return ReturnResult(None, "this link is not valid for that checkout attempt",
                            forbidden=True)
    problem = ""
    try:
        attempt = await confirm(attempt)
    except UhadminError as error:
        problem = (f"Stripe could not confirm the result just now ({error}); uhadmin "
                   "will record it on the next refresh")
        if kind == "cancel":
            attempt = await store.transition(attempt.id, apply_cancel, source="cancel page")
    return ReturnResult(attempt, problem)
