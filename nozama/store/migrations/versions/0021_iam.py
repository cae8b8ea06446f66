"""IAM and STS: users, roles, their policies, access keys (sealed secrets)

Revision ID: 0021
Revises: 0020
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'

_ARN = sa.String(length=1600)


def _named(name: str, id_column: str, *columns):
    op.create_table(name,
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('name_key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column(id_column, sa.String(length=32), nullable=False),
    sa.Column('arn', _ARN, nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    *columns,
    sa.PrimaryKeyConstraint('account', 'name_key'),
    sa.UniqueConstraint(id_column)
    )


def upgrade() -> None:
    _named('iam_users', 'user_id')
    _named('iam_roles', 'role_id',
           sa.Column('trust_policy', sa.Text(), nullable=False),
           sa.Column('max_session_duration', sa.Integer(), nullable=False),
           sa.Column('description', sa.String(length=1000), nullable=True))
    op.create_table('iam_principal_policies',
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('principal_type', sa.String(length=8), nullable=False),
    sa.Column('principal_key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('policy_name', sa.String(length=2048), nullable=False),
    sa.Column('document', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('account', 'principal_type', 'principal_key', 'kind',
                            'policy_name')
    )
    op.create_table('access_keys',
    sa.Column('access_key_id', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('principal_type', sa.String(length=8), nullable=False),
    sa.Column('principal_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('session_token_sha256', sa.String(length=64), nullable=True),
    sa.Column('session_name', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('access_key_id')
    )
    op.create_index('ix_access_keys_principal', 'access_keys',
                    ['account', 'principal_type', 'principal_key'])
    op.create_index('ix_access_keys_expiry', 'access_keys', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_access_keys_expiry', table_name='access_keys')
    op.drop_index('ix_access_keys_principal', table_name='access_keys')
    op.drop_table('access_keys')
    op.drop_table('iam_principal_policies')
    op.drop_table('iam_roles')
    op.drop_table('iam_users')
