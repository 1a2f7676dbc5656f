"""Acting on everything a filter matches, in batches, and undoing it from the audit log, on
real SQLite and PostgreSQL: counts of what changed and what was skipped and why, progress,
Cancel between batches, and an undo that never overwrites a later save."""

from __future__ import annotations

import pytest
from catalog_seed import seed
from sqlalchemy import text

from uhadmin.domain import CancelToken, ListingChanges, ListingQuery, ListingStatus, NewListing
from uhadmin.domain.bulk import BulkProgress, ListingVersion, skip_summary
from uhadmin.errors import ValidationError
from uhadmin.services.listing_bulk import BULK_BATCH_SIZE

pytestmark = pytest.mark.anyio

PENDING = ListingQuery(statuses=frozenset({ListingStatus.PENDING_REVIEW}))


def statuses(database) -> dict[str, int]:
    with database.session() as session:
        return dict(session.execute(text(
            "SELECT status, count(*) FROM listings GROUP BY status")).all())


@pytest.mark.slow  # 450 listings through the one write path, in three batches
async def test_every_match_of_the_filter_moves_in_batches_with_progress(listing_service,
                                                                         database):
    seed(database, BULK_BATCH_SIZE * 2 + 50, "pending_review")
    seed(database, 7, "draft", "Kettle")
    progress: list[BulkProgress] = []
    outcome = await listing_service.change_status_matching(
        PENDING, ListingStatus.APPROVED, actor="rev", on_progress=progress.append)
    assert (outcome.total, len(outcome.changed), outcome.skipped) == (450, 450, {})
    assert not outcome.cancelled and outcome.not_reached == 0
    assert [p.done for p in progress] == [200, 400, 450]
    assert statuses(database) == {"approved": 450, "draft": 7}
    # Each listing went through the one write path: new version, audit row, outbox row.
    assert {x.version for x in outcome.changed} == {2}
    history = await listing_service.history(outcome.changed[0].listing_id)
    assert (history[0].action, history[0].details["version"]) == ("status", 2)
    assert await listing_service.queued_changes() == 450


async def test_what_cannot_move_is_skipped_and_counted_by_reason(listing_service, database):
    seed(database, 3, "pending_review")
    seed(database, 2, "approved", "Desk")
    seed(database, 1, "draft", "Mug")
    outcome = await listing_service.change_status_matching(
        ListingQuery(), ListingStatus.APPROVED, actor="rev")
    assert (outcome.total, len(outcome.changed)) == (6, 3)
    assert skip_summary(outcome.skipped) == ("skipped 2: already approved; "
                                             "1: draft, cannot become approved")


async def test_the_search_text_narrows_what_is_acted_on(listing_service, database):
    seed(database, 4, "pending_review", "Lamp")
    seed(database, 3, "pending_review", "Kettle")
    outcome = await listing_service.change_status_matching(
        ListingQuery(search="kettle", statuses=PENDING.statuses), ListingStatus.APPROVED,
        actor="rev")
    assert len(outcome.changed) == 3
    assert statuses(database) == {"approved": 3, "pending_review": 4}


async def test_cancel_stops_between_batches_and_what_was_done_is_counted(listing_service,
                                                                          database):
    seed(database, BULK_BATCH_SIZE * 3, "pending_review")
    token = CancelToken()
    outcome = await listing_service.change_status_matching(
        PENDING, ListingStatus.APPROVED, actor="rev",
        on_progress=lambda _progress: token.cancel(), cancel=token)
    assert outcome.cancelled and len(outcome.changed) == BULK_BATCH_SIZE
    assert outcome.not_reached == BULK_BATCH_SIZE * 2
    assert statuses(database)["approved"] == BULK_BATCH_SIZE


async def test_a_rejection_of_every_match_needs_a_reason_before_anything_moves(
        listing_service, database):
    seed(database, 3, "pending_review")
    with pytest.raises(ValidationError, match="reason"):
        await listing_service.change_status_matching(PENDING, ListingStatus.REJECTED,
                                                     actor="rev")
    assert statuses(database) == {"pending_review": 3}


async def test_undo_puts_back_what_was_changed_except_what_someone_saved_since(
        listing_service, database):
    seed(database, 4, "pending_review")
    approved = await listing_service.change_status_matching(PENDING, ListingStatus.APPROVED,
                                                            actor="rev")
    edited = approved.changed[0].listing_id
    current = await listing_service.get(edited)
    await listing_service.update(edited, ListingChanges(title="Lamp (fixed)"),
                                 expected_version=current.version, actor="bob@hawaii.edu")

    undone = await listing_service.revert(approved.changed, actor="rev")
    assert len(undone.changed) == 3
    assert undone.skipped == {edited: "changed since by bob@hawaii.edu"}
    assert statuses(database) == {"pending_review": 3, "approved": 1}
    assert (await listing_service.get(edited)).title == "Lamp (fixed)"  # bob's save stays
    entry = (await listing_service.history(undone.changed[0].listing_id))[0]
    assert entry.action == "undo" and entry.details["changes"] == {
        "status": ["approved", "pending_review"]}

    redone = await listing_service.revert(undone.changed, actor="rev")  # a redo
    assert len(redone.changed) == 3 and not redone.skipped
    assert statuses(database) == {"approved": 4}


async def test_undo_of_an_edit_and_of_a_rejection_restores_every_field(listing_service):
    listing = await listing_service.create(
        NewListing(title="Bike", price_minor=9000, currency="usd",
                   status=ListingStatus.PENDING_REVIEW), actor="ana")
    edited = await listing_service.update(
        listing.id, ListingChanges(title="Road bike", price_minor=9900),
        expected_version=listing.version, actor="rev")
    rejected = await listing_service.change_status(listing.id, ListingStatus.REJECTED,
                                                   actor="rev", reason="blurry photo")
    await listing_service.revert([ListingVersion(listing.id, rejected.version)], actor="rev")
    back = await listing_service.get(listing.id)
    assert (back.status, back.rejection_reason) == (ListingStatus.PENDING_REVIEW, "")
    # The edit is no longer the listing's latest change: its version moved on.
    stale = await listing_service.revert([ListingVersion(listing.id, edited.version)],
                                         actor="rev")
    assert stale.skipped == {listing.id: "changed since by rev"} and not stale.changed
    undo_edit = await listing_service.revert([ListingVersion(listing.id, back.version)],
                                             actor="rev")  # undo the undo: rejected again
    assert (await listing_service.get(listing.id)).rejection_reason == "blurry photo"
    assert len(undo_edit.changed) == 1
