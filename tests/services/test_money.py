"""Money parsing, Stripe amount limits and display, including property tests."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from uhadmin.errors import ValidationError
from uhadmin.money import (
    MAXIMUM_AMOUNT_MINOR,
    STRIPE_CURRENCIES,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
    check_amount,
    decimal_places,
    format_money,
    format_plain,
    minimum_charge,
    minor_to_decimal,
    parse_money,
)


def rule_of(text: str, currency: str = "usd", field: str = "price") -> str:
    with pytest.raises(ValidationError) as caught:
        parse_money(text, currency, field=field)
    (problem,) = caught.value.problems
    assert problem.field == field
    return problem.rule


# --- currency rules ---------------------------------------------------------------------------

def test_decimal_places_follow_stripe_lists() -> None:
    assert len(ZERO_DECIMAL_CURRENCIES) == 16
    assert THREE_DECIMAL_CURRENCIES == {"bhd", "jod", "kwd", "omr", "tnd"}
    assert decimal_places("usd") == 2
    assert decimal_places("eur") == 2
    assert all(decimal_places(code) == 0 for code in ZERO_DECIMAL_CURRENCIES)
    assert all(decimal_places(code) == 3 for code in THREE_DECIMAL_CURRENCIES)
    assert decimal_places("USD") == 2  # codes are case-insensitive here


def test_every_special_currency_is_one_stripe_accepts() -> None:
    assert ZERO_DECIMAL_CURRENCIES <= STRIPE_CURRENCIES
    assert THREE_DECIMAL_CURRENCIES <= STRIPE_CURRENCIES
    assert all(len(code) == 3 and code.isascii() and code.islower() for code in STRIPE_CURRENCIES)


def test_unknown_currency_is_a_currency_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        decimal_places("xyz")
    assert str(caught.value).startswith("currency: 'xyz' is not a currency Stripe accepts")
    with pytest.raises(ValidationError, match="^currency:"):
        parse_money("12", "dollars")


# --- parse_money: what it accepts --------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12", "usd", 1200),
        ("12.5", "usd", 1250),
        ("12.50", "usd", 1250),
        (" 12.50 ", "usd", 1250),
        ("\t12.50\n", "usd", 1250),
        ("$12.50", "usd", 1250),
        ("$ 12.50", "usd", 1250),
        ("USD 12.50", "usd", 1250),
        ("0.50", "usd", 50),
        ("007.50", "usd", 750),
        ("999999.99", "usd", MAXIMUM_AMOUNT_MINOR),
        ("0.30", "gbp", 30),
        ("€0.50", "eur", 50),
        ("CA$0.50", "cad", 50),
        ("CAD 0.50", "cad", 50),
        ("500", "jpy", 500),
        ("¥500", "jpy", 500),
        ("50", "jpy", 50),
        ("1.010", "bhd", 1010),
        ("1.01", "bhd", 1010),
        ("2", "kwd", 2000),
        ("0.29", "php", 29),  # no documented minimum: anything above zero
    ],
)
def test_parse_accepts(text: str, currency: str, minor: int) -> None:
    assert parse_money(text, currency) == minor


def test_float_trap_029_is_exact() -> None:
    # int(float("0.29") * 100) == 28: the bug Decimal parsing exists to avoid.
    assert int(float("0.29") * 100) == 28
    assert parse_money("0.29", "php") == 29
    assert parse_money("10.29", "usd") == 1029
    assert parse_money("1.15", "usd") == 115  # float gives 114.99999999999999
    assert all(parse_money(f"{whole}.29", "usd") == whole * 100 + 29 for whole in range(1, 200))


# --- parse_money: what it rejects, and the rule it names --------------------------------------

def test_rejects_extra_precision_instead_of_rounding() -> None:
    assert rule_of("12.555") == "at most 2 decimal places for USD"
    assert rule_of("12.500") == "at most 2 decimal places for USD"
    assert rule_of("500.5", "jpy") == "no decimal places for JPY (whole units only)"
    assert rule_of("1.0101", "bhd") == "at most 3 decimal places for BHD"


def test_rejects_negative_nan_infinity_and_exponents() -> None:
    assert rule_of("-12.50") == "must not be negative"
    assert rule_of("$-12.50") == "must not be negative"
    assert rule_of("\u22125") == "must not be negative"  # the Unicode minus sign
    assert rule_of("+5") == "write the amount without a sign"
    for text in ("NaN", "nan", "sNaN", "Infinity", "inf", "-Infinity"):
        rule = rule_of(text)
        assert rule in {"must be a number (NaN and Infinity are not amounts)",
                        "must not be negative"}
    for text in ("1e3", "1E3", "1.5e2", "2e-2", "1e+3"):
        assert rule_of(text) == "no exponent notation (write 1000, not 1e3)"


def test_rejects_grouping_characters() -> None:
    grouping = ("no grouping or decimal-comma characters (, _ ' or spaces): "
                "write 1234.50 with '.' as the decimal point")
    for text in ("1,000", "1,000.00", "12,50", "1_000", "1'000", "1 000", "1\u00a0000",
                 "1\u202f000"):
        assert rule_of(text) == grouping, text


def test_rejects_non_ascii_digits() -> None:
    assert rule_of("１２.５０") == "digits must be ASCII 0-9 (found '１', fullwidth digit one)"
    assert "ASCII 0-9" in rule_of("١٢")  # Arabic-Indic
    assert "ASCII 0-9" in rule_of("12.5\u0665")
    assert "ASCII 0-9" in rule_of("1²")


def test_rejects_empty_garbage_and_other_symbols() -> None:
    assert rule_of("") == "required"
    assert rule_of("   ") == "required"
    assert rule_of("$") == "not an amount: write it like 12.50"
    assert rule_of("twelve") == "not an amount: write it like 12.50"
    assert rule_of("12.") == "not an amount: write it like 12.50"
    assert rule_of(".5") == "not an amount: write it like 12.50"
    assert rule_of("1.2.3") == "not an amount: write it like 12.50"
    assert rule_of("€12") == "found the symbol '€', but the currency is USD"
    assert rule_of("12$") == "found the symbol '$', but the currency is USD"
    assert rule_of("EUR 12", "usd") == "not an amount: write it like 12.50"
    assert rule_of("12 USD") == "not an amount: write it like 12.50"


def test_rejects_amounts_outside_stripe_limits() -> None:
    assert rule_of("0.49") == "at least $0.50 (Stripe's minimum charge for USD)"
    assert rule_of("0") == "at least $0.50 (Stripe's minimum charge for USD)"
    assert rule_of("0.29", "gbp") == "at least £0.30 (Stripe's minimum charge for GBP)"
    assert rule_of("49", "jpy") == "at least ¥50 (Stripe's minimum charge for JPY)"
    assert rule_of("0.00", "php") == "at least ₱0.01 (more than zero)"
    maximum = "at most $999,999.99 (Stripe's maximum: 8 digits in minor units)"
    assert rule_of("1000000") == maximum
    assert rule_of("1000000.00") == maximum
    assert rule_of("9" * 5000) == maximum  # longer than int() accepts from a string
    assert parse_money("99999999", "jpy") == 99_999_999
    assert "Stripe's maximum" in rule_of("100000000", "jpy")


def test_three_decimal_currency_needs_last_digit_zero() -> None:
    assert rule_of("1.005", "bhd") == (
        "the last of the 3 decimals must be 0 for BHD (Stripe charges it in steps of 0.010)")
    assert rule_of("0.001", "kwd").startswith("at least KWD0.010")


def test_field_name_is_carried() -> None:
    assert rule_of("abc", "usd", field="unit price") == "not an amount: write it like 12.50"
    with pytest.raises(ValidationError, match="^unit price: at most 2 decimal places for USD$"):
        parse_money("1.234", "usd", field="unit price")


def test_non_text_input_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="price: must be text like 12.50"):
        parse_money(12.5, "usd")  # type: ignore[arg-type]


# --- check_amount ----------------------------------------------------------------------------

def test_check_amount() -> None:
    check_amount(50, "usd")
    check_amount(MAXIMUM_AMOUNT_MINOR, "usd")
    check_amount(1010, "bhd")
    with pytest.raises(ValidationError, match="^cost: at least"):
        check_amount(49, "usd", field="cost")
    with pytest.raises(ValidationError, match="must not be negative"):
        check_amount(-1, "usd")
    with pytest.raises(ValidationError, match="whole number of minor units"):
        check_amount(12.5, "usd")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="whole number of minor units"):
        check_amount(True, "usd")
    with pytest.raises(ValidationError, match="8 digits"):
        check_amount(MAXIMUM_AMOUNT_MINOR + 1, "usd")
    with pytest.raises(ValidationError, match="must be 0 for OMR"):
        check_amount(1001, "omr")
    with pytest.raises(ValidationError, match="^currency:"):
        check_amount(100, "zzz")


def test_minimum_charge_table() -> None:
    assert minimum_charge("usd") == 50
    assert minimum_charge("eur") == 50
    assert minimum_charge("gbp") == 30
    assert minimum_charge("jpy") == 50
    assert minimum_charge("bhd") == 10
    assert minimum_charge("php") == 1


# --- conversion and display --------------------------------------------------------------------

def test_minor_to_decimal_is_exact() -> None:
    assert minor_to_decimal(1250, "usd") == Decimal("12.50")
    assert str(minor_to_decimal(1250, "usd")) == "12.50"
    assert minor_to_decimal(500, "jpy") == Decimal(500)
    assert str(minor_to_decimal(1010, "bhd")) == "1.010"
    # Beyond Decimal's 28-digit context, where arithmetic would round.
    assert minor_to_decimal(10**30 + 1, "usd") == Decimal("10000000000000000000000000000.01")


def test_format_plain() -> None:
    assert format_plain(1250, "usd") == "12.50"
    assert format_plain(5, "usd") == "0.05"
    assert format_plain(0, "usd") == "0.00"
    assert format_plain(500, "jpy") == "500"
    assert format_plain(1010, "bhd") == "1.010"
    assert format_plain(MAXIMUM_AMOUNT_MINOR, "usd") == "999999.99"


def test_format_money_with_babel() -> None:
    assert format_money(1250, "usd") == "$12.50"
    assert format_money(500, "jpy") == "¥500"
    assert format_money(123456789 // 10, "usd") == "$123,456.78"
    assert format_money(1250, "eur", "de_DE") == "12,50\u00a0€"
    assert format_money(500, "jpy", "ja_JP") == "￥500"
    assert format_money(1010, "bhd").endswith("1.010")
    assert format_money(1250, "usd", "not a locale") == "$12.50"  # falls back to en_US


def test_format_money_still_shows_a_row_with_a_currency_stripe_does_not_know() -> None:
    # The website may write any text into listings.currency; tables must still paint it.
    assert format_money(1250, "u5d") == "1250 (minor units, unknown currency 'u5d')"


# --- properties --------------------------------------------------------------------------------

currencies = st.sampled_from(sorted(STRIPE_CURRENCIES))


@st.composite
def valid_amounts(draw: st.DrawFn) -> tuple[int, str]:
    currency = draw(currencies)
    minor = draw(st.integers(minimum_charge(currency), MAXIMUM_AMOUNT_MINOR))
    if currency in THREE_DECIMAL_CURRENCIES:
        minor -= minor % 10
    return minor, currency


@given(valid_amounts())
@example((29, "php"))
@example((1029, "usd"))
@example((MAXIMUM_AMOUNT_MINOR, "usd"))
def test_round_trip_format_plain_then_parse(amount: tuple[int, str]) -> None:
    minor, currency = amount
    assert parse_money(format_plain(minor, currency), currency) == minor


@given(valid_amounts())
def test_round_trip_through_decimal(amount: tuple[int, str]) -> None:
    minor, currency = amount
    assert minor_to_decimal(minor, currency).scaleb(decimal_places(currency)) == minor


@given(st.text(), currencies)
@example("0.29", "usd")
@example("1e3", "usd")
@example("NaN", "usd")
@example("9" * 5000, "usd")
@example("１２", "usd")
@example("-0", "usd")
@pytest.mark.slow
def test_parse_is_total_over_arbitrary_text(text: str, currency: str) -> None:
    """Whatever is typed, the result is minor units Stripe accepts or a ValidationError."""
    try:
        minor = parse_money(text, currency)
    except ValidationError as error:
        assert [problem.field for problem in error.problems] == ["price"]
        # "; " separates problems in a joined message, so no single rule may contain it.
        assert "; " not in error.problems[0].rule
        return
    check_amount(minor, currency)
    # Accepted text is the plain amount, give or take spaces, a symbol and trailing zeros.
    assert Decimal(format_plain(minor, currency)) == minor_to_decimal(minor, currency)


@given(st.from_regex(r"[0-9]{1,8}(\.[0-9]{1,4})?", fullmatch=True), currencies)
@pytest.mark.slow
def test_numeric_text_is_parsed_exactly_or_refused(text: str, currency: str) -> None:
    places = decimal_places(currency)
    try:
        minor = parse_money(text, currency)
    except ValidationError as error:
        fraction = text.partition(".")[2]
        exact = Decimal(text).scaleb(places)
        assert (len(fraction) > places or exact < minimum_charge(currency)
                or exact > MAXIMUM_AMOUNT_MINOR
                or (currency in THREE_DECIMAL_CURRENCIES and exact % 10)), error
        return
    assert Decimal(minor) == Decimal(text).scaleb(places)
