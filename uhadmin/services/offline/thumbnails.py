"""A bounded cache of listing images for offline review: fetched over http(s), evicted LRU."""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from uhadmin.domain.offline import cached_image_name
from uhadmin.services.offline.replica import Replica
from uhadmin.services.offline.schema import THUMBNAILS

log = logging.getLogger(__name__)

DEFAULT_LIMIT_BYTES = 200 * 1024 * 1024
# One image above this is not kept: a review needs a picture, not a camera original.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT_S = 10.0


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification, built once: each new client loaded the CA bundle."""
    return httpx.create_ssl_context()


def is_fetchable(url: str) -> bool:
    """Only absolute http(s) URLs are fetched (never file:, data: or javascript:)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class ThumbnailCache:
    """Image files in a folder beside the replica, indexed in it, at most `limit_bytes`;
    the least recently used go first when a new one does not fit."""

    def __init__(self, replica: Replica, folder: Path, *,
                 limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self.replica = replica
        self.folder = folder
        self.limit_bytes = limit_bytes
        folder.mkdir(parents=True, exist_ok=True)

    async def path_for(self, url: str) -> Path | None:
        """The cached file of `url` (marked as just used), or None if it is not cached."""
        def touch(session: Session) -> str | None:
            name = session.execute(select(THUMBNAILS.c.file).where(
                THUMBNAILS.c.url == url)).scalar_one_or_none()
            if name is not None:
                session.execute(update(THUMBNAILS).where(THUMBNAILS.c.url == url)
                                .values(used_at=datetime.now(UTC)))
            return name

        name = await self.replica.db.run(touch, write=True)
        path = None if name is None else self.folder / name
        return path if path is not None and path.exists() else None

    async def total_bytes(self) -> int:
        return await self.replica.db.run(lambda session: session.execute(
            select(func.coalesce(func.sum(THUMBNAILS.c.size), 0))).scalar_one())

    async def fetch(self, urls: Iterable[str]) -> int:
        """Fetch the images not cached yet; returns how many were added. A failing image
        is logged and skipped (the next refresh tries it again)."""
        wanted = list(dict.fromkeys(url for url in urls if is_fetchable(url)))
        if not wanted:
            return 0
        cached = set(await self.replica.db.run(lambda session: session.execute(
            select(THUMBNAILS.c.url)).scalars().all()))
        wanted = [url for url in wanted if url not in cached]
        if not wanted:
            return 0  # no client: making one loads the CA bundle, 30 ms on the GUI thread
        added = 0
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False,
                                     verify=_tls_context()) as client:
            for url in wanted:
                try:
                    body = await self._download(client, url)
                except httpx.HTTPError as error:
                    log.info("image not cached (%s): %s", url, error)
                    continue
                if body is not None:
                    await self._store(url, body)
                    added += 1
        return added

    @staticmethod
    async def _download(client: httpx.AsyncClient, url: str) -> bytes | None:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                return None
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_IMAGE_BYTES:
                    return None
                chunks.append(chunk)
            return b"".join(chunks)

    async def _store(self, url: str, body: bytes) -> None:
        name = cached_image_name(url)
        (self.folder / name).write_bytes(body)
        now = datetime.now(UTC)

        def index(session: Session) -> list[str]:
            session.execute(delete(THUMBNAILS).where(THUMBNAILS.c.url == url))
            session.execute(insert(THUMBNAILS).values(url=url, file=name, size=len(body),
                                                      used_at=now))
            total = session.execute(select(func.sum(THUMBNAILS.c.size))).scalar_one()
            evicted: list[str] = []
            for old_url, old_file, size in session.execute(
                    select(THUMBNAILS.c.url, THUMBNAILS.c.file, THUMBNAILS.c.size)
                    .order_by(THUMBNAILS.c.used_at, THUMBNAILS.c.url)):
                if total <= self.limit_bytes:
                    break
                session.execute(delete(THUMBNAILS).where(THUMBNAILS.c.url == old_url))
                total -= size
                evicted.append(old_file)
            return evicted

        for old_file in await self.replica.db.run(index, write=True):
            (self.folder / old_file).unlink(missing_ok=True)
