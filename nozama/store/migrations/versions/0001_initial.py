"""clusters, task definitions, container instances, attributes, tags

Revision ID: 0001
Revises: 
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table('attributes',
    sa.Column('cluster_arn', sa.String(length=1600), nullable=False),
    sa.Column('target_id', sa.String(length=1600), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('cluster_arn', 'target_id', 'name')
    )
    with op.batch_alter_table('attributes', schema=None) as batch_op:
        batch_op.create_index('ix_attributes_name', ['cluster_arn', 'name', 'value'], unique=False)

    op.create_table('clusters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('arn', sa.String(length=1600), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('region', 'account', 'name', name='uq_clusters_name')
    )
    op.create_table('container_instances',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('cluster_arn', sa.String(length=1600), nullable=False),
    sa.Column('arn', sa.String(length=1600), nullable=False),
    sa.Column('ec2_instance_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('agent_connected', sa.Boolean(), nullable=False),
    sa.Column('running_tasks_count', sa.Integer(), nullable=False),
    sa.Column('pending_tasks_count', sa.Integer(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn')
    )
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.create_index('ix_container_instances_cluster', ['cluster_arn', 'arn'], unique=False)
        batch_op.create_index('ix_container_instances_ec2', ['cluster_arn', 'ec2_instance_id'], unique=False)

    op.create_table('tags',
    sa.Column('resource_arn', sa.String(length=1600), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('resource_arn', 'key')
    )
    op.create_table('task_definitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('family', sa.String(length=255), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('arn', sa.String(length=1600), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('region', 'account', 'family', 'revision', name='uq_task_definitions_rev')
    )
    with op.batch_alter_table('task_definitions', schema=None) as batch_op:
        batch_op.create_index('ix_task_definitions_status', ['region', 'account', 'status', 'family', 'revision'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_definitions', schema=None) as batch_op:
        batch_op.drop_index('ix_task_definitions_status')

    op.drop_table('task_definitions')
    op.drop_table('tags')
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_container_instances_ec2')
        batch_op.drop_index('ix_container_instances_cluster')

    op.drop_table('container_instances')
    op.drop_table('clusters')
    with op.batch_alter_table('attributes', schema=None) as batch_op:
        batch_op.drop_index('ix_attributes_name')

    op.drop_table('attributes')
