"""The Stripe log's own JSON of a request's parameters is exactly what json.dumps writes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uhadmin.services import stripe_log_store as store


@pytest.mark.slow  # a property test: a hundred generated parameter lists
@given(st.lists(st.tuples(st.text(), st.text()), max_size=8))
def test_params_are_stored_as_json_dumps_writes_them(pairs) -> None:
    assert store.params_json(pairs) == json.dumps(pairs)
    assert json.loads(store.params_json(tuple(pairs))) == [list(pair) for pair in pairs]
