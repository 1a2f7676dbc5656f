"""Catalog schema: listings, Stripe outbox, checkout, audit, and full-text search.

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 07:22:38.594004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_settings',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('entity', sa.String(length=50), nullable=False),
    sa.Column('entity_id', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_entity', 'audit_log', ['entity', 'entity_id', 'at'], unique=False)
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)

    op.create_table('checkout_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('attempt_key', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=255), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('line_items', sa.JSON(), nullable=False),
    sa.Column('amount_total', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('tester', sa.String(length=200), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('payment_status', sa.String(length=30), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('decline_code', sa.String(length=100), nullable=False),
    sa.Column('decline_message', sa.Text(), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('attempt_key'),
    sa.UniqueConstraint('session_id')
    )
    op.create_index('ix_checkout_attempts_created_at', 'checkout_attempts', ['created_at'], unique=False)

    op.create_table('listings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('title', sa.String(length=5000), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='usd', nullable=False),
    sa.Column('image_urls', sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('seller_contact', sa.String(length=320), server_default='', nullable=False),
    sa.Column('category', sa.String(length=100), server_default='', nullable=False),
    sa.Column('condition', sa.String(length=50), server_default='', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('rejection_reason', sa.Text(), server_default='', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('created_by', sa.String(length=200), server_default='', nullable=False),
    sa.Column('updated_by', sa.String(length=200), server_default='', nullable=False),
    sa.Column('stripe_product_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_price_id', sa.String(length=255), nullable=True),
    sa.Column('pushed_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('pushed_price_minor', sa.BigInteger(), nullable=True),
    sa.Column('pushed_currency', sa.String(length=3), nullable=True),
    sa.Column('pushed_active', sa.Boolean(), nullable=True),
    sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sync_state', sa.String(length=20), server_default='not_published', nullable=False),
    sa.Column('sync_error', sa.Text(), server_default='', nullable=False),
    sa.CheckConstraint("status IN ('draft', 'pending_review', 'approved', 'rejected', 'archived')", name='ck_listings_status'),
    sa.CheckConstraint("sync_state IN ('not_published', 'pending', 'synced', 'failed')", name='ck_listings_sync_state'),
    sa.CheckConstraint('price_minor >= 0', name='ck_listings_price_not_negative'),
    sa.CheckConstraint('version >= 1', name='ck_listings_version_positive'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_listings_created', 'listings', ['created_at', 'id'], unique=False)
    op.create_index('ix_listings_price', 'listings', ['price_minor', 'id'], unique=False)
    op.create_index('ix_listings_status', 'listings', ['status'], unique=False)
    op.create_index('ix_listings_stripe_product_id', 'listings', ['stripe_product_id'], unique=False)
    op.create_index('ix_listings_sync_state', 'listings', ['sync_state'], unique=False)
    op.create_index('ix_listings_updated', 'listings', ['updated_at', 'id'], unique=False)
    op.create_index('ix_listings_title', 'listings', [sa.text('lower(title)'), 'id'], unique=False)
    _create_search()

    op.create_table('webhook_events',
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('stripe_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), server_default='', nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_stripe_changes_pending', 'stripe_changes', ['done_at', 'listing_id'], unique=False)

    op.create_table('stripe_operations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('operation', sa.String(length=50), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result_id', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key'),
    sa.UniqueConstraint('listing_id', 'revision', 'operation')
    )


def _create_search() -> None:
    """Full-text search over title + description that follows every writer, the website too."""
    if op.get_bind().dialect.name == "sqlite":
        # External-content FTS5 index: stores only the index, reads text from `listings`.
        # Triggers keep it in step with any INSERT/UPDATE/DELETE, whoever issues it.
        # prefix='2 3' keeps short-prefix keystroke searches ("bi", "bik") cheap.
        for statement in _SQLITE_SEARCH:
            op.execute(statement)
    else:
        # A stored generated tsvector follows every write by itself; 'simple' means no
        # stemming and no stop words, matching SQLite's unicode61 tokenizer, so both
        # backends find the same rows for the same words.
        op.execute(
            "ALTER TABLE listings ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))) "
            "STORED"
        )
        op.execute("CREATE INDEX ix_listings_search ON listings USING gin (search_vector)")


_SQLITE_SEARCH = (
    """CREATE VIRTUAL TABLE listings_fts USING fts5(
        title, description,
        content='listings', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    )""",
    """CREATE TRIGGER listings_fts_after_insert AFTER INSERT ON listings BEGIN
        INSERT INTO listings_fts(rowid, title, description)
        VALUES (new.id, new.title, new.description);
    END""",
    """CREATE TRIGGER listings_fts_after_delete AFTER DELETE ON listings BEGIN
        INSERT INTO listings_fts(listings_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
    END""",
    """CREATE TRIGGER listings_fts_after_update AFTER UPDATE OF title, description ON listings
    BEGIN
        INSERT INTO listings_fts(listings_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
        INSERT INTO listings_fts(rowid, title, description)
        VALUES (new.id, new.title, new.description);
    END""",
    # Index whatever rows already exist (none on a fresh database; cheap either way).
    "INSERT INTO listings_fts(listings_fts) VALUES ('rebuild')",
)


def _drop_search() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS listings_fts_after_{trigger}")
        op.execute("DROP TABLE IF EXISTS listings_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_listings_search")
        op.execute("ALTER TABLE listings DROP COLUMN IF EXISTS search_vector")


def downgrade() -> None:
    op.drop_table('stripe_operations')
    op.drop_index('ix_stripe_changes_pending', table_name='stripe_changes')

    op.drop_table('stripe_changes')
    op.drop_table('webhook_events')
    _drop_search()
    op.drop_index('ix_listings_title', table_name='listings')
    op.drop_index('ix_listings_updated', table_name='listings')
    op.drop_index('ix_listings_sync_state', table_name='listings')
    op.drop_index('ix_listings_stripe_product_id', table_name='listings')
    op.drop_index('ix_listings_status', table_name='listings')
    op.drop_index('ix_listings_price', table_name='listings')
    op.drop_index('ix_listings_created', table_name='listings')

    op.drop_table('listings')
    op.drop_index('ix_checkout_attempts_created_at', table_name='checkout_attempts')

    op.drop_table('checkout_attempts')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_index('ix_audit_entity', table_name='audit_log')

    op.drop_table('audit_log')
    op.drop_table('app_settings')
