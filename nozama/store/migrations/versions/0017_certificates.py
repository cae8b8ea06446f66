"""ACM certificates and the certificates of HTTPS listeners

Revision ID: 0017
Revises: 0016
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_ARN = sa.String(length=1600)


def upgrade() -> None:
    op.create_table('certificates',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('arn', _ARN, nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('key_algorithm', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idempotency_token', sa.String(length=32), nullable=True),
    sa.Column('certificate', sa.Text(), nullable=False),
    sa.Column('chain', sa.Text(), nullable=True),
    sa.Column('private_key', sa.Text(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn')
    )
    op.create_index('ix_certificates_scope', 'certificates', ['region', 'account', 'arn'])
    op.create_index('ix_certificates_token', 'certificates',
                    ['region', 'account', 'idempotency_token'])
    op.create_table('listener_certificates',
    sa.Column('listener_arn', _ARN, nullable=False),
    sa.Column('certificate_arn', _ARN, nullable=False),
    sa.Column('load_balancer_arn', _ARN, nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('listener_arn', 'certificate_arn')
    )
    op.create_index('ix_listener_certificates_certificate', 'listener_certificates',
                    ['certificate_arn'])


def downgrade() -> None:
    op.drop_index('ix_listener_certificates_certificate', table_name='listener_certificates')
    op.drop_table('listener_certificates')
    op.drop_index('ix_certificates_token', table_name='certificates')
    op.drop_index('ix_certificates_scope', table_name='certificates')
    op.drop_table('certificates')
