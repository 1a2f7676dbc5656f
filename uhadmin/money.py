"""Money rules: parse text into Stripe minor units with Decimal, check Stripe's limits, format."""

from __future__ import annotations

import copy
import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import Any

from uhadmin.errors import ValidationError

# babel is imported where text is formatted or parsed: `--json` output never needs it.

# Stripe's zero-decimal currencies (STRIPE_FACTS.md): amounts are whole units, 500 JPY is 500.
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
# Three-decimal currencies: Stripe only charges them in multiples of 10 minor units.
THREE_DECIMAL_CURRENCIES = frozenset("bhd jod kwd omr tnd".split())

# Currencies Stripe accepts for card payments (stripe.com/docs/currencies, "presentment
# currencies"). Anything else would only fail later, at Stripe, after the listing is saved.
STRIPE_CURRENCIES = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
    bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp
    gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw
    kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad
    ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek
    sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst
    xaf xcd xof xpf yer zar zmw
    """.split()
)

# Stripe's documented minimum charge per currency, in minor units (stripe.com/docs/currencies
# "Minimum and maximum charge amounts"). Currencies missing here have no fixed documented
# minimum: Stripe converts to the account's settlement currency and wants USD 0.50 worth,
# which needs an exchange rate we do not have offline, so we only insist on more than zero.
MINIMUM_CHARGE_MINOR: dict[str, int] = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}

# Stripe's unit_amount holds at most 8 digits (USD 999,999.99).
MAXIMUM_AMOUNT_MINOR = 99_999_999
_MAX_INTEGER_DIGITS = 8

_NUMBER = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")
# Characters people use to group thousands (or as a decimal comma); none is accepted, because
# "1,234" means 1234 in en_US and 1.234 in de_DE and we refuse to guess.
_GROUPING = frozenset(",_' \u00a0\u202f\u2009\u2019")


def _code(currency: str) -> str:
    """The lower-case code, or a ValidationError on `currency` if Stripe does not know it."""
    if not isinstance(currency, str) or currency.strip().lower() not in STRIPE_CURRENCIES:
        raise ValidationError.single(
            "currency", f"{currency!r} is not a currency Stripe accepts (use a code like usd)"
        )
    return currency.strip().lower()


def is_known_currency(currency: str) -> bool:
    """True for a lower-case three-letter code Stripe accepts (exactly as stored)."""
    return isinstance(currency, str) and currency in STRIPE_CURRENCIES


def decimal_places(currency: str) -> int:
    """How many decimals Stripe's minor unit has: 0 (zero-decimal), 3 (BHD JOD...), else 2."""
    code = _code(currency)
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def minor_to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units as an exact Decimal in major units: (1250, "usd") -> Decimal("12.50")."""
    # The constructor is exact, unlike arithmetic, which rounds to the context precision.
    return Decimal(f"{int(minor)}e-{decimal_places(currency)}")


def format_plain(minor: int, currency: str) -> str:
    """What an edit field shows: "12.50", "500"; parse_money reads it back unchanged."""
    return format(minor_to_decimal(minor, currency), "f")


@lru_cache(maxsize=64)
def _currency_pattern(locale: str, places: int) -> Any:
    from babel import Locale

    pattern = copy.copy(Locale.parse(locale).currency_formats["standard"])
    # Stripe's decimals, not ISO's or the locale's: the same listing must read the same
    # in every locale, and Stripe is what charges it.
    pattern.frac_prec = (places, places)
    return pattern


def format_money(minor: int, currency: str, locale: str = "en_US") -> str:
    """Display text with babel: (1250, "usd") -> "$12.50", (500, "jpy") -> "¥500".

    Never raises for a currency Stripe does not know (a row the website wrote badly):
    tables must still paint it, so it shows the raw minor units and the code as stored.
    """
    from babel import UnknownLocaleError

    if not is_known_currency(str(currency).strip().lower()):
        return f"{minor} (minor units, unknown currency {currency!r})"
    code = _code(currency)
    places = decimal_places(code)
    try:
        pattern = _currency_pattern(locale, places)
    except (UnknownLocaleError, ValueError):
        pattern = _currency_pattern("en_US", places)
        locale = "en_US"
    return pattern.apply(
        minor_to_decimal(minor, code), locale, currency=code.upper(), currency_digits=False
    )


def minimum_charge(currency: str) -> int:
    """Stripe's smallest chargeable amount in minor units (1 where no fixed minimum is documented;
    10 for three-decimal currencies, whose last digit must be 0)."""
    code = _code(currency)
    if code in MINIMUM_CHARGE_MINOR:
        return MINIMUM_CHARGE_MINOR[code]
    return 10 if code in THREE_DECIMAL_CURRENCIES else 1


def check_amount(minor: int, currency: str, *, field: str = "price") -> None:
    """Raise ValidationError unless Stripe would accept `minor` as a unit_amount in `currency`."""
    code = _code(currency)
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise ValidationError.single(field, "must be a whole number of minor units")
    if minor < 0:
        raise ValidationError.single(field, "must not be negative")
    minimum = minimum_charge(code)
    if minor < minimum:
        if code in MINIMUM_CHARGE_MINOR:
            rule = (f"at least {format_money(minimum, code)} "
                    f"(Stripe's minimum charge for {code.upper()})")
        else:
            rule = f"at least {format_money(minimum, code)} (more than zero)"
        raise ValidationError.single(field, rule)
    if minor > MAXIMUM_AMOUNT_MINOR:
        raise ValidationError.single(
            field,
            f"at most {format_money(MAXIMUM_AMOUNT_MINOR, code)} "
            "(Stripe's maximum: 8 digits in minor units)",
        )
    if code in THREE_DECIMAL_CURRENCIES and minor % 10:
        raise ValidationError.single(
            field,
            f"the last of the 3 decimals must be 0 for {code.upper()} "
            "(Stripe charges it in steps of 0.010)",
        )


def _strip_symbol(text: str, code: str) -> str:
    """Drop one leading "$" (the en_US symbol of THIS currency) or "USD"; others stay and fail."""
    from babel.numbers import get_currency_symbol

    # Longest first, so "CA$12" loses "CA$" rather than failing on a left-over "$".
    prefixes = sorted({get_currency_symbol(code.upper(), "en_US"), code.upper()}, key=len,
                      reverse=True)
    for prefix in prefixes:
        if text.startswith(prefix):
            return text[len(prefix):].lstrip(" ")
    return text


def _shape_problem(text: str, code: str) -> str:
    """Which rule `text`, not a plain decimal like 12.50, breaks (the most specific one)."""
    for char in text:
        if char.isdigit() and not ("0" <= char <= "9"):
            name = unicodedata.name(char, "non-ASCII digit").lower()
            return f"digits must be ASCII 0-9 (found {char!r}, {name})"
    if text.startswith("-") or text.startswith("\u2212"):
        return "must not be negative"
    if text.startswith("+"):
        return "write the amount without a sign"
    lowered = text.lower()
    if lowered in {"nan", "snan", "inf", "infinity"}:
        return "must be a number (NaN and Infinity are not amounts)"
    symbols = [char for char in text if unicodedata.category(char) == "Sc"]
    if symbols:
        return f"found the symbol {symbols[0]!r}, but the currency is {code.upper()}"
    if re.fullmatch(r"[0-9.]+e[+-]?[0-9]+", lowered):
        return "no exponent notation (write 1000, not 1e3)"
    if any(char in _GROUPING for char in text) and all(
            char in _GROUPING or char == "." or "0" <= char <= "9" for char in text):
        return ("no grouping or decimal-comma characters (, _ ' or spaces): "
                "write 1234.50 with '.' as the decimal point")
    return "not an amount: write it like 12.50"


def parse_money(text: str, currency: str, *, field: str = "price") -> int:
    """Parse what a person typed into Stripe minor units, exactly or not at all.

    Accepts "12", "12.5", "12.50", " 12.50 " and an optional leading symbol or code of THIS
    currency ("$12.50", "USD 12.50"). Rejects, never rounds: more decimals than Stripe's minor
    unit, negatives, NaN/Infinity, exponents, grouping characters (, _ ' spaces), non-ASCII
    digits, empty text, and amounts outside Stripe's minimum and maximum.
    """
    code = _code(currency)
    if not isinstance(text, str):
        raise ValidationError.single(field, "must be text like 12.50")
    cleaned = text.strip()
    if not cleaned:
        raise ValidationError.single(field, "required")
    cleaned = _strip_symbol(cleaned, code)
    match = _NUMBER.fullmatch(cleaned)
    if match is None:
        raise ValidationError.single(field, _shape_problem(cleaned, code))
    whole, fraction = match["whole"], match["fraction"] or ""
    places = decimal_places(code)
    if len(fraction) > places:
        rule = (f"no decimal places for {code.upper()} (whole units only)" if places == 0
                else f"at most {places} decimal places for {code.upper()}")
        raise ValidationError.single(field, rule)
    if len(whole.lstrip("0")) > _MAX_INTEGER_DIGITS:
        # Checked on the digit count first: a 5,000-digit string is too big for int().
        check_amount(MAXIMUM_AMOUNT_MINOR + 1, code, field=field)
    # Exact: at most 8 + 3 digits, far inside Decimal's 28-digit context.
    result = int(Decimal(f"{whole}.{fraction or '0'}").scaleb(places))
    check_amount(result, code, field=field)
    return result

