"""What a Stripe call serves (sync run, listing, checkout attempt, action), set by its caller."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import ParamSpec, TypedDict, TypeVar, Unpack

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class CallPurpose:
    """The reason behind the Stripe requests sent inside a `serving(...)` block."""

    served: str = ""  # "sync" | "checkout" | "reconcile" | "adopt" | "settings" | ...
    sync_run: str | None = None
    listing_id: int | None = None
    listing_revision: int | None = None
    attempt_id: int | None = None
    # When given, the Request-Id of every answered request inside the block is appended
    # (the sync keeps them on its audit rows).
    request_ids: list[str] | None = None


class _PurposeFields(TypedDict, total=False):
    """CallPurpose's fields other than `served`, as keywords of `serving`."""

    sync_run: str | None
    listing_id: int | None
    listing_revision: int | None
    attempt_id: int | None
    request_ids: list[str] | None


_NOTHING = CallPurpose()
_PURPOSE: contextvars.ContextVar[CallPurpose | None] = contextvars.ContextVar(
    "uhadmin_stripe_call_purpose", default=None)


def current_purpose() -> CallPurpose:
    return _PURPOSE.get() or _NOTHING


@contextmanager
def serving(served: str | None = None,
            **fields: Unpack[_PurposeFields]) -> Iterator[CallPurpose]:
    """Tag every Stripe request sent inside the block (tasks started in it included);
    fields not given keep the enclosing block's values."""
    purpose = replace(current_purpose(), **fields)
    if served is not None:
        purpose = replace(purpose, served=served)
    token = _PURPOSE.set(purpose)
    try:
        yield purpose
    finally:
        _PURPOSE.reset(token)


def serves(served: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorates an async method whose Stripe requests all serve `served` ("reconcile")."""

    def decorate(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            with serving(served):
                return await method(*args, **kwargs)

        return wrapper

    return decorate
