"""ECS account settings: one value per region, account, principal and setting name

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('account_settings',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('principal_arn', sa.String(length=2048), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region', 'account', 'principal_arn', 'name',
                        name='uq_account_settings_principal_name')
    )


def downgrade() -> None:
    op.drop_table('account_settings')
