"""container_instances.address and lb_address_pools: clusters that span hosts

A container instance keeps the address its host is reached at (its agent registers
it), so that load balancers reach instance targets there. A data plane (`nozama lb
--address-pool`) records the pool of addresses its host owns; load balancers take
their addresses from the pools recorded.

Revision ID: 0019
Revises: 0018
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'


def upgrade() -> None:
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=45), nullable=True))
    op.create_table(
        'lb_address_pools',
        sa.Column('cidr', sa.String(length=49), nullable=False),
        sa.Column('owner', sa.String(length=255), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('cidr'))


def downgrade() -> None:
    op.drop_table('lb_address_pools')
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.drop_column('address')
