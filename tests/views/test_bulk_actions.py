"""Which bulk actions ask first, and what they say: pure decisions, no Qt needed."""

from __future__ import annotations

from uhadmin.domain import BulkResult, Listing, ListingQuery, ListingStatus, SyncState
from uhadmin.domain.filtering import matches_filters
from uhadmin.views.bulk_actions import BULK_KINDS, confirmation_text, eligible, summarize_bulk


def listing(listing_id: int, status: ListingStatus,
            sync_state: SyncState = SyncState.NOT_PUBLISHED) -> Listing:
    return Listing(id=listing_id, title=f"Lamp {listing_id}", description="", price_minor=800,
                   currency="usd", status=status, sync_state=sync_state)


def test_one_focused_row_and_safe_batches_need_no_question():
    assert confirmation_text(BULK_KINDS["archive"], 1, 1) is None
    assert confirmation_text(BULK_KINDS["approve"], 50, 50) is None
    assert confirmation_text(BULK_KINDS["draft"], 3, 3) is None


def test_destructive_batches_and_mixed_selections_ask_with_the_count():
    assert confirmation_text(BULK_KINDS["archive"], 50, 50) == "Archive 50 listings?"
    assert confirmation_text(BULK_KINDS["reject"], 2, 2) == "Reject 2 listings?"
    mixed = confirmation_text(BULK_KINDS["approve"], 1, 4)
    assert mixed == ("Approve 1 listing?\n\nThe other 3 listings selected are not pending "
                     "review and stay as they are.")
    assert confirmation_text(BULK_KINDS["submit"], 2, 3).startswith(
        "Submit 2 listings for review?")


def test_only_listings_the_action_can_move_are_sent():
    selected = [listing(1, ListingStatus.PENDING_REVIEW), listing(2, ListingStatus.DRAFT),
                listing(3, ListingStatus.REJECTED)]
    assert [x.id for x in eligible(BULK_KINDS["approve"], selected)] == [1]
    assert [x.id for x in eligible(BULK_KINDS["draft"], selected)] == [3]


def test_summary_counts_what_changed_and_names_each_failure():
    result = BulkResult(succeeded=(listing(1, ListingStatus.DRAFT),),
                        failed={7: "status: cannot go from approved to draft"})
    summary, details = summarize_bulk(BULK_KINDS["draft"], result, {7: "Fan"})
    assert summary == "Returned 1 listing to draft; 1 could not be changed"
    assert details == "#7 Fan: status: cannot go from approved to draft"


def test_a_listing_matches_a_query_by_status_and_sync_state():
    pending = listing(1, ListingStatus.PENDING_REVIEW)
    approved = listing(2, ListingStatus.APPROVED, SyncState.PENDING)
    review = ListingQuery(statuses=frozenset({ListingStatus.PENDING_REVIEW}))
    assert matches_filters(pending, review) and not matches_filters(approved, review)
    queued = ListingQuery(sync_states=frozenset({SyncState.PENDING}))
    assert matches_filters(approved, queued) and not matches_filters(pending, queued)
    assert matches_filters(approved, ListingQuery(search="anything"))
