"""Checkout attempts remember the last card tried: brand, last 4 digits, 3-D Secure used.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot add columns with constraints in place on older versions.
    with op.batch_alter_table('checkout_attempts') as batch:
        batch.add_column(sa.Column('card_brand', sa.String(length=30), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('card_last4', sa.String(length=4), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('three_d_secure', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('checkout_attempts') as batch:
        batch.drop_column('three_d_secure')
        batch.drop_column('card_last4')
        batch.drop_column('card_brand')
