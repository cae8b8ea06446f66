"""task_credentials: the task role credentials agents are sent for their tasks

Revision ID: 0022
Revises: 0021
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'

_ARN = sa.String(length=1600)


def upgrade() -> None:
    op.create_table('task_credentials',
    sa.Column('task_arn', _ARN, nullable=False),
    sa.Column('credentials_id', sa.String(length=64), nullable=False),
    sa.Column('role_arn', _ARN, nullable=False),
    sa.Column('access_key_id', sa.String(length=32), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=False),
    sa.Column('session_token', sa.LargeBinary(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('task_arn'),
    sa.UniqueConstraint('credentials_id')
    )
    op.create_index('ix_task_credentials_expiry', 'task_credentials', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_task_credentials_expiry', table_name='task_credentials')
    op.drop_table('task_credentials')
