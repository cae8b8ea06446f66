"""tasks, agent heartbeats

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'


def upgrade() -> None:
    op.create_table('tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('cluster_arn', sa.String(length=1600), nullable=False),
    sa.Column('arn', sa.String(length=1600), nullable=False),
    sa.Column('task_definition_arn', sa.String(length=1600), nullable=False),
    sa.Column('family', sa.String(length=255), nullable=False),
    sa.Column('container_instance_arn', sa.String(length=1600), nullable=True),
    sa.Column('group_name', sa.String(length=255), nullable=True),
    sa.Column('started_by', sa.String(length=128), nullable=True),
    sa.Column('service_name', sa.String(length=255), nullable=True),
    sa.Column('launch_type', sa.String(length=32), nullable=False),
    sa.Column('last_status', sa.String(length=32), nullable=False),
    sa.Column('desired_status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_cluster', ['cluster_arn', 'desired_status', 'arn'], unique=False)
        batch_op.create_index('ix_tasks_family', ['cluster_arn', 'family'], unique=False)
        batch_op.create_index('ix_tasks_instance', ['container_instance_arn', 'desired_status'], unique=False)
        batch_op.create_index('ix_tasks_service', ['cluster_arn', 'service_name'], unique=False)
        batch_op.create_index('ix_tasks_started_by', ['cluster_arn', 'started_by'], unique=False)

    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent_seen_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('container_instances', schema=None) as batch_op:
        batch_op.drop_column('agent_seen_at')

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_started_by')
        batch_op.drop_index('ix_tasks_service')
        batch_op.drop_index('ix_tasks_instance')
        batch_op.drop_index('ix_tasks_family')
        batch_op.drop_index('ix_tasks_cluster')

    op.drop_table('tasks')
