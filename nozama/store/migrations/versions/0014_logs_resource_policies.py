"""CloudWatch Logs resource policies (account- and log-group-scoped)

Revision ID: 0014
Revises: 0013
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('logs_resource_policies',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('resource_arn', sa.String(length=1600), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('revision_id', sa.String(length=64), nullable=False),
    sa.Column('last_updated', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region', 'account', 'resource_arn', 'name',
                        name='uq_logs_resource_policies_name')
    )


def downgrade() -> None:
    op.drop_table('logs_resource_policies')
