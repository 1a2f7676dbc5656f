"""Full-text search over listings: the search box text as a SQLite FTS5 or PostgreSQL
tsvector condition, and bulk inserts that keep the search index in step cheaply."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import column, func, literal_column, select, table, text
from sqlalchemy.sql.elements import ColumnElement

from uhadmin.services.engine import driver_connection
from uhadmin.services.listing_table import LISTINGS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from uhadmin.services.engine import Reader

# Words are runs of letters and digits; everything else (quotes, operators, punctuation,
# underscores) separates them, as in both tokenizers. So nothing a person types can reach
# FTS5 or tsquery as syntax.
_WORD = re.compile(r"[^\W_]+")

# At most this many words go into one query: a pasted paragraph should not become a
# 500-term query.
MAX_TERMS = 16

_LISTINGS_FTS = table("listings_fts", column("rowid"))


def search_terms(search_text: str) -> tuple[list[str], bool]:
    """The words of `search_text` (lower case) and whether the last one is still being typed.

    While typing, the last word is a prefix ("bik" finds "bike"); once a space follows it
    the word is complete and matches whole words only.
    """
    words = [word.lower() for word in _WORD.findall(search_text)][:MAX_TERMS]
    last_is_prefix = bool(words) and not search_text[-1:].isspace()
    return words, last_is_prefix


def fts5_query(words: list[str], last_is_prefix: bool) -> str:
    """An FTS5 MATCH expression: every word must occur; each word is a quoted string."""
    parts = [f'"{word}"' for word in words]
    if last_is_prefix:
        parts[-1] += "*"
    return " ".join(parts)


def tsquery_text(words: list[str], last_is_prefix: bool) -> str:
    """A to_tsquery('simple', ...) expression: every word must occur, the last as prefix."""
    parts = list(words)
    if last_is_prefix:
        parts[-1] += ":*"
    return " & ".join(parts)


# Above this many matches, SQLite pages faster by walking the sort index and testing each
# row against the match set (stops after one page) than by sorting every match: measured
# at 100,000 listings, 33,000 matches: 6 ms against 90 ms; 12 matches: 0.1 ms against 15 ms.
WALK_SORT_INDEX_ABOVE = 1000


@dataclass(frozen=True)
class TextSearch:
    """The search words as WHERE conditions, and (SQLite) how many listings they match."""

    # Drives the query from the matching rows: best for counting, and for a page when few
    # listings match.
    condition: ColumnElement[bool]
    # The condition to page with: on SQLite with many matches it walks the sort index and
    # tests each row against the match set instead.
    page_condition: ColumnElement[bool]
    matches: int | None  # counted from the FTS index on SQLite; None on PostgreSQL


def text_search(
    session: Reader, dialect: Literal["sqlite", "postgresql"], search_text: str
) -> TextSearch | None:
    """The full-text part of a listing query, or None when the text has no words."""
    words, last_is_prefix = search_terms(search_text)
    if not words:
        return None
    if dialect == "sqlite":
        match = text("listings_fts MATCH :fts_query").bindparams(
            fts_query=fts5_query(words, last_is_prefix))
        # Counting in the FTS index alone is cheap (a few ms for 33,000 matches) and tells
        # the caller the total when no other filter applies.
        matches = session.execute(
            select(func.count()).select_from(_LISTINGS_FTS).where(match)).scalar_one()
        matching_ids = select(_LISTINGS_FTS.c.rowid).where(match)
        condition = LISTINGS.c.id.in_(matching_ids)
        page_condition = condition
        if matches > WALK_SORT_INDEX_ABOVE:
            # The unary + stops SQLite from driving the query from the match set (SQLite's
            # documented way to disqualify an index), so it walks the sort index instead.
            page_condition = literal_column("+listings.id").in_(matching_ids)
        return TextSearch(condition, page_condition, matches)
    condition = literal_column("listings.search_vector").op("@@")(
        func.to_tsquery(literal_column("'simple'::regconfig"),
                        tsquery_text(words, last_is_prefix))
    )
    return TextSearch(condition, condition, None)


def insert_listings_in_bulk(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert many listing rows (dicts of `listings` columns) in the caller's write
    transaction, with the search index built in one pass; returns how many were inserted.

    SQLite: the per-row FTS trigger costs 8x a single INSERT ... SELECT into the index, so it
    is dropped and restored around the load, inside the same transaction (BEGIN IMMEDIATE
    keeps every other writer out meanwhile; a failure rolls the trigger back too); into an
    empty table the sort indexes are built after the load as well.
    PostgreSQL: COPY, several times faster than INSERT; the tsvector column fills itself.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _copy_into_postgres(session, rows)
    trigger_sql = session.execute(text(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
        "AND name = 'listings_fts_after_insert'")).scalar_one()
    # New rows get ids above the current maximum (SQLite's rowid rule), so they are the
    # ones above `last_id`.
    last_id = session.execute(select(func.max(LISTINGS.c.id))).scalar_one()
    deferred_indexes: list[tuple[str, str]] = []
    if last_id is None:
        # Loading an empty catalog (first import, seeding): building each index once from
        # the loaded rows costs half of keeping seven indexes sorted row by row. Readers
        # keep their WAL snapshot meanwhile, so only this transaction sees them missing.
        deferred_indexes = [tuple(row) for row in session.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'listings' AND sql IS NOT NULL"))]
        for name, _sql in deferred_indexes:
            session.execute(text(f'DROP INDEX "{name}"'))
    session.execute(text("DROP TRIGGER listings_fts_after_insert"))
    inserted = _executemany_into_sqlite(session, rows)
    for _name, sql in deferred_indexes:
        session.execute(text(sql))
    session.execute(text(
        "INSERT INTO listings_fts(rowid, title, description) "
        "SELECT id, title, description FROM listings WHERE id > :last_id"),
        {"last_id": last_id if last_id is not None else -(2**63)})
    session.execute(text(trigger_sql))
    return inserted


def _listing_columns(first: Mapping[str, Any]) -> list[str]:
    columns = list(first)
    unknown = [name for name in columns if name not in LISTINGS.c]
    if unknown:
        raise ValueError(f"not listings columns: {', '.join(unknown)}")
    return columns


def _executemany_into_sqlite(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    # SQLAlchemy's per-row parameter handling costs twice SQLite's own insert time at this
    # size, so the rows go straight to the driver, converted by the very bind processors
    # SQLAlchemy would use (same datetime and JSON storage format).
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    columns = _listing_columns(first)
    dialect = session.get_bind().dialect
    processors = [LISTINGS.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                  for name in columns]
    quote = dialect.identifier_preparer.quote
    # Only the given columns: the others take their server defaults, as for the website.
    statement = (f"INSERT INTO listings ({', '.join(quote(name) for name in columns)}) "
                 f"VALUES ({', '.join('?' for _ in columns)})")
    inserted = 0

    def converted() -> Iterator[list[Any]]:
        nonlocal inserted
        for row in itertools.chain([first], iterator):
            inserted += 1
            yield [value if process is None else process(value)
                   for process, value in zip(processors, (row[name] for name in columns),
                                             strict=True)]

    cursor = driver_connection(session.connection()).cursor()
    try:
        cursor.executemany(statement, converted())
    finally:
        cursor.close()
    return inserted


def _copy_into_postgres(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    columns = _listing_columns(first)
    driver = driver_connection(session.connection())
    inserted = 0
    quoted = ", ".join(f'"{name}"' for name in columns)
    with driver.cursor() as cursor, cursor.copy(
            f"COPY listings ({quoted}) FROM STDIN") as copy:
        for values in itertools.chain([first], iterator):
            # COPY's text format lets the server parse each value by its column type;
            # JSON columns need their text, not a Python list.
            copy.write_row([json.dumps(values[name]) if name == "image_urls"
                            else values[name] for name in columns])
            inserted += 1
    return inserted
