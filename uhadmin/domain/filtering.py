"""Whether a listing that changed in place still belongs to a query's filtered result."""

from __future__ import annotations

from uhadmin.domain.listing import Listing, ListingQuery


def matches_filters(listing: Listing, query: ListingQuery) -> bool:
    """True if `listing` passes the query's status and sync-state filters.

    The text search is not judged here: it runs in the database's full-text index, and a
    status or sync change never changes the words a listing matches.
    """
    if query.statuses and listing.status not in query.statuses:
        return False
    return not query.sync_states or listing.sync_state in query.sync_states
