"""One Stripe rate limit shared by every running sync: heartbeats, and pace = limit / syncs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, func, select

from uhadmin.services.database import Database
from uhadmin.services.listing_writes import upsert_for, utcnow
from uhadmin.services.stripe_gateway.client import LIMIT_SHARE, StripeGateway

log = logging.getLogger(__name__)

# Created by migration 0005; kept out of the shared declarative metadata like CLAIMS.
WORKERS = Table(
    "stripe_sync_workers", MetaData(),
    Column("holder", String(100), primary_key=True),
    Column("seen_at", DateTime(timezone=True)),
)

BEAT_S = 0.5  # how often a running sync says it is alive and re-reads how many there are
GONE_AFTER = timedelta(seconds=3)  # a sync not seen for this long no longer counts


class SharedPace:
    """Paces this process's gateway at ~limit / busy syncs while a run lasts. A sync that
    waits for other admins' work (nothing of its own at Stripe) takes no share."""

    def __init__(self, db: Database, gateway: StripeGateway, limit: float | None) -> None:
        self._db = db
        self._gateway = gateway
        self.limit = limit
        self.running = 1
        self.busy = True

    def set_busy(self, busy: bool) -> None:
        """Whether this run has calls to make; the next beat tells the others."""
        self.busy = busy

    @contextlib.asynccontextmanager
    async def share(self, holder: str) -> AsyncIterator[None]:
        """While inside: heartbeat every BEAT_S and pace at the share. A newcomer waits
        one beat before its first call, so the syncs already running have slowed down."""
        if self.limit is None or self._db.dialect == "sqlite":  # SQLite: one sync at a time
            yield
            return
        self.busy = True
        if await self._beat(holder) > 1:
            await asyncio.sleep(BEAT_S)
        task = asyncio.ensure_future(self._beat_forever(holder))
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.shield(self._db.run(lambda session: session.execute(
                delete(WORKERS).where(WORKERS.c.holder == holder)), write=True))
            self._gateway.set_rate_limit(self.limit)

    async def _beat_forever(self, holder: str) -> None:
        while True:
            await asyncio.sleep(BEAT_S)
            try:
                await self._beat(holder)
            except Exception:  # a missed beat only leaves the pace as it was
                log.exception("sync heartbeat failed")

    async def _beat(self, holder: str) -> int:
        busy = self.busy

        def beat(session) -> int:
            now = utcnow()
            if busy:
                session.execute(upsert_for(self._db.dialect)(WORKERS).values(
                    holder=holder, seen_at=now).on_conflict_do_update(
                    index_elements=[WORKERS.c.holder], set_={"seen_at": now}))
            else:
                session.execute(delete(WORKERS).where(WORKERS.c.holder == holder))
            session.execute(delete(WORKERS).where(WORKERS.c.seen_at < now - GONE_AFTER))
            return session.execute(select(func.count()).select_from(WORKERS)).scalar_one()

        running = max(1, await self._db.run(beat, write=True))
        if running != self.running:
            log.info("%d syncs share %.1f requests/s", running, self.limit)
        self.running = running
        assert self.limit is not None
        # Alone, the configured limit as it is; shared, a little under the even share, so
        # the jitter of several unsynchronised pacers does not add up past the limit.
        share = self.limit if running == 1 else self.limit * LIMIT_SHARE / running
        self._gateway.set_rate_limit(share)
        return running
