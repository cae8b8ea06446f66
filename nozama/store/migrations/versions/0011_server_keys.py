"""server_keys: secrets the servers of one store share (function code URLs' HMAC key)

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'


def upgrade() -> None:
    op.create_table('server_keys',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('server_keys')
