"""What an INSERT, UPDATE or DELETE run through a Session wrote: its row count, its new id."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import CursorResult, Result


def _cursor(result: Result[Any]) -> CursorResult[Any]:
    # Session.execute is typed as returning a plain Result; for DML it is a CursorResult,
    # which carries rowcount and inserted_primary_key.
    if not isinstance(result, CursorResult):
        raise TypeError(f"expected the result of an INSERT, UPDATE or DELETE, got {result!r}")
    return result


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched."""
    return _cursor(result).rowcount


def inserted_id(result: Result[Any]) -> int:
    """The primary key of the one row a single-row INSERT wrote."""
    key = _cursor(result).inserted_primary_key
    if key is None:
        raise TypeError("the INSERT reported no primary key (an executemany INSERT has none)")
    return int(key[0])
