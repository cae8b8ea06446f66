"""CloudWatch Logs: log groups, log streams, log events

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'


def upgrade() -> None:
    op.create_table('log_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.BigInteger(), nullable=False),
    sa.Column('stream_id', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('ingestion_time', sa.BigInteger(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('log_events', schema=None) as batch_op:
        batch_op.create_index('ix_log_events_group', ['group_id', 'timestamp', 'id'], unique=False)
        batch_op.create_index('ix_log_events_stream', ['stream_id', 'timestamp', 'id'], unique=False)

    op.create_table('log_groups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=512).with_variant(sa.String(length=512, collation='C'), 'postgresql'), nullable=False),
    sa.Column('creation_time', sa.BigInteger(), nullable=False),
    sa.Column('retention_in_days', sa.Integer(), nullable=True),
    sa.Column('log_group_class', sa.String(length=32), nullable=False),
    sa.Column('deletion_protection', sa.Boolean(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region', 'account', 'name', name='uq_log_groups_name')
    )
    op.create_table('log_streams',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('group_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=512).with_variant(sa.String(length=512, collation='C'), 'postgresql'), nullable=False),
    sa.Column('creation_time', sa.BigInteger(), nullable=False),
    sa.Column('first_event_timestamp', sa.BigInteger(), nullable=True),
    sa.Column('last_event_timestamp', sa.BigInteger(), nullable=False),
    sa.Column('last_ingestion_time', sa.BigInteger(), nullable=True),
    sa.Column('stored_bytes', sa.BigInteger(), nullable=False),
    sa.Column('upload_sequence', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'name', name='uq_log_streams_name')
    )
    with op.batch_alter_table('log_streams', schema=None) as batch_op:
        batch_op.create_index('ix_log_streams_last_event', ['group_id', 'last_event_timestamp', 'name'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('log_streams', schema=None) as batch_op:
        batch_op.drop_index('ix_log_streams_last_event')

    op.drop_table('log_streams')
    op.drop_table('log_groups')
    with op.batch_alter_table('log_events', schema=None) as batch_op:
        batch_op.drop_index('ix_log_events_stream')
        batch_op.drop_index('ix_log_events_group')

    op.drop_table('log_events')
