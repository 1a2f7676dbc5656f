"""How a view showing one query's rows catches up with a typed change (pure domain rules)."""

from __future__ import annotations

from uhadmin.domain import Listing, ListingQuery, ListingStatus, SortKey, SyncState
from uhadmin.domain.changes import (
    CheckoutAttemptChanged,
    ListingsChanged,
    Refresh,
    SyncChanged,
    listing_ids,
    refresh_for,
)

APPROVED = ListingQuery(statuses=frozenset({ListingStatus.APPROVED}), sort=SortKey.TITLE)
PRICE_EDIT = frozenset({"price_minor", "version", "updated_at", "updated_by"})


def listing(listing_id: int, status: ListingStatus = ListingStatus.APPROVED, **fields) -> Listing:
    return Listing(id=listing_id, title=f"Lamp {listing_id}", description="", price_minor=800,
                   currency="usd", status=status, **fields)


def edit(*listings: Listing, fields: frozenset[str] = PRICE_EDIT) -> ListingsChanged:
    return ListingsChanged(ids=frozenset(x.id for x in listings), fields=fields,
                           listings=listings)


def test_a_price_edit_of_a_shown_row_is_patched_from_the_change():
    assert refresh_for(edit(listing(1)), APPROVED, shown=[1, 2]) is Refresh.PATCH


def test_a_change_to_a_listing_that_cannot_join_needs_nothing():
    assert refresh_for(edit(listing(9)), APPROVED, shown=[1, 2]) is Refresh.NOTHING
    draft = listing(9, ListingStatus.DRAFT)
    assert refresh_for(edit(draft, fields=PRICE_EDIT | {"status"}), APPROVED,
                       shown=[1]) is Refresh.NOTHING


def test_a_listing_that_may_come_into_view_reloads():
    approved_now = edit(listing(9), fields=PRICE_EDIT | {"status"})
    assert refresh_for(approved_now, APPROVED, shown=[1]) is Refresh.RELOAD
    renamed = edit(listing(9), fields=frozenset({"title", "version"}))
    assert refresh_for(renamed, APPROVED, shown=[1]) is Refresh.RELOAD  # sorts by title
    searched = ListingQuery(search="lamp", statuses=APPROVED.statuses, sort=SortKey.ID)
    described = edit(listing(9), fields=frozenset({"description"}))
    assert refresh_for(described, searched, shown=[1]) is Refresh.RELOAD


def test_what_a_writer_leaves_out_means_anything():
    assert refresh_for(ListingsChanged(), APPROVED, shown=[1]) is Refresh.RELOAD
    no_fields = ListingsChanged(ids=frozenset({1}), listings=(listing(1),))
    assert refresh_for(no_fields, APPROVED, shown=[1]) is Refresh.RELOAD
    not_kept = ListingsChanged(ids=frozenset({1, 2}), fields=PRICE_EDIT,
                               listings=(listing(1),))
    assert refresh_for(not_kept, APPROVED, shown=[1]) is Refresh.RELOAD


def test_sync_and_checkout_changes():
    assert refresh_for(SyncChanged(frozenset({1})), APPROVED, shown=[]) is Refresh.RELOAD
    assert refresh_for(CheckoutAttemptChanged(4), APPROVED, shown=[1]) is Refresh.NOTHING
    assert listing_ids(SyncChanged(frozenset({3}))) == {3}
    assert listing_ids(CheckoutAttemptChanged(4)) == frozenset()


def test_a_failure_list_ignores_an_edit_that_is_not_a_failure():
    failures = ListingQuery(sync_states=frozenset({SyncState.FAILED}), sort=SortKey.UPDATED)
    pending = listing(5, sync_state=SyncState.PENDING)
    moved = PRICE_EDIT | {"sync_state"}
    assert refresh_for(edit(pending, fields=moved), failures, shown=[7]) is Refresh.NOTHING
    failed = listing(5, sync_state=SyncState.FAILED)
    assert refresh_for(edit(failed, fields=moved), failures, shown=[7]) is Refresh.RELOAD
