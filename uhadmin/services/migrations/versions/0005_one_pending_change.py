"""At most one pending outbox row per listing (a partial unique index), and sync heartbeats.

Several admins syncing one PostgreSQL catalog each queued their own row for the same
listing (1,500 rows for 300 listings); the write path now upserts into the one pending row,
and the schema refuses a second. Existing duplicates are folded first: the newest pending
row of a listing stays, carrying the highest revision; the others are marked done.

`stripe_sync_workers` holds one heartbeat row per running sync, so processes sharing one
Stripe rate limit can each pace at limit / running syncs.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

PENDING = sa.text("done_at IS NULL")


def upgrade() -> None:
    op.execute(
        "UPDATE stripe_changes SET revision = (SELECT MAX(other.revision) FROM stripe_changes "
        "AS other WHERE other.listing_id = stripe_changes.listing_id AND other.done_at IS NULL) "
        "WHERE done_at IS NULL")
    op.execute(
        "UPDATE stripe_changes SET done_at = CURRENT_TIMESTAMP, claimed_by = NULL, "
        "lease_until = NULL WHERE done_at IS NULL AND id < (SELECT MAX(other.id) FROM "
        "stripe_changes AS other WHERE other.listing_id = stripe_changes.listing_id "
        "AND other.done_at IS NULL)")
    op.create_index('ux_stripe_changes_one_pending', 'stripe_changes', ['listing_id'],
                    unique=True, sqlite_where=PENDING, postgresql_where=PENDING)
    op.create_table(
        'stripe_sync_workers',
        sa.Column('holder', sa.String(length=100), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('holder'),
    )


def downgrade() -> None:
    op.drop_table('stripe_sync_workers')
    op.drop_index('ux_stripe_changes_one_pending', table_name='stripe_changes')
