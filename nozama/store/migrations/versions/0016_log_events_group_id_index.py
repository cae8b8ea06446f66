"""log_events: an index on (group_id, id) for live tails

StartLiveTail polls each second for what its groups ingested after the last event
it saw. Without this index the database reads a group's whole history through
(group_id, timestamp, id) and sorts it, every second, for every session.

Revision ID: 0016
Revises: 0015
"""

from alembic import op


revision = '0016'
down_revision = '0015'


def upgrade() -> None:
    op.create_index('ix_log_events_group_id', 'log_events', ['group_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_log_events_group_id', table_name='log_events')
