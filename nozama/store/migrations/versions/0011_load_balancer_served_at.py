"""load_balancers: served_at, the data plane's heartbeat

A load balancer is `provisioning` until a data plane (`nozama lb`) serves it, then
`active`, as ALB's are; the data plane records when it last served each one here.
Existing load balancers start unserved: the next heartbeat of a running data plane
makes them active again within seconds.

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'


def upgrade() -> None:
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('served_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.drop_column('served_at')
