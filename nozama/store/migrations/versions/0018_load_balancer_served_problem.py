"""load_balancers: served_problem, what keeps the data plane from serving all of one

A load balancer its data plane serves, but not as asked (a listener whose port another
program holds, a configuration HAProxy refused), is `active_impaired`, as ALB reports
one, with this as its Reason.

Revision ID: 0018
Revises: 0017
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'


def upgrade() -> None:
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('served_problem', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.drop_column('served_problem')
