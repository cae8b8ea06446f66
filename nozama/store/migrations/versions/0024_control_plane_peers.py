"""control plane peers: the controllers' lease, the servers sharing one store, and
functions' in-flight counts per server

Revision ID: 0024
Revises: 0023
"""

from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('leadership',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', _WHEN, nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('servers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('started_at', _WHEN, nullable=False),
    sa.Column('heartbeat_at', _WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_servers_heartbeat', 'servers', ['heartbeat_at'])
    op.create_table('function_in_flight',
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('function_name', sa.String(length=170), nullable=False),
    sa.Column('server_id', sa.String(length=64), nullable=False),
    sa.Column('in_flight', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('region', 'account', 'function_name', 'server_id')
    )


def downgrade() -> None:
    op.drop_table('function_in_flight')
    op.drop_index('ix_servers_heartbeat', table_name='servers')
    op.drop_table('servers')
    op.drop_table('leadership')
