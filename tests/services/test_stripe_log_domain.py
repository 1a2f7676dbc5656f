"""Pure rules of the Stripe log: decoding, redaction, summaries, durations, snippets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from uhadmin.domain.stripe_log import (
    REDACTED,
    Retention,
    StripeLogEntry,
    StripeLogFilter,
    decode_params,
    describe_entry,
    dict_of_params,
    parse_since,
    readable_excerpt,
    redact_json,
    summarise_response,
    typed_params,
)
from uhadmin.domain.stripe_snippets import as_curl, as_node, as_python, sdk_call_of, snippet
from uhadmin.errors import ConfigError, ValidationError

CANARY = "sk_test_CANARYdomainXyz123"


def test_params_are_decoded_in_order_with_secrets_redacted() -> None:
    body = (f"name=Lamp&card[number]=4242424242424242&card[cvc]=123&description=key+{CANARY}"
            "&metadata[secret]=mine&price_data[unit_amount]=1500&lookup_key=uh_lk_1"
            "&metadata[note]=whsec_abc123")
    params = decode_params("expand[0]=default_price", body)
    assert params[0] == ("expand[0]", "default_price")
    as_dict = dict(params)
    assert as_dict["card[number]"] == as_dict["card[cvc]"] == REDACTED
    assert as_dict["description"] == f"key {REDACTED}"
    assert as_dict["metadata[secret]"] == "mine"  # the caller's own metadata key
    assert as_dict["metadata[note]"] == REDACTED  # ...but a secret-looking value never stays
    assert as_dict["lookup_key"] == "uh_lk_1" and as_dict["price_data[unit_amount]"] == "1500"
    assert CANARY not in json.dumps(params)


def test_response_summary_keeps_type_id_error_fields_and_a_bounded_redacted_excerpt() -> None:
    product = summarise_response(json.dumps({"id": "prod_1", "object": "product",
                                             "description": "x" * 5000}).encode())
    assert (product["object_type"], product["object_id"]) == ("product", "prod_1")
    assert len(product["response_excerpt"]) == 2000
    endpoint = summarise_response(json.dumps({"id": "we_1", "object": "webhook_endpoint",
                                              "secret": "whsec_topsecret"}))
    assert "whsec_topsecret" not in endpoint["response_excerpt"]
    session = summarise_response(json.dumps({"id": "cs_1", "object": "checkout.session",
                                             "client_secret": "cs_1_secret_abc"}))
    assert "cs_1_secret_abc" not in session["response_excerpt"]
    declined = summarise_response(json.dumps({"error": {
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds."}}))
    assert (declined["error_type"], declined["error_code"], declined["decline_code"]) == (
        "card_error", "card_declined", "insufficient_funds")
    assert summarise_response(b"<html>bad gateway</html>")["response_excerpt"] == \
        "<html>bad gateway</html>"


# Short bodies are kept as they came and redacted in their text (the fast path every
# request takes); what a person then reads must be exactly the redacted parse.
_SECRETS = st.sampled_from(["sk_test_4eC39HqLyjWDarjtT1", "rk_live_Zz9", "whsec_abc123",
                            "pi_3Abc_secret_Xyz9", "4242424242424242", "hunter2"])
_WORDS = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters=" _-.:/"),
                 max_size=20)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _WORDS, _SECRETS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(_WORDS, st.sampled_from([
            "secret", "client_secret", "number", "Password", "metadata", "card[cvc]", "id"])),
            inner, max_size=5)),
    max_leaves=12)


@given(_JSON, st.booleans())
@example({"card[cvc]": "0"}, False)
@example({"Password": "hunter2", "x": [{"client_secret": "pi_1_secret_2"}]}, True)
def test_a_short_body_redacted_as_text_reads_as_the_redacted_parse(value, spaced) -> None:
    body = json.dumps(value, indent=2 if spaced else None, ensure_ascii=False)
    excerpt = summarise_response(body.encode())["response_excerpt"]
    if len(body) <= 2000:  # kept whole: it reads back as the redacted value, indented too
        assert json.loads(excerpt) == redact_json(value)
        assert json.loads(readable_excerpt(excerpt)) == redact_json(value)
    for secret in ("sk_test_4eC39HqLyjWDarjtT1", "rk_live_Zz9", "whsec_abc123",
                   "pi_3Abc_secret_Xyz9"):
        assert secret not in excerpt


@given(_WORDS, _WORDS, st.dictionaries(_WORDS, _JSON, max_size=4), st.booleans(),
       st.booleans())
@example("prod_1", "product", {"error": {"type": "api_error"}}, False, False)
@example("prod\u00e9", "product", {"id": "prod_2"}, False, True)
def test_type_and_id_read_from_an_objects_head_are_those_of_its_parse(
        object_id, object_type, rest, spaced, ascii_only) -> None:
    value = {"id": object_id, "object": object_type, **rest}
    body = json.dumps(value, indent=2 if spaced else None, ensure_ascii=ascii_only)
    summary = summarise_response(body.encode())
    parsed = json.loads(body)
    if isinstance(parsed.get("error"), dict):
        assert summary["object_type"] is None and summary["error_type"] is not None
    else:
        assert summary["object_type"] == (parsed["object"] or None)
        assert summary["object_id"] == (parsed["id"] or None)


@given(st.text(st.sampled_from("ab=&+%2635dDCc\u00e9 ")), st.booleans())
@example("a=%C3&b=%A9", False)
@example("a%3D1=2&b=%26", False)
@example("x%3d1=2&y=3", False)
def test_form_pairs_unquoted_whole_are_the_pairs_unquoted_one_by_one(text, percents) -> None:
    from urllib.parse import parse_qsl

    from uhadmin.domain.stripe_log import _form_pairs

    if percents:  # every escape a byte, some of them separators
        text = text.replace("a", "%C3").replace("b", "%a9").replace("c", "%3D")
    assert _form_pairs(text) == parse_qsl(text, keep_blank_values=True)


def test_every_secret_name_holds_a_part_the_quick_look_searches_for() -> None:
    from uhadmin.domain.stripe_log import _SECRET_NAMES, has_secret_name_part

    assert all(has_secret_name_part(name) for name in _SECRET_NAMES)
    assert not has_secret_name_part("id=uh_1&name=bench listing&metadata[listing_id]=14")


def test_a_stored_excerpt_is_indented_for_reading() -> None:
    stored = summarise_response(b'{"id": "prod_1", "object": "product", "active": true}')
    assert stored["response_excerpt"] == '{"id": "prod_1", "object": "product", "active": true}'
    assert readable_excerpt(stored["response_excerpt"]) == \
        '{\n "id": "prod_1",\n "object": "product",\n "active": true\n}'
    assert readable_excerpt('{"id": "prod_1", "desc') == '{"id": "prod_1", "desc'  # cut off
    assert readable_excerpt("<html>bad gateway</html>") == "<html>bad gateway</html>"


def test_nested_params_and_typed_values() -> None:
    nested = dict_of_params([("line_items[0][price]", "price_1"),
                             ("line_items[0][quantity]", "2"), ("line_items[1][price]", "p2"),
                             ("metadata[id]", "007"), ("expand[]", "a"), ("expand[]", "b"),
                             ("active", "true")])
    assert nested == {"line_items": [{"price": "price_1", "quantity": "2"}, {"price": "p2"}],
                      "metadata": {"id": "007"}, "expand": ["a", "b"], "active": "true"}
    assert typed_params(nested) == {
        "line_items": [{"price": "price_1", "quantity": 2}, {"price": "p2"}],
        "metadata": {"id": "007"}, "expand": ["a", "b"], "active": True}


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)),
    ("1d", timedelta(days=1)), ("1h30m", timedelta(minutes=90)), ("1w", timedelta(days=7))])
def test_since_durations(text: str, expected: timedelta) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "5", "1x", "h2"])
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(ValidationError, match="--since: expected a duration"):
        parse_since(text, field_name="--since")


def test_retention_from_the_environment() -> None:
    assert Retention.from_environ({}) == Retention(days=30, entries=200_000)
    assert Retention.from_environ({"UHADMIN_STRIPE_LOG_DAYS": "7",
                                   "UHADMIN_STRIPE_LOG_MAX_ENTRIES": "5000"}) == \
        Retention(days=7, entries=5000)
    with pytest.raises(ConfigError, match="UHADMIN_STRIPE_LOG_DAYS: expected a whole number"):
        Retention.from_environ({"UHADMIN_STRIPE_LOG_DAYS": "0"})
    with pytest.raises(ValidationError, match="status_class"):
        StripeLogFilter(status_class="6xx")


@pytest.mark.parametrize(("method", "path", "resources", "verb", "object_id"), [
    ("POST", "/v1/products", ("products",), "create", None),
    ("GET", "/v1/products", ("products",), "list", None),
    ("GET", "/v1/products/search", ("products",), "search", None),
    ("GET", "/v1/products/uh_x_1", ("products",), "retrieve", "uh_x_1"),
    ("POST", "/v1/products/uh_x_1", ("products",), "update", "uh_x_1"),
    ("DELETE", "/v1/webhook_endpoints/we_1", ("webhook_endpoints",), "del", "we_1"),
    ("POST", "/v1/checkout/sessions", ("checkout", "sessions"), "create", None),
    ("POST", "/v1/checkout/sessions/cs_1/expire", ("checkout", "sessions"), "expire", "cs_1"),
    ("GET", "/v1/account", ("accounts",), "retrieve_current", None),
])
def test_requests_map_to_sdk_methods(method, path, resources, verb, object_id) -> None:
    call = sdk_call_of(method, path)
    assert (call.resources, call.method, call.object_id, call.raw) == (
        resources, verb, object_id, False)


def test_unknown_shapes_fall_back_to_a_raw_request() -> None:
    assert sdk_call_of("GET", "/v1/checkout/sessions/cs_1/line_items").raw
    assert sdk_call_of("POST", "/v2/core/events").raw
    entry = _entry(method="GET", path="/v1/checkout/sessions/cs_1/line_items",
                   params=(("limit", "5"),), idempotency_key=None)
    assert 'stripe.rawRequest("GET", "/v1/checkout/sessions/cs_1/line_items"' in as_node(entry)
    assert "client.raw_request('get', '/v1/checkout/sessions/cs_1/line_items', limit=5)" in \
        as_python(entry)


def _entry(**changes) -> StripeLogEntry:
    values = dict(id=9, time=datetime(2026, 1, 2, tzinfo=UTC), method="POST",
                  path="/v1/checkout/sessions", api_base="http://127.0.0.1:4242",
                  api_version="2026-10-28.endive", idempotency_key="uh_checkout_1",
                  params=(("mode", "payment"), ("line_items[0][price]", "price_1"),
                          ("line_items[0][quantity]", "1"),
                          ("success_url", "http://127.0.0.1:9/ok?s={CHECKOUT_SESSION_ID}"),
                          ("metadata[listing_id]", "12")),
                  status=200, served="checkout", attempt_id=3)
    values.update(changes)
    return StripeLogEntry(**values)


def test_snippets_name_the_base_version_and_key_variable_never_a_key() -> None:
    entry = _entry()
    curl, node, python = as_curl(entry), as_node(entry), as_python(entry)
    assert "curl http://127.0.0.1:4242/v1/checkout/sessions" in curl
    assert '-u "$STRIPE_SECRET_KEY:"' in curl and "Idempotency-Key: uh_checkout_1" in curl
    assert "--data-urlencode 'success_url=http://127.0.0.1:9/ok?s={CHECKOUT_SESSION_ID}'" in curl
    assert "new Stripe(process.env.STRIPE_SECRET_KEY" in node
    assert '"host": "127.0.0.1"' in node and '"port": 4242' in node
    assert "stripe.checkout.sessions.create(" in node and '"quantity": 1' in node
    assert '"idempotencyKey": "uh_checkout_1"' in node and '"listing_id": "12"' in node
    assert "stripe.StripeClient(os.environ['STRIPE_SECRET_KEY']" in python
    assert "base_addresses={'api': 'http://127.0.0.1:4242'}" in python
    assert "client.v1.checkout.sessions.create(" in python
    assert "stripe_version='2026-10-28.endive'" in python
    compile(python, "snippet.py", "exec")  # valid Python as it stands

    stripe_itself = _entry(api_base="https://api.stripe.com")
    assert "host" not in as_node(stripe_itself) and "base_addresses" not in \
        as_python(stripe_itself)
    assert "curl https://api.stripe.com/v1/checkout/sessions" in as_curl(stripe_itself)


def test_webhook_entries_are_not_snippets_and_unknown_kinds_are_refused() -> None:
    webhook = _entry(kind="webhook", event_type="checkout.session.completed")
    with pytest.raises(ValueError, match="webhook"):
        snippet(webhook, "curl")
    with pytest.raises(ValueError, match="one of curl, node, python"):
        snippet(_entry(), "ruby")
    assert "signature NOT verified" in describe_entry(_entry(
        kind="webhook", signature_verified=False, effect="refused: bad signature"))


@pytest.mark.slow  # a property test: a hundred generated bodies
@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6),
       st.sampled_from(["", "a", "a=", "=b", "&&x=1&", "a=1&a=2"]))
def test_form_bodies_decode_as_parse_qsl_does(pairs, extra) -> None:
    from urllib.parse import parse_qsl, urlencode

    from uhadmin.domain.stripe_log import _form_pairs

    for text in (urlencode(pairs), extra, urlencode(pairs) + "&" + extra):
        assert _form_pairs(text) == parse_qsl(text, keep_blank_values=True)
