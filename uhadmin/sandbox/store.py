"""The sandbox account's state: objects by kind in creation order, optionally kept in SQLite.

With a data file, the file is the truth and several processes may serve the same account
(the GUI's sandbox and a CLI command's, say). Each request runs in `transaction()`: a write
takes SQLite's write lock first (BEGIN IMMEDIATE); then `PRAGMA data_version` (a few
microseconds) says whether another connection committed since this process last looked,
and if so only the rows changed since then are read back into memory. Every write
transaction that changes something takes the next account revision; each row carries the
revision that last wrote it, and deletions leave a tombstone with theirs.
"""

from __future__ import annotations

import json
import random
import sqlite3
import string
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

_ALPHABET = string.ascii_letters + string.digits
# Ids must be unique, not secret: a SystemRandom-seeded PRNG is ~10x faster than `secrets`.
_ids = random.Random(random.SystemRandom().getrandbits(128))

# Kinds whose objects live in the store. Internal fields start with "_" and never leave it.
KINDS = ("product", "price", "inline_price", "checkout_session", "payment_intent", "charge",
         "event",
         "webhook_endpoint", "idempotency")

# Tombstones beyond this many are dropped at once; a process that has not looked since
# then reads the whole account again (rare: deletions are few).
MAX_TOMBSTONES = 2000
# How long a write waits for another process's write transaction (they last milliseconds).
BUSY_TIMEOUT_S = 10.0

# (kind, object) rows another process wrote, (kind, id) rows it deleted, whether the whole
# account was read again (then the first two are empty and every index must be rebuilt).
ReloadListener = Callable[[list[tuple[str, dict[str, Any]]], list[tuple[str, str]], bool], None]


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(_ids.choices(_ALPHABET, k=length))


class SandboxStore:
    """In-memory dicts (insertion order = creation order), kept in step with SQLite.

    Every public method must be called inside `transaction()` (or, in memory only, with
    `lock` held): the server wraps each request's execution in one, so handlers see and
    change a consistent account.
    """

    def __init__(self, data_path: str | Path | None = None) -> None:
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._seq: dict[tuple[str, str], int] = {}
        self._next_seq = 1
        self._db: sqlite3.Connection | None = None
        self._path = Path(data_path) if data_path is not None else None
        self.on_reload: ReloadListener | None = None
        # Cross-process bookkeeping (persistent mode only).
        self._data_version: int | None = None
        self._seen_rev = -1  # the account revision memory reflects (-1: none, load all)
        self._depth = 0  # nesting of transaction() on the owning thread
        self._writing = False  # inside a write transaction (BEGIN IMMEDIATE)
        self._txn_rev: int | None = None  # the revision this write transaction writes as
        if self._path is not None:
            self._open(self._path)
            with self.transaction():
                pass  # loads the account

    def reopen(self) -> None:
        """After `close()` (a stopped server started again): catch up with the file."""
        if self._path is not None and self._db is None:
            self._open(self._path)
            with self.transaction():
                pass

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                             timeout=BUSY_TIMEOUT_S)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS sandbox_objects (kind TEXT NOT NULL, "
                       "id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, "
                       "PRIMARY KEY (kind, id))")
            columns = {row[1] for row in db.execute("PRAGMA table_info(sandbox_objects)")}
            if "rev" not in columns:  # a file from before several processes shared it
                db.execute("ALTER TABLE sandbox_objects ADD COLUMN rev INTEGER NOT NULL "
                           "DEFAULT 0")
            db.execute("CREATE INDEX IF NOT EXISTS sandbox_objects_rev "
                       "ON sandbox_objects (rev)")
            db.execute("CREATE TABLE IF NOT EXISTS sandbox_deleted (kind TEXT NOT NULL, "
                       "id TEXT NOT NULL, rev INTEGER NOT NULL)")
            # rev: the newest revision; floor: tombstones before it are gone, so memory
            # older than it must be read again whole.
            db.execute("CREATE TABLE IF NOT EXISTS sandbox_meta (name TEXT PRIMARY KEY, "
                       "value INTEGER NOT NULL)")
            db.execute("INSERT OR IGNORE INTO sandbox_meta VALUES ('rev', 0), ('floor', 0)")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            db.close()
            raise
        self._db = db
        self._data_version = None  # catch up on the first transaction

    @property
    def persistent(self) -> bool:
        return self._db is not None

    # ----------------------------------------------------------------- transactions
    def transaction(self, write: bool = False,
                    write_if: Callable[[], bool] | None = None) -> AbstractContextManager[Any]:
        """Hold the lock and, with a data file, a transaction on a current view of it.

        `write`: take SQLite's write lock first (any request that may change the account).
        `write_if`: checked on the current view; True turns a read into a write before
        anything is written (e.g. a GET that finds a checkout session past its expiry).
        In memory only, this is the lock itself: no cost beyond it.
        """
        if self._db is None:
            return self.lock
        return self._transaction(write, write_if)

    @contextmanager
    def _transaction(self, write: bool, write_if: Callable[[], bool] | None) -> Iterator[None]:
        with self.lock:
            if self._depth:  # nested: the outer transaction decides
                if (write or (write_if is not None and write_if())) and not self._writing:
                    raise RuntimeError("a sandbox write inside a read-only transaction")
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            db = self._db
            if db is None:  # closed meanwhile (server stopped): memory only
                yield
                return
            if not write:
                self._catch_up(in_transaction=False)
                write = write_if is not None and write_if()
            if write:
                db.execute("BEGIN IMMEDIATE")
                self._writing = True
                try:
                    self._catch_up(in_transaction=True)
                except BaseException:
                    self._end_write(commit=False)
                    raise
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                if write:
                    # Memory already holds every change the handler made, even one that
                    # then raised: commit them too, so the file and memory agree.
                    self._end_write(commit=True)

    def _end_write(self, commit: bool) -> None:
        assert self._db is not None
        self._writing = False
        self._txn_rev = None
        try:
            self._db.execute("COMMIT" if commit else "ROLLBACK")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._forget_view()  # memory may now be ahead of the file: read it again
            raise
        if not commit:
            self._forget_view()

    def _forget_view(self) -> None:
        self._seen_rev = -1
        self._data_version = None

    def _catch_up(self, in_transaction: bool) -> None:
        """Read back whatever other connections committed since this process last looked."""
        db = self._db
        assert db is not None
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version:
            return
        if not in_transaction:
            db.execute("BEGIN")  # one snapshot for the reads below
        try:
            meta = dict(db.execute("SELECT name, value FROM sandbox_meta"))
            if meta["rev"] != self._seen_rev:
                if self._seen_rev < meta["floor"] or self._seen_rev > meta["rev"]:
                    self._load_all(db)
                else:
                    self._load_changes(db, self._seen_rev)
                self._seen_rev = meta["rev"]
        finally:
            if not in_transaction:
                db.execute("COMMIT")
        self._data_version = version

    def _load_all(self, db: sqlite3.Connection) -> None:
        for kind in KINDS:
            self.objects[kind].clear()
        self._seq.clear()
        for kind, object_id, seq, body in db.execute(
                "SELECT kind, id, seq, body FROM sandbox_objects ORDER BY seq"):
            if kind in self.objects:
                self.objects[kind][object_id] = json.loads(body)
                self._seq[(kind, object_id)] = seq
                self._next_seq = max(self._next_seq, seq + 1)
        if self.on_reload is not None:
            self.on_reload([], [], True)

    def _load_changes(self, db: sqlite3.Connection, since: int) -> None:
        deleted = [(kind, object_id) for kind, object_id in db.execute(
            "SELECT kind, id FROM sandbox_deleted WHERE rev > ? ORDER BY rev", (since,))
            if kind in self.objects]
        for kind, object_id in deleted:
            self.objects[kind].pop(object_id, None)
            self._seq.pop((kind, object_id), None)
        changed = []
        # Every writer caught up before taking its sequence numbers, so new rows come after
        # every row this process knows: appending them in seq order keeps creation order.
        for kind, object_id, seq, body in db.execute(
                "SELECT kind, id, seq, body FROM sandbox_objects WHERE rev > ? ORDER BY seq",
                (since,)):
            if kind not in self.objects:
                continue
            obj = json.loads(body)
            if self._seq.get((kind, object_id)) != seq:
                self.objects[kind].pop(object_id, None)  # re-created: moves to the end
            self.objects[kind][object_id] = obj
            self._seq[(kind, object_id)] = seq
            self._next_seq = max(self._next_seq, seq + 1)
            changed.append((kind, obj))
        if self.on_reload is not None:
            self.on_reload(changed, deleted, False)

    def _revision(self) -> int:
        """The revision this write transaction writes as (taken at its first change)."""
        if not self._writing:
            raise RuntimeError("a persistent sandbox store changes only inside "
                               "transaction(write=True)")
        if self._txn_rev is None:
            assert self._db is not None
            self._txn_rev = self._seen_rev + 1
            self._db.execute("UPDATE sandbox_meta SET value = ? WHERE name = 'rev'",
                             (self._txn_rev,))
            self._seen_rev = self._txn_rev
        return self._txn_rev

    # ----------------------------------------------------------------- objects
    def get(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return self.objects[kind].get(object_id)

    def put(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Insert or replace; a replaced object keeps its place in the creation order."""
        object_id = obj["id"]
        key = (kind, object_id)
        if self._db is not None:
            rev = self._revision()
        if key not in self._seq:
            self._seq[key] = self._next_seq
            self._next_seq += 1
        self.objects[kind][object_id] = obj
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO sandbox_objects (kind, id, seq, body, rev)"
                             " VALUES (?, ?, ?, ?, ?)",
                             (kind, object_id, self._seq[key], json.dumps(obj), rev))
        return obj

    def delete(self, kind: str, object_id: str) -> None:
        if self._db is not None:
            rev = self._revision()
            self._db.execute("DELETE FROM sandbox_objects WHERE kind = ? AND id = ?",
                             (kind, object_id))
            self._db.execute("INSERT INTO sandbox_deleted (kind, id, rev) VALUES (?, ?, ?)",
                             (kind, object_id, rev))
            self._prune_tombstones(rev)
        self.objects[kind].pop(object_id, None)
        self._seq.pop((kind, object_id), None)

    def _prune_tombstones(self, rev: int) -> None:
        assert self._db is not None
        if rev % 100:  # counting them on every delete would cost more than it saves
            return
        (count,) = self._db.execute("SELECT count(*) FROM sandbox_deleted").fetchone()
        if count > MAX_TOMBSTONES:
            self._raise_floor(rev)

    def _raise_floor(self, rev: int) -> None:
        """Drop every tombstone: a process whose memory is older than `rev` reloads whole."""
        assert self._db is not None
        self._db.execute("DELETE FROM sandbox_deleted WHERE rev < ?", (rev,))
        self._db.execute("UPDATE sandbox_meta SET value = ? WHERE name = 'floor'", (rev,))

    def newest_first(self, kind: str) -> list[dict[str, Any]]:
        return list(reversed(self.objects[kind].values()))

    def clear(self) -> None:
        if self._db is not None:
            rev = self._revision()
            self._db.execute("DELETE FROM sandbox_objects")
            self._db.execute("DELETE FROM sandbox_deleted")
            self._db.execute("UPDATE sandbox_meta SET value = ? WHERE name = 'floor'", (rev,))
        for kind in KINDS:
            self.objects[kind].clear()
        self._seq.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
