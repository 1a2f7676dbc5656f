"""Stand-ins the window talks to while the services start in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from uhadmin.domain.changes import Change
from uhadmin.errors import UhadminError
from uhadmin.views.ports import ChangeSource


class CatalogUnavailableError(UhadminError):
    """The services could not start (database unreachable, bad setting...)."""


class StartingListings:
    """Stands in for the ListingService while the services start in a worker thread.

    Every call waits until they are up, so the window can be built and painted before
    SQLAlchemy, the Stripe SDK and the migrations are even imported; if they fail to start,
    every call raises CatalogUnavailableError, which the views show like any expected error.
    """

    def __init__(self) -> None:
        self._ready: asyncio.Future | None = None
        self.service: Any = None

    def _future(self) -> asyncio.Future:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
        return self._ready

    def attach(self, service: Any) -> None:
        self.service = service
        if not self._future().done():
            self._future().set_result(service)

    def fail(self, error: CatalogUnavailableError) -> None:
        future = self._future()
        if not future.done():
            future.set_exception(error)
            future.exception()  # retrieved here: callers that never came are not a bug

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            service = self.service
            if service is None:
                service = await asyncio.shield(self._future())
            return await getattr(service, name)(*args, **kwargs)

        call.__name__ = name
        return call


class StartingBus:
    """Stands in for the ChangeBus until it exists: subscriptions are kept and moved over."""

    def __init__(self) -> None:
        self._waiting: list[Callable[[Change], None]] = []
        self._unsubscribers: dict[Callable[[Change], None], Callable[[], None]] = {}
        self._bus: ChangeSource | None = None

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        if self._bus is not None:
            return self._bus.subscribe(callback)
        self._waiting.append(callback)

        def unsubscribe() -> None:
            if callback in self._waiting:
                self._waiting.remove(callback)
            real = self._unsubscribers.pop(callback, None)
            if real is not None:
                real()

        return unsubscribe

    def attach(self, bus: ChangeSource) -> None:
        self._bus = bus
        for callback in self._waiting:
            self._unsubscribers[callback] = bus.subscribe(callback)
        self._waiting.clear()


