"""The Stripe log's JSON of a request's parameters is exactly json.dumps of the decoded pairs."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from uhadmin.domain.stripe_log import REDACTED, decode_params
from uhadmin.domain.stripe_log_text import params_json, params_json_of
from uhadmin.services.stripe_log_store import sqlite_time_text


@pytest.mark.slow  # a property test: a hundred generated parameter lists
@given(st.lists(st.tuples(st.text(), st.text()), max_size=8))
def test_params_are_stored_as_json_dumps_writes_them(pairs) -> None:
    assert params_json(pairs) == json.dumps(pairs)
    assert json.loads(params_json(tuple(pairs))) == [list(pair) for pair in pairs]


_NAMES = st.one_of(st.text(max_size=6), st.sampled_from([
    "card[number]", "card[CVC]", "metadata[number]", "client_secret", "name", "a[b][exp_year]"]))
_VALUES = st.one_of(st.text(max_size=8), st.sampled_from([
    "sk_test_4eC39HqLyjWDarjtT1", "whsec_abc", "pi_1_secret_2", "a=b", "x&y", "é+%", ""]))


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=6),
       st.sampled_from(["", "expand[0]=default_price", "a", "a=1&&b=2", "=", "&x=1&"]),
       st.sampled_from(["", "&&", "a=b=c", "%C3%A9=%e9", "k=v+w"]), st.booleans())
@example([("name", "Lamp")], "", "", False)
@example([("description", "Used, good")], "expand[0]=x", "", True)
def test_the_quick_params_json_is_the_decoded_pairs_json(pairs, query, extra, as_bytes) -> None:
    body = urlencode(pairs) + extra
    expected = params_json(decode_params(query, body))
    assert params_json_of(query, body.encode() if as_bytes else body) == expected
    assert json.loads(expected) == [list(pair) for pair in decode_params(query, body)]


def test_a_sync_request_takes_the_quick_path_and_a_card_does_not(monkeypatch) -> None:
    from uhadmin.domain import stripe_log_text

    looked_at: list[str] = []

    def pair_by_pair(query: str, body: str) -> tuple[tuple[str, str], ...]:
        looked_at.append(body)
        return decode_params(query, body)

    monkeypatch.setattr(stripe_log_text, "decode_params", pair_by_pair)
    body = ("id=uh_1&name=Bench+listing+13&metadata[listing_id]=14&default_price_data"
            "[currency]=usd&description=Used%2C+good+condition")
    assert json.loads(params_json_of("", body))[-1] == ["description", "Used, good condition"]
    assert looked_at == []
    card = json.loads(params_json_of("", "card[number]=4242424242424242&card[cvc]=123"))
    assert card == [["card[number]", REDACTED], ["card[cvc]", REDACTED]]
    assert len(looked_at) == 1


@settings(deadline=None)  # the first example loads the time zone database
@given(st.datetimes(timezones=st.one_of(st.none(), st.timezones())))
def test_the_sqlite_time_text_is_sqlalchemys(value) -> None:
    dialect = sqlite.dialect()
    sqlalchemys = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert sqlite_time_text(value) == sqlalchemys(value)
