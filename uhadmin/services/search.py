"""Turn the search box text into a full-text condition for SQLite FTS5 or PostgreSQL tsvector."""

from __future__ import annotations

import re
from typing import Literal

from sqlalchemy import column, func, literal_column, select, table, text
from sqlalchemy.sql.elements import ColumnElement

from uhadmin.services.tables import ListingRow

LISTINGS = ListingRow.__table__

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


def search_condition(
    dialect: Literal["sqlite", "postgresql"], search_text: str
) -> ColumnElement[bool] | None:
    """A WHERE condition on `listings` for the search box text, or None for "no search"."""
    words, last_is_prefix = search_terms(search_text)
    if not words:
        return None
    if dialect == "sqlite":
        matches = (
            select(_LISTINGS_FTS.c.rowid)
            .where(text("listings_fts MATCH :fts_query").bindparams(
                fts_query=fts5_query(words, last_is_prefix)))
        )
        return LISTINGS.c.id.in_(matches)
    return literal_column("listings.search_vector").op("@@")(
        func.to_tsquery(literal_column("'simple'::regconfig"),
                        tsquery_text(words, last_is_prefix))
    )
