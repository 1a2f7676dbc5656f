"""The three-way merge of offline operations, as a pure function (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from uhadmin.domain import Listing, ListingStatus
from uhadmin.domain.offline import (
    FieldConflict,
    OfflineOperation,
    OperationKind,
    OperationState,
    Outcome,
    decide_merge,
    overlay,
    snapshot,
)

BASE = Listing(id=7, title="Lamp", description="Brass", price_minor=1000, currency="usd",
               status=ListingStatus.PENDING_REVIEW, version=3)


def edit(**changes) -> OfflineOperation:
    return OfflineOperation(id=1, listing_id=7, kind=OperationKind.EDIT, base_version=3,
                            base=snapshot(BASE), changes=changes, actor="ana",
                            created_at=datetime(2026, 1, 1, tzinfo=UTC))


def status(new: ListingStatus) -> OfflineOperation:
    return replace(edit(), kind=OperationKind.STATUS,
                   changes={"status": new.value, "reason": "checked"})


def test_nobody_else_changed_it_applies_mine() -> None:
    decision = decide_merge(edit(title="Desk lamp"), replace(BASE, version=3))
    assert decision.outcome is Outcome.APPLY
    assert decision.to_apply == {"title": "Desk lamp"}


def test_different_fields_on_each_side_merge() -> None:
    theirs = replace(BASE, description="Brass, 40 cm", version=4)
    decision = decide_merge(edit(title="Desk lamp"), theirs)
    assert decision.outcome is Outcome.MERGE
    assert decision.to_apply == {"title": "Desk lamp"}
    assert decision.kept_theirs == ("description",)


def test_same_field_on_both_sides_is_a_conflict_with_all_three_values() -> None:
    theirs = replace(BASE, title="Floor lamp", version=4)
    decision = decide_merge(edit(title="Desk lamp", price_minor=1200), theirs)
    assert decision.outcome is Outcome.CONFLICT
    assert decision.conflicts == (FieldConflict("title", "Lamp", "Floor lamp", "Desk lamp"),)
    assert decision.to_apply == {"price_minor": 1200}  # the untouched field still merges


def test_both_sides_made_the_same_change_is_no_conflict() -> None:
    theirs = replace(BASE, title="Desk lamp", version=4)
    decision = decide_merge(edit(title="Desk lamp"), theirs)
    assert decision.outcome is Outcome.APPLY
    assert decision.to_apply == {}


def test_images_compare_as_lists_whatever_the_sequence_type() -> None:
    mine = edit(image_urls=["https://img.example/a.png"])
    theirs = replace(BASE, image_urls=("https://img.example/a.png",), version=4)
    assert decide_merge(mine, theirs).to_apply == {}


def test_status_the_workflow_no_longer_allows_is_a_conflict() -> None:
    theirs = replace(BASE, status=ListingStatus.REJECTED, version=4)
    decision = decide_merge(status(ListingStatus.APPROVED), theirs)
    assert decision.outcome is Outcome.CONFLICT
    assert decision.conflicts[0].field == "status"
    assert "no longer allows rejected -> approved" in decision.note


def test_status_change_beside_their_edit_merges() -> None:
    theirs = replace(BASE, price_minor=900, version=4)
    decision = decide_merge(status(ListingStatus.APPROVED), theirs)
    assert decision.outcome is Outcome.MERGE
    assert decision.to_apply == {"status": "approved"}


def test_deleted_listing_is_a_conflict_that_keeps_mine() -> None:
    decision = decide_merge(edit(title="Desk lamp"), None)
    assert decision.outcome is Outcome.CONFLICT
    assert decision.conflicts[0].mine == "Desk lamp"
    assert "deleted" in decision.note


def test_overlay_shows_unsent_changes_only() -> None:
    pending = edit(title="Desk lamp")
    sent = replace(status(ListingStatus.APPROVED), state=OperationState.APPLIED)
    shown = overlay(BASE, [pending, sent])
    assert shown.title == "Desk lamp"
    assert shown.status is ListingStatus.PENDING_REVIEW
    assert shown.version == BASE.version
