"""Stripe's search query language, the subset the project needs, over stored objects.

Supported: `field:'value'` (exact), `field~'value'` (substring, at least 3 characters),
`metadata['key']:'value'`, `created>N` style comparisons, `-` negation, and clauses joined
by all-`AND` or all-`OR` (Stripe refuses a mix of the two in one query).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uhadmin.sandbox.errors import StripeApiError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<neg>-)?
        (?P<field>[a-z_]+(?:\[\s*(?P<q1>['"])(?P<key>[^'"]*)(?P=q1)\s*\])?)
        \s*(?P<op>:|~|>=|<=|>|<)\s*
        (?:(?P<q2>['"])(?P<value>[^'"]*)(?P=q2)|(?P<bare>[^\s'"]+))
      | (?P<joiner>AND|OR)
    )\s*""", re.VERBOSE)


@dataclass(frozen=True)
class Clause:
    negated: bool
    field: str
    metadata_key: str | None
    op: str
    value: str


def _bad_query(message: str) -> StripeApiError:
    return StripeApiError(400, message, param="query", code="parameter_invalid_string",
                          stored=False)


def parse(query: str, fields: set[str]) -> tuple[list[Clause], str]:
    """The clauses and the joiner ('AND' or 'OR') of a search query, or a 400 naming `query`."""
    clauses: list[Clause] = []
    joiners: set[str] = set()
    position = 0
    expect_clause = True
    text = query.strip()
    if not text:
        raise _bad_query("Search query cannot be empty.")
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise _bad_query(f"Invalid query: could not parse `{text[position:]}`.")
        position = match.end()
        if match.group("joiner"):
            if expect_clause:
                raise _bad_query(f"Invalid query: unexpected `{match.group('joiner')}`.")
            joiners.add(match.group("joiner"))
            expect_clause = True
            continue
        if not expect_clause:
            raise _bad_query("Invalid query: clauses must be joined with AND or OR.")
        field = match.group("field").split("[", 1)[0]
        key = match.group("key")
        if field == "metadata" and key is None:
            raise _bad_query("Invalid query: metadata needs a key, as in metadata['key'].")
        if field not in fields:
            raise _bad_query(f"Field `{field}` is an unsupported search field for this "
                             f"resource.")
        value = match.group("value") if match.group("q2") else match.group("bare")
        op = match.group("op")
        if op == "~" and len(value) < 3:
            raise _bad_query("Substring search (~) needs a value of at least 3 characters.")
        clauses.append(Clause(bool(match.group("neg")), field, key, op, value))
        expect_clause = False
    if expect_clause:
        raise _bad_query("Invalid query: it ends with a dangling AND or OR.")
    if len(joiners) > 1:
        raise _bad_query("Invalid query: AND and OR cannot be combined in the same query.")
    return clauses, joiners.pop() if joiners else "AND"


def _field_value(obj: dict[str, Any], clause: Clause) -> Any:
    if clause.field == "metadata":
        return (obj.get("metadata") or {}).get(clause.metadata_key or "")
    return obj.get(clause.field)


def _matches(obj: dict[str, Any], clause: Clause) -> bool:
    actual = _field_value(obj, clause)
    if clause.op in (">", "<", ">=", "<="):
        try:
            left, right = float(actual), float(clause.value)
        except (TypeError, ValueError):
            return False
        result = {">": left > right, "<": left < right, ">=": left >= right,
                  "<=": left <= right}[clause.op]
    elif actual is None:
        result = False
    else:
        shown = str(actual).lower() if isinstance(actual, bool) else str(actual)
        if clause.op == "~":
            result = clause.value.lower() in shown.lower()
        else:
            result = shown.lower() == clause.value.lower() if isinstance(actual, bool) \
                else shown == clause.value
    return result != clause.negated


def matcher(query: str, fields: set[str]) -> Callable[[dict[str, Any]], bool]:
    clauses, joiner = parse(query, fields)
    combine = all if joiner == "AND" else any
    return lambda obj: combine(_matches(obj, clause) for clause in clauses)
