"""The Stripe request log: every HTTP attempt at Stripe and every webhook event received.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_INDEXES = {
    'ix_stripe_log_at': ['at'],
    'ix_stripe_log_listing': ['listing_id', 'id'],
    'ix_stripe_log_attempt': ['attempt_id', 'id'],
    'ix_stripe_log_errors': ['is_error', 'id'],
    'ix_stripe_log_status_class': ['status_class', 'id'],
    'ix_stripe_log_method': ['method', 'id'],
    'ix_stripe_log_call': ['call_id'],
    'ix_stripe_log_request': ['request_id'],
    'ix_stripe_log_idempotency': ['idempotency_key'],
    'ix_stripe_log_object': ['object_id'],
    'ix_stripe_log_event': ['event_id'],
}


def upgrade() -> None:
    op.create_table(
        'stripe_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('api_base', sa.String(length=200), nullable=False),
        sa.Column('path', sa.String(length=500), nullable=False),
        sa.Column('api_version', sa.String(length=40), nullable=False),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=255), nullable=True),
        sa.Column('request_id', sa.String(length=255), nullable=True),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('status_class', sa.String(length=10), nullable=True),
        sa.Column('is_error', sa.Boolean(), nullable=False),
        sa.Column('latency_ms', sa.Float(), nullable=True),
        sa.Column('call_id', sa.String(length=32), nullable=False),
        sa.Column('retry', sa.Integer(), nullable=False),
        sa.Column('endpoint', sa.String(length=100), nullable=False),
        sa.Column('served', sa.String(length=30), nullable=False),
        sa.Column('sync_run', sa.String(length=100), nullable=True),
        sa.Column('listing_id', sa.Integer(), nullable=True),
        sa.Column('listing_revision', sa.Integer(), nullable=True),
        sa.Column('attempt_id', sa.Integer(), nullable=True),
        sa.Column('error_type', sa.String(length=100), nullable=True),
        sa.Column('error_code', sa.String(length=100), nullable=True),
        sa.Column('decline_code', sa.String(length=100), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('object_type', sa.String(length=100), nullable=True),
        sa.Column('object_id', sa.String(length=255), nullable=True),
        sa.Column('response_excerpt', sa.Text(), nullable=False),
        sa.Column('event_id', sa.String(length=255), nullable=True),
        sa.Column('event_type', sa.String(length=100), nullable=True),
        sa.Column('signature_verified', sa.Boolean(), nullable=True),
        sa.Column('effect', sa.Text(), nullable=False),
        sa.Column('search_text', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, 'stripe_log', columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name='stripe_log')
    op.drop_table('stripe_log')
