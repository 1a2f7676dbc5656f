"""What one committed mutation changed, as typed values the change bus carries to the views."""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from uhadmin.domain.filtering import matches_filters
from uhadmin.domain.listing import Listing, ListingQuery, SortKey


@dataclass(frozen=True)
class ListingsChanged:
    """Listings were created, edited, moved through their states or deleted.

    A writer says as much as it knows; what it leaves out means "anything may have changed",
    so a view that cannot tell refreshes, never shows a stale row.
    """

    ids: frozenset[int] = frozenset()  # the listings; empty: many or unknown, refresh all
    fields: frozenset[str] = frozenset()  # the Listing fields written; empty: any of them
    # The listings as saved (a deleted one is absent), so a view patches rows without
    # reading them again; empty when the writer did not keep them.
    listings: tuple[Listing, ...] = ()
    # Whether the Stripe queue's length may have moved, and if the writer counted it, the
    # new length (None: read it again if it is shown).
    queue_moved: bool = True
    queued: int | None = None
    initiator: object | None = None  # who asked (usually a view), to skip its own echo


@dataclass(frozen=True)
class SyncChanged:
    """A sync or a reconcile fix wrote what Stripe now holds for these listings (sync state,
    Stripe ids, errors); their rows and the Stripe queue are worth reading again."""

    ids: frozenset[int] = frozenset()  # empty: many or unknown
    initiator: object | None = None


@dataclass(frozen=True)
class CheckoutAttemptChanged:
    """A checkout attempt was written (created, paid, declined, expired, refreshed)."""

    attempt_id: int | None = None  # None: several or unknown, reload the history
    initiator: object | None = None


# Everything the bus carries; a subscriber matches on the type.
Change = ListingsChanged | SyncChanged | CheckoutAttemptChanged

# Listing fields that decide where a row sorts (a patched row would sit in the wrong place).
SORT_FIELDS: dict[SortKey, str] = {
    SortKey.ID: "id", SortKey.TITLE: "title", SortKey.PRICE: "price_minor",
    SortKey.STATUS: "status", SortKey.SYNC_STATE: "sync_state",
    SortKey.UPDATED: "updated_at", SortKey.CREATED: "created_at"}
# Listing fields the full-text search reads.
SEARCHED_FIELDS = frozenset({"title", "description"})


class Refresh(enum.Enum):
    """What a view showing one query's rows does about a change."""

    NOTHING = "nothing"  # none of its rows or its membership moved
    PATCH = "patch"  # replace the carried listings in place (and drop those that left)
    RELOAD = "reload"  # run its query again


def listing_ids(change: Change) -> frozenset[int]:
    """The listings a change names (empty: unknown or none)."""
    return change.ids if isinstance(change, ListingsChanged | SyncChanged) else frozenset()


def refresh_for(change: Change, query: ListingQuery, shown: Collection[int]) -> Refresh:
    """How a view showing the rows `shown` of `query` catches up with `change`, reading as
    little as it can: nothing when no shown row is touched and no listing can have come
    into view; a patch from the carried listings when only shown rows changed (in place,
    as a person editing expects: no jump, even if the sort key moved); else a reload."""
    if isinstance(change, CheckoutAttemptChanged):
        return Refresh.NOTHING
    if isinstance(change, SyncChanged) or not change.ids or not change.fields:
        return Refresh.RELOAD
    carried = {listing.id: listing for listing in change.listings}
    shown_ids = set(shown)
    if set(change.ids) - set(carried):  # deleted, or not kept by the writer: cannot tell
        return Refresh.RELOAD
    # A listing not shown comes into view if it passes the filters and a field that
    # decides membership or order changed (paging: it may sort into the loaded rows).
    deciding = {"status", "sync_state", SORT_FIELDS.get(query.sort, "")}
    if query.search:
        deciding |= SEARCHED_FIELDS
    if query.needs_fixing:  # which rule a listing breaks may follow any field
        deciding |= set(change.fields)
    for listing in carried.values():
        if (listing.id not in shown_ids and matches_filters(listing, query)
                and deciding & change.fields):
            return Refresh.RELOAD
    return Refresh.PATCH if shown_ids & set(carried) else Refresh.NOTHING
