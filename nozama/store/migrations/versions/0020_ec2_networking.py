"""EC2 networking: VPCs, subnets, security groups and their rules

Revision ID: 0020
Revises: 0019
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_RESOURCE = sa.String(length=32)


def _scope():
    return [sa.Column('id', _ID, autoincrement=True, nullable=False),
            sa.Column('region', sa.String(length=32), nullable=False),
            sa.Column('account', sa.String(length=12), nullable=False)]


def upgrade() -> None:
    op.create_table('vpcs', *_scope(),
    sa.Column('vpc_id', _RESOURCE, nullable=False),
    sa.Column('cidr_block', sa.String(length=32), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vpc_id')
    )
    op.create_index('ix_vpcs_scope', 'vpcs', ['region', 'account', 'vpc_id'])
    op.create_table('subnets', *_scope(),
    sa.Column('subnet_id', _RESOURCE, nullable=False),
    sa.Column('vpc_id', _RESOURCE, nullable=False),
    sa.Column('cidr_block', sa.String(length=32), nullable=False),
    sa.Column('availability_zone', sa.String(length=64), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subnet_id')
    )
    op.create_index('ix_subnets_scope', 'subnets', ['region', 'account', 'subnet_id'])
    op.create_index('ix_subnets_vpc', 'subnets', ['vpc_id', 'cidr_block'])
    op.create_table('security_groups', *_scope(),
    sa.Column('group_id', _RESOURCE, nullable=False),
    sa.Column('vpc_id', _RESOURCE, nullable=False),
    sa.Column('group_name', sa.String(length=255), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id'),
    sa.UniqueConstraint('vpc_id', 'group_name', name='uq_security_groups_name')
    )
    op.create_index('ix_security_groups_scope', 'security_groups',
                    ['region', 'account', 'group_id'])
    op.create_table('security_group_rules',
    sa.Column('rule_id', _RESOURCE, nullable=False),
    sa.Column('group_id', _RESOURCE, nullable=False),
    sa.Column('is_egress', sa.Boolean(), nullable=False),
    sa.Column('ip_protocol', sa.String(length=16), nullable=False),
    sa.Column('from_port', sa.Integer(), nullable=True),
    sa.Column('to_port', sa.Integer(), nullable=True),
    sa.Column('cidr_ipv4', sa.String(length=32), nullable=True),
    sa.Column('referenced_group_id', _RESOURCE, nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('rule_id')
    )
    op.create_index('ix_security_group_rules_group', 'security_group_rules',
                    ['group_id', 'is_egress'])
    op.create_index('ix_security_group_rules_referenced', 'security_group_rules',
                    ['referenced_group_id'])


def downgrade() -> None:
    op.drop_index('ix_security_group_rules_referenced', table_name='security_group_rules')
    op.drop_index('ix_security_group_rules_group', table_name='security_group_rules')
    op.drop_table('security_group_rules')
    op.drop_index('ix_security_groups_scope', table_name='security_groups')
    op.drop_table('security_groups')
    op.drop_index('ix_subnets_vpc', table_name='subnets')
    op.drop_index('ix_subnets_scope', table_name='subnets')
    op.drop_table('subnets')
    op.drop_index('ix_vpcs_scope', table_name='vpcs')
    op.drop_table('vpcs')
