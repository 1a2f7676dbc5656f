"""The Stripe log's indexes skip the rows no filter looks for; the unused time index goes.

A sync's entries (all 2xx, no attempt, no event, no error) were written into eleven
indexes, a fifth of what recording one cost. The attempt, event, errors and status-class
indexes now hold only rows with an attempt, an event, an error or a status other than 2xx
(partial indexes; the filters name the same condition, so both backends use them), and
`ix_stripe_log_at` goes: the `--since` filter walks ids newest first, and pruning reads the
oldest entry's time by id.

Revision ID: 0006_hlog3
Revises: 0005
"""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from alembic import op

revision = '0006_hlog3'
down_revision = '0005'
branch_labels = None
depends_on = None

_BEFORE = {
    'ix_stripe_log_attempt': (['attempt_id', 'id'], None, None),
    'ix_stripe_log_errors': (['is_error', 'id'], None, None),
    'ix_stripe_log_status_class': (['status_class', 'id'], None, None),
    'ix_stripe_log_event': (['event_id'], None, None),
}
_AFTER = {
    'ix_stripe_log_attempt': (['attempt_id', 'id'], "attempt_id IS NOT NULL",
                              "attempt_id IS NOT NULL"),
    'ix_stripe_log_errors': (['is_error', 'id'], "is_error IS 1", "is_error IS true"),
    'ix_stripe_log_status_class': (['status_class', 'id'], "status_class <> '2xx'",
                                   "status_class <> '2xx'"),
    'ix_stripe_log_event': (['event_id'], "event_id IS NOT NULL", "event_id IS NOT NULL"),
}


def _create(indexes: Mapping[str, tuple[list[str], str | None, str | None]]) -> None:
    for name, (columns, sqlite_where, postgresql_where) in indexes.items():
        op.create_index(
            name, 'stripe_log', columns,
            sqlite_where=sa.text(sqlite_where) if sqlite_where else None,
            postgresql_where=sa.text(postgresql_where) if postgresql_where else None)


def upgrade() -> None:
    op.drop_index('ix_stripe_log_at', table_name='stripe_log')
    for name in _BEFORE:
        op.drop_index(name, table_name='stripe_log')
    _create(_AFTER)


def downgrade() -> None:
    for name in _AFTER:
        op.drop_index(name, table_name='stripe_log')
    _create(_BEFORE)
    op.create_index('ix_stripe_log_at', 'stripe_log', ['at'])
