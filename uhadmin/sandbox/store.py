"""The sandbox account's state: objects by kind in creation order, optionally kept in SQLite."""

from __future__ import annotations

import json
import random
import sqlite3
import string
import threading
from pathlib import Path
from typing import Any

_ALPHABET = string.ascii_letters + string.digits
# Ids must be unique, not secret: a SystemRandom-seeded PRNG is ~10x faster than `secrets`.
_ids = random.Random(random.SystemRandom().getrandbits(128))

# Kinds whose objects live in the store. Internal fields start with "_" and never leave it.
KINDS = ("product", "price", "inline_price", "checkout_session", "payment_intent", "event",
         "webhook_endpoint", "idempotency")


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(_ids.choices(_ALPHABET, k=length))


class SandboxStore:
    """In-memory dicts (insertion order = creation order) with write-through to SQLite.

    Every public method must be called with `lock` held: the server takes it around each
    request's execution, so handlers see and change a consistent account.
    """

    def __init__(self, data_path: str | Path | None = None) -> None:
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._seq: dict[tuple[str, str], int] = {}
        self._next_seq = 1
        self._db: sqlite3.Connection | None = None
        self._path = Path(data_path) if data_path is not None else None
        if self._path is not None:
            self._open(self._path, load=True)

    def reopen(self) -> None:
        """After `close()` (a stopped server started again): the memory state is current."""
        if self._path is not None and self._db is None:
            self._open(self._path, load=False)

    def _open(self, path: Path, load: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS sandbox_objects (kind TEXT NOT NULL, "
                   "id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, "
                   "PRIMARY KEY (kind, id))")
        rows = db.execute("SELECT kind, id, seq, body FROM sandbox_objects ORDER BY seq") \
            if load else ()
        for kind, object_id, seq, body in rows:
            if kind in self.objects:
                self.objects[kind][object_id] = json.loads(body)
                self._seq[(kind, object_id)] = seq
                self._next_seq = max(self._next_seq, seq + 1)
        self._db = db

    @property
    def persistent(self) -> bool:
        return self._db is not None

    def get(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return self.objects[kind].get(object_id)

    def put(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Insert or replace; a replaced object keeps its place in the creation order."""
        object_id = obj["id"]
        key = (kind, object_id)
        if key not in self._seq:
            self._seq[key] = self._next_seq
            self._next_seq += 1
        self.objects[kind][object_id] = obj
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO sandbox_objects (kind, id, seq, body) "
                             "VALUES (?, ?, ?, ?)",
                             (kind, object_id, self._seq[key], json.dumps(obj)))
        return obj

    def delete(self, kind: str, object_id: str) -> None:
        self.objects[kind].pop(object_id, None)
        self._seq.pop((kind, object_id), None)
        if self._db is not None:
            self._db.execute("DELETE FROM sandbox_objects WHERE kind = ? AND id = ?",
                             (kind, object_id))

    def newest_first(self, kind: str) -> list[dict[str, Any]]:
        return list(reversed(self.objects[kind].values()))

    def clear(self) -> None:
        for kind in KINDS:
            self.objects[kind].clear()
        self._seq.clear()
        if self._db is not None:
            self._db.execute("DELETE FROM sandbox_objects")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
