"""Replay offline operations through the ListingService, three-way merged, every outcome audited."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any, Literal, Protocol

from uhadmin.domain.listing import Listing, ListingChanges, ListingStatus
from uhadmin.domain.offline import (
    FieldConflict,
    MergeDecision,
    OfflineOperation,
    OperationState,
    Outcome,
    PushReport,
    comparable,
    decide_merge,
)
from uhadmin.errors import (
    ConflictError,
    IllegalTransitionError,
    NotFoundError,
    UhadminError,
    ValidationError,
)
from uhadmin.services.database import WORKER_THREADS
from uhadmin.services.offline.replica import Replica

# Listings replayed side by side: as many as the database has worker threads, so each
# round trip of one listing overlaps the others' (a listing's own operations stay in order).
CONCURRENT_LISTINGS = WORKER_THREADS

# Outcomes are audited and marked in the replica in batches this large (two transactions
# per batch instead of two per operation).
RECORD_EVERY = 100

# Someone saving between our read and our write makes us decide again on the newer
# version; after this many rounds the operation waits for the next push.
MAX_ROUNDS = 5


class ListingWriter(Protocol):
    """The public ListingService methods a replay uses (the one write path beneath them)."""

    async def get(self, listing_id: int) -> Listing: ...
    async def update(self, listing_id: int, changes: ListingChanges, *, expected_version: int,
                     actor: str, initiator: object | None = None) -> Listing: ...
    async def change_status(self, listing_id: int, new_status: ListingStatus, *, actor: str,
                            expected_version: int | None = None, reason: str = "",
                            initiator: object | None = None) -> Listing: ...
    async def record_outcomes(self, entries: Sequence[Mapping[str, Any]], *,
                              initiator: object | None = None) -> None: ...


def _current(listing: Listing, name: str) -> Any:
    return str(listing.status) if name == "status" else _jsonable(getattr(listing, name))


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


async def _write(listings: ListingWriter, listing: Listing, values: Mapping[str, Any], *,
                 actor: str, reason: str) -> Listing:
    """Write `values` over `listing` (at its version) through the service: fields, then status."""
    fields = {name: value for name, value in values.items() if name != "status"}
    if fields:
        if "image_urls" in fields:
            fields["image_urls"] = tuple(fields["image_urls"])
        listing = await listings.update(listing.id, ListingChanges(**fields),
                                        expected_version=listing.version, actor=actor)
    if "status" in values:
        listing = await listings.change_status(listing.id, ListingStatus(values["status"]),
                                               actor=actor, expected_version=listing.version,
                                               reason=reason)
    return listing


def _details(operation: OfflineOperation, decision: MergeDecision) -> dict[str, Any]:
    details: dict[str, Any] = {
        "offline_operation": operation.id, "made_at": operation.created_at.isoformat(),
        "base_version": operation.base_version,
        "mine": {name: _jsonable(value) for name, value in operation.mine.items()},
        "written": {name: _jsonable(value) for name, value in decision.to_apply.items()},
    }
    if decision.kept_theirs:
        details["kept_theirs"] = list(decision.kept_theirs)
    if decision.conflicts:
        details["conflicts"] = _conflicts_json(decision.conflicts)
    if decision.note:
        details["note"] = decision.note
    return details


def _conflicts_json(conflicts: tuple[FieldConflict, ...]) -> list[dict[str, Any]]:
    return [{key: _jsonable(value) for key, value in asdict(c).items()} for c in conflicts]


class OfflinePush:
    """Sends the replica's pending operations to the catalog, oldest first."""

    def __init__(self, replica: Replica, listings: ListingWriter) -> None:
        self._replica = replica
        self._listings = listings

    async def push(self) -> PushReport:
        """Replay every pending operation, each listing's in the order they were made (the
        listings side by side); a conflict holds back the later operations on the same
        listing (they were made on top of it) until a person resolves it."""
        held = {op.listing_id for op in await self._replica.operations((OperationState.CONFLICT,))}
        by_listing: dict[int, list[OfflineOperation]] = {}
        for operation in await self._replica.operations((OperationState.PENDING,)):
            by_listing.setdefault(operation.listing_id, []).append(operation)
        states: list[OperationState] = []
        conflicts: list[OfflineOperation] = []
        settled: list[tuple[OfflineOperation, OperationState, MergeDecision]] = []
        gate = asyncio.Semaphore(CONCURRENT_LISTINGS)

        async def replay_listing(operations: list[OfflineOperation]) -> None:
            async with gate:
                for operation in operations:
                    if operation.listing_id in held:
                        states.append(OperationState.PENDING)
                        continue
                    state, decision = await self._replay(operation)
                    states.append(state)
                    if decision is None:
                        continue
                    settled.append((operation, state, decision))
                    if state is OperationState.CONFLICT:
                        held.add(operation.listing_id)
                        conflicts.append(replace(operation, state=state, note=decision.note,
                                                 conflicts=decision.conflicts))
                    if len(settled) >= RECORD_EVERY:
                        batch = settled[:]
                        settled.clear()
                        await self._record(batch)

        try:
            await asyncio.gather(*(replay_listing(ops) for ops in by_listing.values()))
        finally:
            await self._record(settled)
        return PushReport(applied=states.count(OperationState.APPLIED),
                          merged=states.count(OperationState.MERGED),
                          conflicts=tuple(sorted(conflicts, key=lambda op: op.id)),
                          waiting=states.count(OperationState.PENDING))

    async def _replay(self, operation: OfflineOperation
                      ) -> tuple[OperationState, MergeDecision | None]:
        reason = str(operation.changes.get("reason", ""))
        for _round in range(MAX_ROUNDS):
            try:
                theirs: Listing | None = await self._listings.get(operation.listing_id)
            except NotFoundError:
                theirs = None
            decision = decide_merge(operation, theirs)
            try:
                if decision.to_apply and theirs is not None:
                    await _write(self._listings, theirs, decision.to_apply,
                                 actor=operation.actor, reason=reason)
            except ConflictError:
                continue  # saved by someone in between: decide again on what they saved
            except (IllegalTransitionError, ValidationError) as error:
                # Refused by a rule the merge does not know (a price that no longer suits
                # the currency they set): a conflict for a person, never a lost change.
                decision = MergeDecision(Outcome.CONFLICT, conflicts=tuple(
                    FieldConflict(name, operation.base.get(name),
                                  None if theirs is None else _current(theirs, name), value)
                    for name, value in decision.to_apply.items()), note=str(error))
            state = {Outcome.APPLY: OperationState.APPLIED, Outcome.MERGE: OperationState.MERGED,
                     Outcome.CONFLICT: OperationState.CONFLICT}[decision.outcome]
            return state, decision
        return OperationState.PENDING, None

    async def _record(self, batch: list[tuple[OfflineOperation, OperationState, MergeDecision]]
                      ) -> None:
        """Audit, then mark in the replica, a batch of outcomes (one transaction each).
        A crash in between only replays those operations again: each then finds its values
        already in the catalog, writes nothing and is recorded then."""
        if not batch:
            return
        await self._listings.record_outcomes([
            {"listing_id": operation.listing_id, "action": f"offline_{state.value}",
             "details": _details(operation, decision), "actor": operation.actor}
            for operation, state, decision in batch])
        await self._replica.settle_many([
            (operation.id, state, decision.conflicts, decision.note)
            for operation, state, decision in batch])

    async def resolve(self, operation_id: int, *, take: Literal["mine", "theirs"],
                      values: Mapping[str, Any] | None = None, actor: str) -> OfflineOperation:
        """Settle a conflict: keep the catalog's values ("theirs"), or write mine — or the
        values a person edited — over the listing as it is now."""
        operation = await self._replica.operation(operation_id)
        if operation.state is not OperationState.CONFLICT:
            raise UhadminError(f"offline operation {operation_id} is {operation.state}, "
                               "not a conflict: nothing to resolve")
        chosen: dict[str, Any] = {}
        if take == "mine":
            chosen = {c.field: c.mine for c in operation.conflicts}
            chosen.update(values or {})
        if chosen:
            try:
                theirs = await self._listings.get(operation.listing_id)
            except NotFoundError:
                raise UhadminError(f"listing {operation.listing_id} was deleted in the "
                                   "catalog: only --take theirs can settle this") from None
            moved = [c.field for c in operation.conflicts
                     if comparable(_current(theirs, c.field)) != comparable(c.theirs)]
            if moved:
                # Shown again with their latest values: a person decides on what is there.
                await self._replica.settle(operation.id, OperationState.CONFLICT, note=(
                    operation.note), conflicts=tuple(
                    replace(c, theirs=_current(theirs, c.field)) for c in operation.conflicts))
                raise UhadminError(
                    f"listing {operation.listing_id} changed again in the catalog "
                    f"({', '.join(moved)}) since this conflict was found; the conflict now "
                    "shows their latest values: look again, then resolve")
            still = {name: value for name, value in chosen.items()
                     if comparable(value) != comparable(_current(theirs, name))}
            if still:
                await _write(self._listings, theirs, still, actor=actor,
                             reason=str(operation.changes.get("reason", "")))
        await self._listings.record_outcomes([{
            "listing_id": operation.listing_id, "action": "offline_resolved",
            "actor": actor, "details": {
                "offline_operation": operation.id, "took": take if not values else "edited",
                "written": {name: _jsonable(value) for name, value in chosen.items()},
                "conflicts": _conflicts_json(operation.conflicts)}}])
        await self._replica.settle(operation.id, OperationState.RESOLVED,
                                   conflicts=operation.conflicts,
                                   note=f"resolved: took {take}")
        return await self._replica.operation(operation.id)
