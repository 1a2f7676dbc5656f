"""ListingService on real SQLite and PostgreSQL: mutations, locking, audit, outbox, bus."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from uhadmin.domain import (
    ListingChanges,
    ListingStatus,
    NewListing,
    SyncState,
)
from uhadmin.domain.changes import Change, ListingsChanged
from uhadmin.errors import ConflictError, IllegalTransitionError, NotFoundError, ValidationError
from uhadmin.services.change_bus import ChangeBus
from uhadmin.services.listing_queries import row_in
from uhadmin.services.listing_writes import write_listing

pytestmark = pytest.mark.anyio


def bike(**overrides) -> NewListing:
    values = {"title": "Mountain bike", "price_minor": 12500, "currency": "usd",
              "description": "21 gears, barely used"}
    values.update(overrides)
    return NewListing(**values)


@pytest.fixture
def published(change_bus: ChangeBus) -> list[Change]:
    changes: list[Change] = []
    change_bus.subscribe(changes.append)
    return changes


def outbox(database) -> list[tuple[int, int]]:
    with database.session() as session:
        return [tuple(row) for row in session.execute(text(
            "SELECT listing_id, revision FROM stripe_changes ORDER BY id"))]


def count_rows(database, table: str) -> int:
    with database.session() as session:
        return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


async def test_create_stores_a_draft_audits_it_and_publishes(listing_service, database,
                                                             published):
    marker = object()
    listing = await listing_service.create(bike(image_urls=("https://img.example/1.jpg",)),
                                           actor="ana", initiator=marker)
    assert listing.id > 0
    assert (listing.title, listing.price_minor, listing.currency) == ("Mountain bike", 12500,
                                                                       "usd")
    assert listing.image_urls == ("https://img.example/1.jpg",)
    assert (listing.status, listing.version, listing.sync_state) == (
        ListingStatus.DRAFT, 1, SyncState.NOT_PUBLISHED)
    assert listing.created_by == listing.updated_by == "ana"
    assert listing.created_at.tzinfo is not None
    assert await listing_service.get(listing.id) == listing
    # A draft: nothing queued for Stripe, and the change carries the saved listing.
    assert published == [ListingsChanged(ids=frozenset({listing.id}), listings=(listing,),
                                         queue_moved=False, initiator=marker)]
    [entry] = await listing_service.history(listing.id)
    assert (entry.action, entry.actor, entry.entity, entry.entity_id) == (
        "create", "ana", "listing", str(listing.id))
    assert entry.details["fields"]["title"] == "Mountain bike"
    assert outbox(database) == []  # a draft is nothing Stripe should hold


async def test_create_with_approved_walks_the_state_machine(listing_service, database):
    listing = await listing_service.create(bike(status=ListingStatus.APPROVED), actor="ana")
    assert (listing.status, listing.version, listing.sync_state) == (
        ListingStatus.APPROVED, 3, SyncState.PENDING)
    history = await listing_service.history(listing.id)
    assert [(e.action, e.details.get("to")) for e in history] == [
        ("status", "approved"), ("status", "pending_review"), ("create", None)]
    assert outbox(database) == [(listing.id, 3)]
    assert await listing_service.queued_changes() == 1


async def test_invalid_listing_is_refused_before_anything_is_written(listing_service, database,
                                                                     published):
    with pytest.raises(ValidationError) as caught:
        await listing_service.create(bike(title="  ", price_minor=10), actor="ana")
    fields = {problem.field for problem in caught.value.problems}
    assert {"title", "price"} <= fields
    assert count_rows(database, "listings") == 0
    assert count_rows(database, "audit_log") == 0
    assert published == []


async def test_update_saves_changes_with_a_new_version_and_audit(listing_service, published):
    listing = await listing_service.create(bike(), actor="ana")
    updated = await listing_service.update(
        listing.id, ListingChanges(title="Road bike", price_minor=9900),
        expected_version=1, actor="ben")
    assert (updated.title, updated.price_minor, updated.version, updated.updated_by) == (
        "Road bike", 9900, 2, "ben")
    assert updated.description == listing.description
    entry = (await listing_service.history(listing.id))[0]
    assert (entry.action, entry.actor) == ("update", "ben")
    assert entry.details["changes"] == {"title": ["Mountain bike", "Road bike"],
                                        "price_minor": [12500, 9900]}
    assert published[-1].ids == frozenset({listing.id})


async def test_an_edit_publishes_the_fields_it_wrote_and_the_queue(listing_service,
                                                                    published):
    draft = await listing_service.create(bike(), actor="ana")
    await listing_service.update(draft.id, ListingChanges(price_minor=9900),
                                 expected_version=1, actor="ben")
    # A draft's edit queues nothing: nobody needs to count the queue again.
    assert published[-1].fields == {"price_minor", "version", "updated_at", "updated_by"}
    assert (published[-1].queue_moved, published[-1].queued) == (False, None)

    live = await listing_service.create(bike(status=ListingStatus.APPROVED), actor="ana")
    queued = await listing_service.queued_changes()
    edited = await listing_service.update(live.id, ListingChanges(price_minor=9900),
                                          expected_version=live.version, actor="ben")
    change = published[-1]
    assert isinstance(change, ListingsChanged) and change.listings == (edited,)
    assert {"price_minor", "version"} <= change.fields and "status" not in change.fields
    # Still the one queued push it was: the count comes along, read once by the writer.
    assert (change.queue_moved, change.queued) == (True, queued)


async def test_update_without_a_real_change_writes_nothing(listing_service, published):
    listing = await listing_service.create(bike(), actor="ana")
    same = await listing_service.update(listing.id, ListingChanges(title="Mountain bike"),
                                        expected_version=1, actor="ben")
    assert same.version == 1
    assert len(await listing_service.history(listing.id)) == 1
    assert len(published) == 1  # only the create


async def test_stale_update_is_a_conflict_naming_the_listing(listing_service):
    listing = await listing_service.create(bike(), actor="ana")
    await listing_service.update(listing.id, ListingChanges(title="First save"),
                                 expected_version=1, actor="ana")
    with pytest.raises(ConflictError) as caught:
        await listing_service.update(listing.id, ListingChanges(title="Stale save"),
                                     expected_version=1, actor="ben")
    assert caught.value.listing_id == listing.id
    assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
    assert f"listing {listing.id}" in str(caught.value)
    assert (await listing_service.get(listing.id)).title == "First save"


async def test_two_simultaneous_saves_of_one_version_never_both_win(listing_service):
    listing = await listing_service.create(bike(), actor="ana")
    results = await asyncio.gather(
        *(listing_service.update(listing.id, ListingChanges(title=f"Save {n}"),
                                 expected_version=1, actor=f"user{n}") for n in range(4)),
        return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and all(isinstance(e, ConflictError) for e in losers)
    stored = await listing_service.get(listing.id)
    assert (stored.title, stored.version) == (winners[0].title, 2)


async def test_the_update_guard_refuses_a_row_that_moved_after_it_was_read(
        listing_service, database):
    """UPDATE ... WHERE version = ?: the last line of defence when another writer (the
    website, another admin) saves between our read and our write."""
    listing = await listing_service.create(bike(), actor="ana")
    with database.session(write=True) as session:
        before = row_in(session, listing.id)
        session.execute(text("UPDATE listings SET title = 'website', version = version + 1 "
                             "WHERE id = :id"), {"id": listing.id})
        with pytest.raises(ConflictError) as caught:
            write_listing(session, before, {"title": "ours"}, actor="ana", action="update",
                          details={}, now=listing.created_at)
    assert (caught.value.listing_id, caught.value.actual_version) == (listing.id, 2)


async def test_update_of_missing_listing_is_not_found(listing_service):
    with pytest.raises(NotFoundError, match="listing 404"):
        await listing_service.update(404, ListingChanges(title="x"), expected_version=1,
                                     actor="ana")


async def test_update_price_is_checked_against_the_stored_currency(listing_service):
    listing = await listing_service.create(bike(), actor="ana")
    with pytest.raises(ValidationError, match="price"):
        await listing_service.update(listing.id, ListingChanges(price_minor=10),
                                     expected_version=1, actor="ana")


async def test_editing_a_draft_queues_nothing_but_editing_an_approved_listing_does(
        listing_service, database):
    draft = await listing_service.create(bike(), actor="ana")
    draft = await listing_service.update(draft.id, ListingChanges(price_minor=1000),
                                         expected_version=1, actor="ana")
    assert draft.sync_state == SyncState.NOT_PUBLISHED and outbox(database) == []

    live = await listing_service.create(bike(status=ListingStatus.APPROVED), actor="ana")
    with database.session(write=True) as session:  # the sync engine pushed it
        session.execute(text("UPDATE listings SET sync_state = 'synced', "
                             "stripe_product_id = 'prod_1' WHERE id = :id"), {"id": live.id})
    live = await listing_service.update(live.id, ListingChanges(title="Faster bike"),
                                        expected_version=live.version, actor="ana")
    assert live.sync_state == SyncState.PENDING
    # One pending change per listing: the edit moves the queued row to the newer revision.
    assert outbox(database) == [(live.id, 4)]


async def test_status_changes_follow_the_state_machine(listing_service, database):
    listing = await listing_service.create(bike(), actor="ana")
    with pytest.raises(IllegalTransitionError, match="draft to approved"):
        await listing_service.change_status(listing.id, ListingStatus.APPROVED, actor="ana")
    assert (await listing_service.get(listing.id)).version == 1

    listing = await listing_service.change_status(listing.id, ListingStatus.PENDING_REVIEW,
                                                  actor="ana")
    assert listing.sync_state == SyncState.NOT_PUBLISHED and outbox(database) == []
    listing = await listing_service.change_status(listing.id, ListingStatus.APPROVED,
                                                  actor="rev", expected_version=2)
    assert (listing.status, listing.sync_state) == (ListingStatus.APPROVED, SyncState.PENDING)
    listing = await listing_service.change_status(listing.id, ListingStatus.ARCHIVED,
                                                  actor="rev", reason="sold elsewhere")
    assert outbox(database) == [(listing.id, 4)]  # one pending change, newest revision
    entry = (await listing_service.history(listing.id))[0]
    # The version names the change for an undo.
    assert entry.details == {"from": "approved", "to": "archived", "reason": "sold elsewhere",
                             "version": 4}


async def test_rejecting_keeps_the_reason_and_stale_status_change_conflicts(listing_service):
    listing = await listing_service.create(bike(status=ListingStatus.PENDING_REVIEW),
                                           actor="ana")
    with pytest.raises(ConflictError):
        await listing_service.change_status(listing.id, ListingStatus.REJECTED, actor="rev",
                                            expected_version=1)
    rejected = await listing_service.change_status(
        listing.id, ListingStatus.REJECTED, actor="rev", expected_version=listing.version,
        reason="blurry photos")
    assert (rejected.status, rejected.rejection_reason) == (ListingStatus.REJECTED,
                                                            "blurry photos")
    assert rejected.sync_state == SyncState.NOT_PUBLISHED


async def test_a_rejection_needs_a_reason_on_every_path(listing_service, database,
                                                      published):
    listing = await listing_service.create(bike(status=ListingStatus.PENDING_REVIEW),
                                           actor="ana")
    published.clear()
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as single:
            await listing_service.change_status(listing.id, ListingStatus.REJECTED,
                                                actor="rev", reason=reason)
        assert single.value.problems[0].field == "reason"
        with pytest.raises(ValidationError):
            await listing_service.change_status_many([listing.id], ListingStatus.REJECTED,
                                                     actor="rev", reason=reason)
    with pytest.raises(ValidationError):
        await listing_service.create(bike(status=ListingStatus.REJECTED), actor="ana")
    assert (await listing_service.get(listing.id)).status == ListingStatus.PENDING_REVIEW
    assert published == []  # nothing was written, so nothing was announced


async def test_a_rejected_listing_goes_back_to_draft_for_the_seller(listing_service):
    listing = await listing_service.create(bike(status=ListingStatus.PENDING_REVIEW),
                                           actor="ana")
    await listing_service.change_status(listing.id, ListingStatus.REJECTED, actor="rev",
                                        reason="blurry photos")
    draft = await listing_service.change_status(listing.id, ListingStatus.DRAFT, actor="ana")
    assert (draft.status, draft.sync_state) == (ListingStatus.DRAFT, SyncState.NOT_PUBLISHED)
    again = await listing_service.change_status(draft.id, ListingStatus.PENDING_REVIEW,
                                                actor="ana")
    assert again.status == ListingStatus.PENDING_REVIEW
    entry = (await listing_service.history(listing.id))[1]
    assert entry.details == {"from": "rejected", "to": "draft", "version": 4}
    with pytest.raises(IllegalTransitionError, match="cannot go from pending_review to draft"):
        await listing_service.change_status(again.id, ListingStatus.DRAFT, actor="ana")


async def test_bulk_status_change_reports_each_failure_and_applies_the_rest(
        listing_service, published):
    ready = [await listing_service.create(bike(title=f"Lamp {n}",
                                               status=ListingStatus.PENDING_REVIEW),
                                          actor="ana") for n in range(3)]
    draft = await listing_service.create(bike(), actor="ana")
    published.clear()
    result = await listing_service.change_status_many(
        [*(x.id for x in ready), draft.id, 9999, ready[0].id], ListingStatus.APPROVED,
        actor="rev")
    assert [x.id for x in result.succeeded] == [x.id for x in ready]
    assert all(x.status == ListingStatus.APPROVED for x in result.succeeded)
    assert set(result.failed) == {draft.id, 9999}
    assert "draft to approved" in result.failed[draft.id]
    assert "9999" in result.failed[9999]
    assert (await listing_service.get(draft.id)).status == ListingStatus.DRAFT
    [change] = published
    assert isinstance(change, ListingsChanged) and change.initiator is None
    assert change.ids == {x.id for x in ready} and change.listings == result.succeeded
    assert "status" in change.fields
    # Approved listings wait for Stripe: the queue's new length is counted once, here.
    assert change.queue_moved and change.queued == await listing_service.queued_changes()


async def test_only_never_published_drafts_can_be_deleted(listing_service, database):
    draft = await listing_service.create(bike(), actor="ana")
    await listing_service.delete_draft(draft.id, actor="ana")
    with pytest.raises(NotFoundError):
        await listing_service.get(draft.id)
    assert (await listing_service.history(draft.id))[0].action == "delete"

    in_review = await listing_service.create(bike(status=ListingStatus.PENDING_REVIEW),
                                             actor="ana")
    with pytest.raises(IllegalTransitionError, match="only a draft"):
        await listing_service.delete_draft(in_review.id, actor="ana")

    pushed = await listing_service.create(bike(), actor="ana")
    with database.session(write=True) as session:
        session.execute(text("UPDATE listings SET stripe_product_id = 'prod_x' WHERE id = :id"),
                        {"id": pushed.id})
    with pytest.raises(IllegalTransitionError, match="published"):
        await listing_service.delete_draft(pushed.id, actor="ana")


async def test_count_by_status_lists_every_status(listing_service):
    await listing_service.create(bike(), actor="ana")
    await listing_service.create(bike(status=ListingStatus.APPROVED), actor="ana")
    await listing_service.create(bike(status=ListingStatus.APPROVED), actor="ana")
    counts = await listing_service.count_by_status()
    assert counts == {ListingStatus.DRAFT: 1, ListingStatus.PENDING_REVIEW: 0,
                      ListingStatus.APPROVED: 2, ListingStatus.REJECTED: 0,
                      ListingStatus.ARCHIVED: 0}


def test_a_failing_subscriber_does_not_stop_the_others():
    bus = ChangeBus()
    seen: list[Change] = []

    def broken(_change: Change) -> None:
        raise RuntimeError("view already closed")

    bus.subscribe(broken)
    unsubscribe = bus.subscribe(seen.append)
    bus.publish(ListingsChanged(frozenset({1})))
    unsubscribe()
    bus.publish(ListingsChanged(frozenset({2})))
    assert seen == [ListingsChanged(frozenset({1}))]
