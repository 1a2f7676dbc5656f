"""Stripe's test cards: what each number does, Luhn checking, and expiry parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CardOutcome:
    """success, decline (with Stripe's code, decline_code and message) or three_d_secure."""

    kind: str
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


SUCCESS = CardOutcome("success")
THREE_D_SECURE = CardOutcome("three_d_secure")
_DECLINED = "Your card was declined."

TEST_CARDS: dict[str, CardOutcome] = {
    "4242424242424242": SUCCESS,
    "5555555555554444": SUCCESS,
    "4000000000000002": CardOutcome("decline", "card_declined", "generic_decline", _DECLINED),
    "4000000000009995": CardOutcome("decline", "card_declined", "insufficient_funds",
                                    "Your card has insufficient funds."),
    "4000000000009987": CardOutcome("decline", "card_declined", "lost_card", _DECLINED),
    "4000000000009979": CardOutcome("decline", "card_declined", "stolen_card", _DECLINED),
    "4000000000000069": CardOutcome("decline", "expired_card", "expired_card",
                                    "Your card has expired."),
    "4000000000000127": CardOutcome("decline", "incorrect_cvc", "incorrect_cvc",
                                    "Your card's security code is incorrect."),
    "4000000000000119": CardOutcome("decline", "processing_error", "processing_error",
                                    "An error occurred while processing your card. Try again "
                                    "in a little bit."),
    "4000002500003155": THREE_D_SECURE,
    "4000002760003184": THREE_D_SECURE,
}

INCORRECT_NUMBER = CardOutcome("decline", "incorrect_number", None,
                               "Your card number is incorrect.")
# Stripe refuses real card numbers in test mode.
LIVE_CARD_IN_TEST_MODE = CardOutcome(
    "decline", "card_declined", "test_mode_live_card",
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing.")
AUTHENTICATION_FAILED_MESSAGE = ("We are unable to authenticate your payment method. Please "
                                 "choose a different payment method and try again.")


def digits_only(number: str) -> str:
    return re.sub(r"[\s-]", "", number)


def passes_luhn(number: str) -> bool:
    if not number.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def outcome_for(number: str) -> CardOutcome:
    if not passes_luhn(number):
        return INCORRECT_NUMBER
    return TEST_CARDS.get(number, LIVE_CARD_IN_TEST_MODE)


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"


_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*$")


def parse_expiry(text: str) -> tuple[int, int] | None:
    """(month, four-digit year) from `MM / YY`, `MM/YY`, `MMYY` or `MM / YYYY`."""
    compact = text.strip()
    if re.fullmatch(r"\d{4}", compact):
        compact = f"{compact[:2]}/{compact[2:]}"
    found = _EXPIRY.match(compact)
    if not found:
        return None
    month, year = int(found.group(1)), int(found.group(2))
    if year < 100:
        year += 2000
    if not 1 <= month <= 12:
        return None
    return month, year
