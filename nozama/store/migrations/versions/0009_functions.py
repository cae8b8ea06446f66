"""Lambda functions, versions, aliases, code, queued events and deployments

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _scoped():
    return [sa.Column('id', _ID, autoincrement=True, nullable=False),
            sa.Column('region', sa.String(length=32), nullable=False),
            sa.Column('account', sa.String(length=12), nullable=False)]


def upgrade() -> None:
    op.create_table('functions', *_scoped(),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('arn', sa.String(length=1600), nullable=False),
    sa.Column('code_sha256', sa.String(length=64), nullable=False),
    sa.Column('last_version', sa.Integer(), nullable=False),
    sa.Column('reserved_concurrency', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('region', 'account', 'name', name='uq_functions_name')
    )
    op.create_table('function_versions',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('function_id', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('code_sha256', sa.String(length=64), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('function_id', 'version', name='uq_function_versions')
    )
    op.create_table('function_aliases',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('function_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('function_id', 'name', name='uq_function_aliases')
    )
    op.create_table('function_code',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('zip', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('function_events', *_scoped(),
    sa.Column('function_name', sa.String(length=64), nullable=False),
    sa.Column('qualifier', sa.String(length=128), nullable=True),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('function_deployments', *_scoped(),
    sa.Column('deployment_id', sa.String(length=32), nullable=False),
    sa.Column('function_name', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('deployment_id')
    )
    op.create_index('ix_function_deployments_status', 'function_deployments', ['status'])


def downgrade() -> None:
    op.drop_index('ix_function_deployments_status', table_name='function_deployments')
    for table in ('function_deployments', 'function_events', 'function_code',
                  'function_aliases', 'function_versions', 'functions'):
        op.drop_table(table)
