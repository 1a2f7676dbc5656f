"""The Stripe sync engine: drain the outbox so every approved listing is in Stripe exactly once.

    sync = SyncService(db, bus, catalog, actor="alice")
    report = await sync.run(limit=None, dry_run=False, progress=callback, cancel=token)
    sync.status                       # SyncStatus(state, queued, message)
    sync.subscribe_status(callback)   # called with SyncStatus whenever online/offline changes
    auto = AutoSync(sync); auto.start(); auto.poke(); await auto.stop()

Modules, one job each: `planning` (what a push does, pure functions), `outbox` (scan, claims
with leases, what is left), `results` (writing Stripe's answers back), `push` (the calls to
Stripe), `holders` (the SQLite lock and dead holders), `sharing` (one rate limit shared by
all running syncs), `run` (one run and its report), `tally` (a run's counts and
progress), `auto` (the background loop).
Changes are queued only by `uhadmin.services.listing_writes`.

How one run works:
1. SQLite: take the catalog-wide sync lock in app_settings (one syncing process at a time;
   SyncBusyError says who holds it; a holder that died on this host is taken over at once).
   PostgreSQL: no global lock, see 3. Claims of dead processes on this host are freed.
2. Scan: every listing whose current fingerprint differs from `pushed_fingerprint` and has
   no pending outbox row gets one (rows the website wrote straight into the table). The
   schema allows one pending row per listing, so concurrent scans fold into one.
3. Claim a batch: outbox rows `FOR UPDATE SKIP LOCKED` (PostgreSQL), plus a lease per
   listing in `stripe_sync_claims` taken with one atomic upsert, so each listing is pushed
   by one worker at a time; a lease expires if its holder dies.
4. Save the idempotency keys of every call the batch may make (stripe_operations), in the
   claim's transaction, then send. Keys derive from (catalog, listing, revision, operation,
   content), so any retry, crash recovery or second worker reuses them. A row that breaks
   a listing rule is never sent: it is reported failed with field and rule.
5. Write each result as soon as it is known, with compare-and-set: `pushed_revision` only
   moves forward, and sync_state becomes "synced" only if the listing still has the
   version that was pushed; an edit made meanwhile stays pending and is pushed next.
6. When nothing is claimable but other admins hold queued listings, wait for them; the
   report says what is left and why, so nobody reads success while work remains.
"""

from uhadmin.domain.sync import CancelToken
from uhadmin.services.sync.auto import AutoSync
from uhadmin.services.sync.holders import SQLITE_LOCK_SETTING, SyncBusyError
from uhadmin.services.sync.outbox import CATALOG_ID_SETTING, CLAIMS, LISTINGS, OUTBOX
from uhadmin.services.sync.planning import plan_for
from uhadmin.services.sync.run import BATCH_SIZE, LEASE, SyncService

__all__ = [
    "AutoSync", "BATCH_SIZE", "CATALOG_ID_SETTING", "CLAIMS", "CancelToken",
    "LEASE", "LISTINGS", "OUTBOX", "SQLITE_LOCK_SETTING",
    "SyncBusyError", "SyncService", "plan_for",
]
