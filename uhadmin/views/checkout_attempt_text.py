"""How the checkout lab words one attempt: its amount, listings, outcome, card and decline."""

from __future__ import annotations

from uhadmin.domain import CheckoutAttempt, Outcome
from uhadmin.money import format_money

OUTCOME_COLOURS = {Outcome.PAID: "#2e8b57", Outcome.DECLINED: "#d04545",
                   Outcome.CANCELED: "#c77c02", Outcome.EXPIRED: "#8c8f94"}


def amount_text(attempt: CheckoutAttempt) -> str:
    if attempt.amount_total is None:
        return "—"
    return format_money(attempt.amount_total, attempt.currency)


def listings_text(attempt: CheckoutAttempt) -> str:
    return ", ".join(f"{line.quantity}× {line.title or '#' + str(line.listing_id)}"
                     for line in attempt.lines)


def outcome_text(attempt: CheckoutAttempt) -> str:
    return "creating…" if attempt.status == "creating" else str(attempt.outcome)


def decline_reason(attempt: CheckoutAttempt) -> str:
    if attempt.decline_code and attempt.decline_message:
        return f"{attempt.decline_code}: {attempt.decline_message}"
    return attempt.decline_code or attempt.decline_message


def card_text(attempt: CheckoutAttempt) -> str:
    """"Visa ····4242 · 3-D Secure": the last card tried, as Stripe's charge reports it."""
    if not attempt.card_last4:
        return ""
    text = f"{attempt.card_brand.title()} ····{attempt.card_last4}"
    if attempt.three_d_secure is not None:
        text += " · 3-D Secure" if attempt.three_d_secure else " · no 3-D Secure"
    return text


def attempt_summary(attempt: CheckoutAttempt | None) -> tuple[str, str]:
    """(text, style sheet) of the label under the session: the attempt at a glance."""
    if attempt is None:
        return "Create a session, open it, pay with a test card.", ""
    text = f"{outcome_text(attempt)} · {amount_text(attempt)} · {listings_text(attempt)}"
    if card_text(attempt):
        text += f"\nCard: {card_text(attempt)}"
    if decline_reason(attempt):
        text += f"\nLast decline: {decline_reason(attempt)}"
    colour = OUTCOME_COLOURS.get(attempt.outcome)
    return text, (f"color: {colour}; font-weight: bold;" if colour else "font-weight: bold;")
