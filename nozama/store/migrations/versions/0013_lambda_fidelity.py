"""Lambda fidelity: server keys, function policies, event invoke configs, event retries

server_keys holds secrets the servers of one store share (the HMAC key of
GetFunction's Code.Location URLs); function_policies the resource-based policies
(AddPermission); function_event_configs the asynchronous invocation settings
(PutFunctionEventInvokeConfig); function_events learns how often an event ran and
when it may run again.

Revision ID: 0013
Revises: 0012
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('server_keys',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('function_policies',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('function_id', sa.BigInteger(), nullable=False),
    sa.Column('qualifier', sa.String(length=128), nullable=False),
    sa.Column('revision_id', sa.String(length=64), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('function_id', 'qualifier', name='uq_function_policies')
    )
    op.create_table('function_event_configs',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('function_id', sa.BigInteger(), nullable=False),
    sa.Column('qualifier', sa.String(length=128), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('function_id', 'qualifier', name='uq_function_event_configs')
    )
    with op.batch_alter_table('function_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                      server_default=sa.text('0')))
        batch_op.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('function_events', schema=None) as batch_op:
        batch_op.drop_column('not_before')
        batch_op.drop_column('attempts')
    op.drop_table('function_event_configs')
    op.drop_table('function_policies')
    op.drop_table('server_keys')
