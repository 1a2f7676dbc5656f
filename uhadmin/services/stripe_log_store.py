"""The Stripe log's SQL: raw exchanges to rows, filtered newest-first pages, pruning batches."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from uhadmin.domain.stripe_log import (
    StripeLogEntry,
    StripeLogFilter,
    readable_excerpt,
    redact_text,
    status_class_of,
    summarise_response,
)
from uhadmin.domain.stripe_log_text import params_json_of, split_url
from uhadmin.services.tables import StripeLogRow

LOG = StripeLogRow.__table__
# req_..., uh_..., evt_..., cs_test_...: one word with an underscore after a lower-case prefix.
_ID_SHAPE = re.compile(r"[a-z]+_[A-Za-z0-9_\-]+")
# What a table page needs; the excerpt and search text stay in the database until asked.
_PAGE_COLUMNS = [column for column in LOG.c
                 if column.name not in ("response_excerpt", "search_text")]


# What a request's row holds when its raw exchange says nothing of it.
_REQUEST_DEFAULTS: dict[str, Any] = {
    "kind": "request", "api_version": "", "idempotency_key": None, "request_id": None,
    "latency_ms": None, "call_id": "", "retry": 0, "endpoint": "", "served": "",
    "sync_run": None, "listing_id": None, "listing_revision": None, "attempt_id": None,
    "event_id": None, "event_type": None, "signature_verified": None, "effect": ""}


def row_from_exchange(raw: dict[str, Any]) -> dict[str, Any]:
    """One raw exchange (recording.RecordingHTTPXClient) as stripe_log column values; the
    raw's own keys are merged in whole (its url, body and content go unused by the insert)."""
    api_base, path, query = split_url(raw["url"])
    summary = summarise_response(raw.get("content"))
    status = raw.get("status")
    if raw.get("failure"):
        summary["error_type"] = "api_connection_error"
        summary["error_message"] = redact_text(raw["failure"])[:500]
    values = {
        **_REQUEST_DEFAULTS, **raw, **summary, "api_base": api_base, "path": path,
        "params": params_json_of(query, raw.get("body")), "status_class": status_class_of(status),
        "is_error": summary["error_type"] is not None or not status or status >= 400}
    values["search_text"] = _search_text(values)
    return values


def row_from_webhook(*, at: datetime, event_id: str | None, event_type: str | None,
                     verified: bool, effect: str, attempt_id: int | None = None,
                     listing_id: int | None = None, object_id: str | None = None,
                     payload_excerpt: str = "") -> dict[str, Any]:
    """One webhook event received as stripe_log column values."""
    values = {
        "at": at, "kind": "webhook", "method": "POST", "api_base": "", "path": "/webhook",
        "api_version": "", "params": "[]", "idempotency_key": None, "request_id": None,
        "status": None, "status_class": None, "is_error": not verified, "latency_ms": None,
        "call_id": "", "retry": 0, "endpoint": "webhook", "served": "webhook",
        "sync_run": None, "listing_id": listing_id, "listing_revision": None,
        "attempt_id": attempt_id, "error_type": None if verified else "signature",
        "error_code": None, "decline_code": None,
        "error_message": None if verified else redact_text(effect)[:500],
        "object_type": "event", "object_id": object_id,
        "response_excerpt": redact_text(payload_excerpt)[:2000], "event_id": event_id,
        "event_type": event_type, "signature_verified": verified,
        "effect": redact_text(effect)[:1000],
    }
    values["search_text"] = _search_text(values)
    return values


_SEARCHED = operator.itemgetter(
    "path", "endpoint", "served", "object_id", "request_id", "idempotency_key", "error_code",
    "decline_code", "error_message", "event_id", "event_type", "effect")


def _search_text(values: dict[str, Any]) -> str:
    # Every searched column holds text or None; filter() drops the empty ones.
    params = values["params"]
    return " ".join(filter(None, (*_SEARCHED(values), params if params != "[]" else None))
                    ).lower()


_INSERTED = tuple(column.name for column in LOG.c if column.name != "id")
_NULLABLE_VALUE = {name: operator.itemgetter(name) for name in _INSERTED
                   if LOG.c[name].nullable}


@dataclass(frozen=True)
class _PreparedInsert:
    """The INSERT of some columns, compiled for one dialect, with its parameters' order and
    the bind processors SQLAlchemy would apply (by parameter position)."""

    sql: str
    positional: bool
    names: tuple[str, ...]
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]


# Compiled once per process for each dialect and column set (a handful), not once per engine.
_PREPARED: dict[tuple[str, str, tuple[str, ...]], _PreparedInsert] = {}


def _prepared_insert(dialect: Dialect, columns: tuple[str, ...]) -> _PreparedInsert:
    key = (dialect.name, dialect.driver, columns)
    found = _PREPARED.get(key)
    if found is None:
        compiled = insert(LOG).compile(dialect=dialect, column_keys=list(columns))
        names = tuple(compiled.positiontup or ()) if compiled.positional else columns
        processors = tuple(
            (position, process) for position, process in enumerate(
                _bind_processor(name, dialect) for name in names) if process is not None)
        found = _PREPARED[key] = _PreparedInsert(str(compiled), compiled.positional, names,
                                                 operator.itemgetter(*names), processors)
    return found


def _bind_processor(name: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's bind processor of a column, but on SQLite two quicker equivalents: the
    time's text by datetime.isoformat (SQLAlchemy %-formats seven fields from a dict), and
    no processor for a flag (the driver binds a bool as the 1 or 0
    SQLAlchemy's int() would give)."""
    column_type = LOG.c[name].type
    if dialect.name == "sqlite":
        if isinstance(column_type, DateTime):
            return sqlite_time_text
        if isinstance(column_type, Boolean):
            return None
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def sqlite_time_text(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text ("2026-12-02 05:28:59.811156": the fields as they
    are, no zone, microseconds always): isoformat's first 26 characters (a zone follows)."""
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert column-value dicts in one executemany of a prebuilt statement.

    SQLAlchemy's per-row parameter handling cost as much as SQLite's own insert with a dozen
    indexes, so the values go to the driver converted by the very bind processors
    SQLAlchemy would apply (the same datetime storage format on SQLite). A column every row
    leaves empty is left out (NULL all the same): the driver binds a None at the cost of a
    string, and a request leaves a third of the columns empty."""
    if not rows:
        return
    # Counted in C (map, list.count): a generator per column cost more than the insert.
    empty = {name for name, value_of in _NULLABLE_VALUE.items()
             if list(map(value_of, rows)).count(None) == len(rows)}
    connection = session.connection()
    prepared = _prepared_insert(connection.dialect,
                                tuple(name for name in _INSERTED if name not in empty))
    parameters: list[Any] = []
    for row in rows:
        values = list(prepared.values_of(row))
        for position, process in prepared.processors:
            values[position] = process(values[position])
        parameters.append(tuple(values) if prepared.positional
                          else dict(zip(prepared.names, values, strict=True)))
    connection.exec_driver_sql(prepared.sql, parameters)


def _conditions(where: StripeLogFilter) -> list[Any]:
    found: list[Any] = []
    if where.listing_id is not None:
        found.append(LOG.c.listing_id == where.listing_id)
    if where.listing_revision is not None:
        found.append(LOG.c.listing_revision == where.listing_revision)
    if where.attempt_id is not None:
        found.append(LOG.c.attempt_id == where.attempt_id)
    if where.call_id:
        found.append(LOG.c.call_id == where.call_id)
    if where.request_ids:
        found.append(LOG.c.request_id.in_(list(where.request_ids)))
    # With a listing, attempt or call chosen, those few rows are the way in. SQLite would
    # rather walk the errors (or method, status) index in id order for the LIMIT and read
    # tens of thousands of rows (389 ms at a million entries, bench/): coalesce() keeps
    # it off those indexes, and costs nothing on the few rows left.
    narrow = bool(found)

    def broad(column: Any, default: Any) -> Any:
        return func.coalesce(column, default) if narrow else column

    if where.status_class:
        found.append(broad(LOG.c.status_class, "") == where.status_class)
        if where.status_class != "2xx" and not narrow:
            # The condition of the partial index (migration 0006_hlog3), word for word:
            # SQLite uses such an index only when the query names its condition.
            found.append(LOG.c.status_class != literal_column("'2xx'"))
    if where.errors_only:  # "is_error IS 1" (true): the errors index's own condition
        found.append(broad(LOG.c.is_error, False).is_(True))
    if where.method:
        found.append(broad(LOG.c.method, "") == where.method.upper())
    if where.kind:
        found.append(broad(LOG.c.kind, "") == where.kind)
    if where.since is not None:
        found.append(LOG.c.at >= where.since)
    text = where.text.strip().lower()
    if text and not _looks_like_an_id(where.text):
        found.append(_like(text))
    return found


def select_page(session: Session, where: StripeLogFilter, *, before_id: int | None = None,
                after_id: int | None = None, limit: int = 200) -> list[StripeLogEntry]:
    """Up to `limit` entries matching `where`, newest first, older than `before_id` and
    newer than `after_id` when given (keyset paging: no OFFSET over a million rows)."""
    conditions = _conditions(where)
    if _looks_like_an_id(where.text):
        # A Request-Id, idempotency key, object or event id typed in full is found by index
        # at once; only when no entry has it whole does the slower substring search run.
        typed = where.text.strip()
        whole = or_(LOG.c.request_id == typed, LOG.c.idempotency_key == typed,
                    LOG.c.object_id == typed, LOG.c.event_id == typed)
        if session.execute(select(LOG.c.id).where(whole).limit(1)).first() is not None:
            conditions.append(whole)
        else:
            conditions.append(_like(typed.lower()))
    return _page(session, conditions, before_id, after_id, limit)


def _looks_like_an_id(text: str) -> bool:
    return bool(_ID_SHAPE.fullmatch(text.strip()))


def _like(text: str) -> Any:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return LOG.c.search_text.like(f"%{escaped}%", escape="\\")


def _page(session: Session, conditions: list[Any], before_id: int | None,
          after_id: int | None, limit: int) -> list[StripeLogEntry]:
    query = select(*_PAGE_COLUMNS).where(*conditions)
    if before_id is not None:
        query = query.where(LOG.c.id < before_id)
    if after_id is not None:
        query = query.where(LOG.c.id > after_id)
    rows = session.execute(query.order_by(LOG.c.id.desc()).limit(limit)).mappings().all()
    return [entry_from_row(row) for row in rows]


def select_entry(session: Session, entry_id: int) -> StripeLogEntry | None:
    row = session.execute(select(LOG).where(LOG.c.id == entry_id)).mappings().first()
    return entry_from_row(row) if row is not None else None


def entry_from_row(row: Any) -> StripeLogEntry:
    values = {name: row[name] for name in row.keys()
              if name in StripeLogEntry.__dataclass_fields__}
    values["params"] = tuple(tuple(pair) for pair in json.loads(row["params"] or "[]"))
    at = row["at"]
    values["time"] = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    values.pop("at", None)
    values["response_excerpt"] = readable_excerpt(row.get("response_excerpt") or "")
    values["effect"] = row["effect"] or ""
    return StripeLogEntry(**values)


# The oldest entry's time is read by id: entries are written in time order (each batch
# after the last), and pruning walks the oldest ids; a time index cost every insert.
_OLDEST_AND_NEWEST = select(select(func.min(LOG.c.id)).scalar_subquery(),
                            select(func.max(LOG.c.id)).scalar_subquery(),
                            select(LOG.c.at).order_by(LOG.c.id).limit(1).scalar_subquery())
_OLDEST_AND_NEWEST_SQL: dict[tuple[str, str], tuple[str, Callable[[Any], Any] | None]] = {}


def prune_targets(session: Session, *, cutoff: datetime, keep: int) -> tuple[int | None, bool]:
    """(The newest id beyond the newest `keep` entries or None, whether the oldest entry is
    older than `cutoff`): one statement of three index lookups when there is nothing to prune, as
    usual, compiled once per process (a sync's first flush prunes, on each new engine)."""
    connection = session.connection()
    dialect = connection.dialect
    key = (dialect.name, dialect.driver)
    if key not in _OLDEST_AND_NEWEST_SQL:
        _OLDEST_AND_NEWEST_SQL[key] = (
            str(_OLDEST_AND_NEWEST.compile(
                dialect=dialect, compile_kwargs={"literal_binds": True})),
            LOG.c.at.type.dialect_impl(dialect).result_processor(dialect, None))
    sql, read_time = _OLDEST_AND_NEWEST_SQL[key]
    first, last, oldest = connection.exec_driver_sql(sql).one()
    if first is None:
        return None, False
    boundary = None
    if last - first + 1 > keep:  # ids are unique: never more entries than that
        boundary = session.execute(select(LOG.c.id).order_by(LOG.c.id.desc())
                                   .offset(keep).limit(1)).scalar_one_or_none()
    return boundary, _before(read_time(oldest) if read_time else oldest, cutoff)


def prune_batch(session: Session, *, cutoff: datetime, boundary: int | None,
                batch: int) -> int:
    """Delete at most `batch` of the oldest entries that are older than `cutoff` or at or
    below `boundary` (see prune_targets); returns how many went."""
    oldest = select(LOG.c.id, LOG.c.at).order_by(LOG.c.id).limit(batch)
    doomed = [row.id for row in session.execute(oldest)
              if (boundary is not None and row.id <= boundary) or _before(row.at, cutoff)]
    if not doomed:
        return 0
    session.execute(delete(LOG).where(LOG.c.id.in_(doomed)))
    return len(doomed)


def _before(at: datetime, cutoff: datetime) -> bool:
    if at.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        cutoff = cutoff.replace(tzinfo=None)
    return at < cutoff


def count_entries(session: Session) -> int:
    return session.execute(select(func.count()).select_from(LOG)).scalar_one()
