"""Per-listing sync claims: one worker pushes a listing at a time; newer results win.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'stripe_sync_claims',
        sa.Column('listing_id', sa.Integer(), nullable=False),
        sa.Column('holder', sa.String(length=100), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('pushed_revision', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('listing_id'),
    )


def downgrade() -> None:
    op.drop_table('stripe_sync_claims')
