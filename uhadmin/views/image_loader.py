"""Loads pictures for the views without blocking: Qt's network, a disk and a memory cache."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QStandardPaths, QUrl, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtNetwork import (
    QNetworkAccessManager,
    QNetworkDiskCache,
    QNetworkReply,
    QNetworkRequest,
)

from uhadmin.domain.offline import cached_image_name


class ImageLoader(QObject):
    """Fetches images without blocking: Qt's network stack, a disk cache, a memory cache.

    `loaded(url, pixmap)` or `failed(url, reason)` fires once per request; a URL already in
    memory answers at once. Only the latest request's answer matters to the pane.
    """

    loaded = Signal(str, QPixmap)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None, *, memory_items: int = 64) -> None:
        super().__init__(parent)
        self._network = QNetworkAccessManager(self)
        cache_dir = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.CacheLocation)
        if cache_dir:
            disk = QNetworkDiskCache(self)
            disk.setCacheDirectory(cache_dir + "/images")
            disk.setMaximumCacheSize(50 * 1024 * 1024)
            self._network.setCache(disk)
        self._network.setTransferTimeout(10_000)
        self._memory: OrderedDict[str, QPixmap] = OrderedDict()
        self._memory_items = memory_items
        self._in_flight: dict[str, QNetworkReply] = {}
        # Set by the offline wiring: images cached for offline review, used when the
        # network cannot fetch one.
        self.offline_folder: Path | None = None

    def request(self, url: str) -> None:
        cached = self._memory.get(url)
        if cached is not None:
            self._memory.move_to_end(url)
            self.loaded.emit(url, cached)
            return
        if url in self._in_flight:
            return
        qurl = QUrl(url)
        if not qurl.isValid() or qurl.scheme() not in ("http", "https", "file", "data"):
            self.failed.emit(url, "not an image address")
            return
        request = QNetworkRequest(qurl)
        request.setAttribute(QNetworkRequest.Attribute.CacheLoadControlAttribute,
                             QNetworkRequest.CacheLoadControl.PreferCache)
        reply = self._network.get(request)
        self._in_flight[url] = reply
        reply.finished.connect(lambda: self._finished(url, reply))

    def _finished(self, url: str, reply: QNetworkReply) -> None:
        self._in_flight.pop(url, None)
        reply.deleteLater()
        if reply.error() != QNetworkReply.NetworkError.NoError:
            offline = self._offline_copy(url)
            body: bytes | QByteArray
            if offline is None:
                self.failed.emit(url, reply.errorString())
                return
            body = offline
        else:
            body = reply.readAll()
        pixmap = QPixmap()
        if not pixmap.loadFromData(body):
            self.failed.emit(url, "not a picture")
            return
        self._memory[url] = pixmap
        if len(self._memory) > self._memory_items:
            self._memory.popitem(last=False)
        self.loaded.emit(url, pixmap)

    def _offline_copy(self, url: str) -> bytes | None:
        """The image from the offline copy's cache (see services/offline/thumbnails)."""
        if self.offline_folder is None:
            return None
        path = self.offline_folder / cached_image_name(url)
        try:
            return path.read_bytes()
        except OSError:
            return None

    def abort_all(self) -> None:
        for reply in list(self._in_flight.values()):
            reply.abort()
