"""Bring the replica up to date with the catalog: only rows changed since the last refresh."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, String, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from uhadmin.services.database import Database
from uhadmin.services.listing_rows import parse_time
from uhadmin.services.offline.replica import Replica
from uhadmin.services.offline.schema import HISTORY, MIRROR
from uhadmin.services.tables import AuditRow, ListingRow

LISTINGS = ListingRow.__table__
AUDIT = AuditRow.__table__

_COPIED = [column.name for column in MIRROR.c if column.name != "signature"]
# What tells a changed row from an unchanged one. `version` alone would miss what the sync
# writes (sync_state, the Stripe ids) and a website that forgets to bump it.
_SIGNATURE = ("version", "updated_at", "status", "sync_state", "stripe_price_id", "pushed_at")


def signature(dialect: str) -> ColumnElement[str]:
    """One short text per row, computed by the catalog's database: comparing 100,000 of
    them costs a fraction of reading and comparing the columns themselves in Python."""
    parts = [func.coalesce(cast(LISTINGS.c[name], String), "") for name in _SIGNATURE]
    joined: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        joined = joined + "|" + part
    return func.md5(joined) if dialect == "postgresql" else joined


# Audit ids come from a sequence, and on PostgreSQL a transaction that took a lower id can
# commit after one that took a higher id: each refresh reads again this far below the
# highest id copied, so such a late row is still picked up (copies are idempotent).
AUDIT_OVERLAP = 1000

# Rows fetched and written per statement. A chunk's rows are young objects while it is
# copied, and the cycle collector on the GUI thread walks every one of them: at 5,000 rows
# a young collection during a sync took 10-25 ms of CPU and the window stalled up to 56 ms
# (bench/gui_bench.py, #11); at 500, 1-3 ms, for ~3 % more CPU over a first copy.
CHUNK = 500


@dataclass(frozen=True)
class RefreshReport:
    """What one refresh copied: rows changed, removed, history added, and how long it took."""

    changed: int
    deleted: int
    history: int
    total: int
    seconds: float
    full: bool


def _differences(theirs: dict[int, str], ours: dict[int, str]
                 ) -> tuple[list[int], list[int]]:
    """The listings whose signature differs from the copy's, and those the copy has alone."""
    changed = [listing_id for listing_id, signature in theirs.items()
               if ours.get(listing_id) != signature]
    return changed, [listing_id for listing_id in ours if listing_id not in theirs]


def _plain(row: Any) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in (*_COPIED, "signature")}
    images = values.get("image_urls")
    # Untrusted rows are copied as they are; only a shape JSON cannot store is replaced.
    values["image_urls"] = images if isinstance(images, list) else []
    for name in ("created_at", "updated_at", "pushed_at"):
        values[name] = parse_time(values[name])
    return values


async def refresh(catalog: Database, replica: Replica, *,
                  only: Collection[int] | None = None) -> RefreshReport:
    """Copy what changed in `catalog` since the last refresh into `replica`.

    Every row's small signature is compared with the copy's, so rows the website wrote
    (with or without bumping `version` or `updated_at`) and rows it deleted are found too;
    only changed rows are read in full. History is copied by audit id. With `only`, just
    those listings are compared (after a push); the copy's refresh time stays as it was.

    Rows and history go over in chunks, each read and written on its own: a first copy of
    100,000 listings never holds them all at once, so the app's memory stays flat and the
    cycle collector on the GUI thread never walks them (#11). A refresh cut short leaves
    chunks that the next one finds unchanged; the refresh time is set only at the end.
    """
    started = time.perf_counter()
    ids = None if only is None else sorted(set(only))
    theirs = await catalog.run(
        lambda session: _by_id(session, select(LISTINGS.c.id, signature(catalog.dialect)),
                               LISTINGS.c.id, ids))
    ours = await replica.db.run(
        lambda session: _by_id(session, select(MIRROR.c.id, MIRROR.c.signature),
                               MIRROR.c.id, ids))
    history_mark = await replica.db.run(
        lambda session: session.execute(select(func.max(HISTORY.c.id))).scalar_one() or 0)
    full, total = not ours, len(theirs)
    # Over 100,000 rows this comparison took ~50 ms: off the event loop's thread (#11).
    changed_ids, deleted_ids = await asyncio.to_thread(_differences, theirs, ours)
    known = set(ours)
    del theirs, ours
    for start in range(0, len(changed_ids), CHUNK):
        rows = await catalog.run(functools.partial(
            _rows_in, ids=changed_ids[start:start + CHUNK], dialect=catalog.dialect))
        await replica.db.run(functools.partial(_write_rows, rows=rows, known=known),
                             write=True)
    if deleted_ids:
        await replica.db.run(functools.partial(_delete_rows, ids=deleted_ids), write=True)
    added_history = 0
    after = max(history_mark - AUDIT_OVERLAP, 0)
    while True:
        history, last_id = await catalog.run(functools.partial(_history_in, after=after))
        if last_id is None:
            break
        added_history += await replica.db.run(
            functools.partial(_write_history, history=history, after=after), write=True)
        after = last_id
    if ids is None:
        now = datetime.now(UTC)
        await replica.db.run(lambda session: Replica.set_state_in(
            session, {"refreshed_at": now.isoformat(), "catalog": replica.catalog}),
            write=True)
    return RefreshReport(changed=len(changed_ids), deleted=len(deleted_ids),
                         history=added_history, total=total,
                         seconds=time.perf_counter() - started, full=full)


def _write_rows(session: Session, rows: list[dict[str, Any]], known: set[int]) -> None:
    """Insert the rows the copy lacks and update those it has."""
    fresh = [row for row in rows if row["id"] not in known]
    stale = [row for row in rows if row["id"] in known]
    if fresh:
        session.execute(insert(MIRROR), fresh)
    if stale:
        session.execute(
            update(MIRROR).where(MIRROR.c.id == bindparam("b_id")).values(
                {name: bindparam(f"b_{name}") for name in (*_COPIED, "signature")
                 if name != "id"}),
            [{f"b_{name}": value for name, value in row.items()} for row in stale])


def _delete_rows(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), CHUNK):
        session.execute(delete(MIRROR).where(MIRROR.c.id.in_(ids[start:start + CHUNK])))


def _write_history(session: Session, history: list[dict[str, Any]], after: int) -> int:
    """Copy the history entries the copy lacks (a late row may already be there)."""
    if not history:
        return 0
    copied = set(session.execute(select(HISTORY.c.id).where(
        HISTORY.c.id > after, HISTORY.c.id <= history[-1]["id"])).scalars())
    new_history = [row for row in history if row["id"] not in copied]
    if new_history:
        session.execute(insert(HISTORY), new_history)
    return len(new_history)


def _by_id(session: Session, query: Select, id_column: Any,
           ids: list[int] | None) -> dict[int, str]:
    """{id: signature} for every row, or for the rows of `ids` only."""
    found: dict[int, str] = {}
    if ids is None:
        # A chunk at a time: one fetch of 100,000 rows runs in C without letting go of the
        # GIL, and the GUI thread waited for it (#11).
        for rows in session.execute(query).partitions(CHUNK // 5):
            found.update(rows)
        return found
    for start in range(0, len(ids), CHUNK):
        found.update(session.execute(query.where(
            id_column.in_(ids[start:start + CHUNK]))).all())
    return found


def _rows_in(session: Session, ids: list[int], dialect: str) -> list[dict[str, Any]]:
    columns = [*(LISTINGS.c[name] for name in _COPIED), signature(dialect).label("signature")]
    return [_plain(row) for row in session.execute(select(*columns).where(
        LISTINGS.c.id.in_(ids)))]


def _history_in(session: Session, *, after: int
                ) -> tuple[list[dict[str, Any]], int | None]:
    """The next chunk of listing history after audit id `after`, and the last audit id
    it read (None when there is no more)."""
    rows = session.execute(
        select(AUDIT.c.id, AUDIT.c.entity_id, AUDIT.c.action, AUDIT.c.actor, AUDIT.c.at,
               AUDIT.c.details)
        .where(AUDIT.c.entity == "listing", AUDIT.c.id > after).order_by(AUDIT.c.id)
        .limit(CHUNK)).all()
    history = [{"id": row.id, "listing_id": int(row.entity_id), "action": row.action,
                "actor": row.actor, "at": parse_time(row.at), "details": row.details or {}}
               for row in rows if row.entity_id.isdigit()]
    return history, (rows[-1].id if rows else None)
