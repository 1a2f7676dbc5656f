"""What one results transaction leaves in the outbox and the claims, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from uhadmin.domain import ListingChanges, ListingStatus, NewListing
from uhadmin.services.database import Database
from uhadmin.services.listings import ListingService
from uhadmin.services.sync.outbox import OutboxStore
from uhadmin.services.sync.planning import PushOutcome
from uhadmin.services.sync.results import write_results_in

pytestmark = pytest.mark.anyio

HOLDER = "tester:1:host"


def created(work) -> PushOutcome:
    return PushOutcome(work.listing_id, work.version, "created", work.fingerprint,
                       f"prod_{work.listing_id}", f"price_{work.listing_id}",
                       (work.desired.unit_amount, work.desired.currency), True,
                       {work.operation("create"): f"prod_{work.listing_id}"})


def state(database: Database, table: str, listing_id: int) -> dict:
    with database.session() as session:
        return dict(session.execute(text(f"SELECT * FROM {table} WHERE listing_id = :id"),
                                    {"id": listing_id}).mappings().one())


async def test_pushed_results_finish_their_change_and_release_only_their_claims(
        database: Database, listing_service: ListingService) -> None:
    made = [await listing_service.create(NewListing(
        title=f"Book {number}", price_minor=1000 + number, currency="usd",
        status=ListingStatus.APPROVED), actor="seller") for number in range(4)]
    done, edited, taken, failed = (listing.id for listing in made)
    store = OutboxStore(database, lease=timedelta(minutes=5))
    catalog_id = await store.catalog_id()
    with database.session(write=True) as session:
        works = {work.listing_id: work for work in store._claim_in(
            session, holder=HOLDER, size=10, catalog_id=catalog_id, only=None)}
    assert set(works) == {done, edited, taken, failed}
    # Edited while at Stripe: its pending change now carries the newer revision.
    current = await listing_service.get(edited)
    newer = await listing_service.update(edited, ListingChanges(title="Edited meanwhile"),
                                         expected_version=current.version, actor="staff")
    # Another admin's sync took this claim over meanwhile (our lease ran out).
    with database.session(write=True) as session:
        session.execute(text("UPDATE stripe_sync_claims SET holder = 'other:2:host' "
                             "WHERE listing_id = :id"), {"id": taken})
    refused = PushOutcome(failed, works[failed].version, "failed", error="Stripe refused")
    with database.session(write=True) as session:
        write_results_in(session, outcomes=[created(works[done]), created(works[edited]),
                                            created(works[taken]), refused],
                         holder=HOLDER, actor="tester")

    finished = state(database, "stripe_changes", done)
    assert finished["done_at"] is not None and finished["lease_until"] is None
    handed_back = state(database, "stripe_changes", edited)
    assert handed_back["done_at"] is None and handed_back["revision"] == newer.version
    assert handed_back["claimed_by"] is None and handed_back["lease_until"] is None

    for listing_id in (done, edited):
        claim = state(database, "stripe_sync_claims", listing_id)
        assert claim["holder"] is None and claim["lease_until"] is None
        assert claim["pushed_revision"] == works[listing_id].version
    others = state(database, "stripe_sync_claims", taken)
    assert others["holder"] == "other:2:host" and others["lease_until"] is not None
    assert others["pushed_revision"] == works[taken].version
    refused_claim = state(database, "stripe_sync_claims", failed)
    assert refused_claim["holder"] is None and refused_claim["pushed_revision"] is None

    # A result for an older revision never lowers the pushed revision.
    with database.session(write=True) as session:
        write_results_in(session, outcomes=[created(works[done])], holder=HOLDER,
                         actor="tester")
        session.execute(text("UPDATE stripe_sync_claims SET pushed_revision = 99 "
                             "WHERE listing_id = :id"), {"id": done})
        write_results_in(session, outcomes=[created(works[done])], holder=HOLDER,
                         actor="tester")
    assert state(database, "stripe_sync_claims", done)["pushed_revision"] == 99
