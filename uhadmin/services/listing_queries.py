"""Reading listings inside a transaction: pages, a filter's matching ids, counts by status.

SQLAlchemy Core only: the services run these in an ORM session, a one-shot command
(`uhadmin listings list`) on a bare Core connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Select, func, select

from uhadmin.domain.listing import Listing, ListingQuery, ListingStatus, Page, SortKey
from uhadmin.errors import NotFoundError, ValidationError
from uhadmin.services.listing_rows import LISTING_COLUMNS, row_to_listing
from uhadmin.services.listing_table import LISTINGS
from uhadmin.services.needs_fixing import may_need_fixing
from uhadmin.services.search import TextSearch, text_search

if TYPE_CHECKING:
    from uhadmin.services.engine import Reader

# Every row is read as untrusted input (the website writes them): see listing_rows.

Dialect = Literal["sqlite", "postgresql"]

_SORT_COLUMNS = {
    SortKey.ID: LISTINGS.c.id,
    # lower(): people expect "apple" next to "Apple"; ix_listings_title indexes exactly this.
    SortKey.TITLE: func.lower(LISTINGS.c.title),
    SortKey.PRICE: LISTINGS.c.price_minor,
    SortKey.STATUS: LISTINGS.c.status,
    SortKey.SYNC_STATE: LISTINGS.c.sync_state,
    SortKey.UPDATED: LISTINGS.c.updated_at,
    SortKey.CREATED: LISTINGS.c.created_at,
}

# Searches matching at most this many listings page over their ids (see search_in).
FEW_MATCHES = 1000

# A page never carries more than this many listings, whatever the caller asks.
MAX_PAGE_SIZE = 1000


def order(query: ListingQuery) -> tuple[Any, Any]:
    sort_column = _SORT_COLUMNS[SortKey(query.sort)]
    # The id tiebreak runs in the same direction so one index serves both keys and equal
    # prices never swap places between pages.
    if query.descending:
        return sort_column.desc(), LISTINGS.c.id.desc()
    return sort_column.asc(), LISTINGS.c.id.asc()


def row_in(session: Reader, listing_id: int) -> Any:
    """The listings row with this id, read in this transaction (NotFoundError if none)."""
    row = session.execute(
        select(*LISTING_COLUMNS).where(LISTINGS.c.id == listing_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"listing {listing_id} does not exist")
    return row


def rows_in(session: Reader, listing_ids: Sequence[int]) -> dict[int, Any]:
    """{id: listings row} for those of `listing_ids` that exist, read in this transaction
    with one statement (a bulk batch's rows, rather than one query each)."""
    rows = session.execute(select(*LISTING_COLUMNS).where(LISTINGS.c.id.in_(listing_ids)))
    return {row.id: row for row in rows}


def _filters(session: Reader, dialect: Dialect,
             query: ListingQuery) -> tuple[list[Any], bool, TextSearch | None]:
    """The query's status, sync-state and text conditions; whether a column filter is set."""
    conditions: list[Any] = []
    if query.statuses:
        conditions.append(LISTINGS.c.status.in_(sorted(s.value for s in query.statuses)))
    if query.sync_states:
        conditions.append(
            LISTINGS.c.sync_state.in_(sorted(s.value for s in query.sync_states)))
    filtered = bool(conditions)
    search = text_search(session, dialect, query.search)
    if search is not None:
        conditions.append(search.condition)
    return conditions, filtered, search


def search_in(session: Reader, dialect: Dialect, query: ListingQuery) -> Page[Listing]:
    """One page of listings: full-text search, filters, sort and paging in the database."""
    if query.offset < 0:
        raise ValidationError.single("offset", "must be 0 or more")
    if query.limit < 0:
        raise ValidationError.single("limit", "must be 0 or more")
    limit = min(query.limit, MAX_PAGE_SIZE)
    conditions, filtered, search = _filters(session, dialect, query)
    if query.needs_fixing:
        return _needs_fixing_page_in(session, dialect, query, conditions, limit)
    page_conditions = list(conditions)
    if search is not None:
        page_conditions[-1] = search.page_condition
    if search is not None and search.matches is not None and not filtered:
        total = search.matches  # the FTS index counted them already
    else:
        total = session.execute(
            select(func.count()).select_from(LISTINGS).where(*conditions)).scalar_one()
    items: tuple[Listing, ...] = ()
    if limit and query.offset < total:
        if search is not None and total <= FEW_MATCHES:
            # Few matches: hand the page query their ids. Otherwise a planner that cannot
            # estimate a prefix search (PostgreSQL guesses 2,000 rows for "zepp:*") walks
            # the whole sort index for 12 rows: 50 ms instead of 1.
            matching_ids = session.execute(
                select(LISTINGS.c.id).where(*conditions)).scalars().all()
            page_conditions = [LISTINGS.c.id.in_(matching_ids)]
        page_query: Select = (
            select(*LISTING_COLUMNS).where(*page_conditions).order_by(*order(query))
            .offset(query.offset).limit(limit))
        items = tuple(row_to_listing(row) for row in session.execute(page_query))
    return Page(items=items, total=total, offset=query.offset)


def _broken_in(session: Reader, dialect: Dialect, query: ListingQuery,
               conditions: list[Any]) -> list[Listing]:
    """Listings that break a rule: the database narrows them down (may_need_fixing), the
    rules themselves decide, in the query's order."""
    candidates = session.execute(
        select(*LISTING_COLUMNS).where(*conditions, may_need_fixing(dialect))
        .order_by(*order(query)))
    return [listing for listing in map(row_to_listing, candidates) if listing.needs_fixing]


def _needs_fixing_page_in(session: Reader, dialect: Dialect, query: ListingQuery,
                          conditions: list[Any], limit: int) -> Page[Listing]:
    broken = _broken_in(session, dialect, query, conditions)
    items = tuple(broken[query.offset:query.offset + limit])
    return Page(items=items, total=len(broken), offset=query.offset)


def matching_ids_in(session: Reader, dialect: Dialect, query: ListingQuery) -> list[int]:
    """Every listing id the query's search and filters match (its paging ignored), in id
    order: what "select all N matching" acts on, fixed when the action starts."""
    conditions, _filtered, _search = _filters(session, dialect, query)
    if query.needs_fixing:
        return sorted(x.id for x in _broken_in(session, dialect, query, conditions))
    return list(session.execute(
        select(LISTINGS.c.id).where(*conditions).order_by(LISTINGS.c.id)).scalars())


def count_by_status_in(session: Reader) -> dict[ListingStatus, int]:
    counts = {status: 0 for status in ListingStatus}
    for status, count in session.execute(
            select(LISTINGS.c.status, func.count()).group_by(LISTINGS.c.status)):
        if status in counts:  # a status outside the workflow is no column of the counts
            counts[ListingStatus(status)] = count
    return counts
