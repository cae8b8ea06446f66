"""load balancers, target groups, targets, listeners and rules

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_ARN = sa.String(length=1600)


def upgrade() -> None:
    op.create_table('load_balancers',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('arn', _ARN, nullable=False),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('address'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('region', 'account', 'name', name='uq_load_balancers_name')
    )
    op.create_table('target_groups',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('arn', _ARN, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('region', 'account', 'name', name='uq_target_groups_name')
    )
    op.create_table('listeners',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('load_balancer_arn', _ARN, nullable=False),
    sa.Column('arn', _ARN, nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('load_balancer_arn', 'port', name='uq_listeners_port')
    )
    op.create_table('listener_rules',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('listener_arn', _ARN, nullable=False),
    sa.Column('arn', _ARN, nullable=False),
    sa.Column('priority', sa.Integer(), nullable=True),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('listener_arn', 'priority', name='uq_listener_rules_priority')
    )
    op.create_table('target_group_uses',
    sa.Column('target_group_arn', _ARN, nullable=False),
    sa.Column('user_arn', _ARN, nullable=False),
    sa.Column('load_balancer_arn', _ARN, nullable=False),
    sa.PrimaryKeyConstraint('target_group_arn', 'user_arn')
    )
    with op.batch_alter_table('target_group_uses', schema=None) as batch_op:
        batch_op.create_index('ix_target_group_uses_user', ['user_arn'], unique=False)
        batch_op.create_index('ix_target_group_uses_load_balancer', ['load_balancer_arn'],
                              unique=False)
    op.create_table('targets',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('target_group_arn', _ARN, nullable=False),
    sa.Column('target_id', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('availability_zone', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drain_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('health_state', sa.String(length=32), nullable=False),
    sa.Column('health_reason', sa.String(length=64), nullable=True),
    sa.Column('health_description', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('target_group_arn', 'target_id', 'port', name='uq_targets')
    )
    op.create_table('lb_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.create_index('ix_container_instances_ec2_id', ['ec2_instance_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_container_instances_ec2_id')
    op.drop_table('lb_generation')
    op.drop_table('targets')
    with op.batch_alter_table('target_group_uses', schema=None) as batch_op:
        batch_op.drop_index('ix_target_group_uses_load_balancer')
        batch_op.drop_index('ix_target_group_uses_user')
    op.drop_table('target_group_uses')
    op.drop_table('listener_rules')
    op.drop_table('listeners')
    op.drop_table('target_groups')
    op.drop_table('load_balancers')
