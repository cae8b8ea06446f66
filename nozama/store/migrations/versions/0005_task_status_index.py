"""tasks by status, for the cluster's task counts; task definition listings from the index

Revision ID: 0005
Revises: 0004
"""

from alembic import op


revision = '0005'
down_revision = '0004'


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_status', ['cluster_arn', 'last_status'], unique=False)
    with op.batch_alter_table('task_definitions', schema=None) as batch_op:
        batch_op.drop_index('ix_task_definitions_status')
        batch_op.create_index('ix_task_definitions_status',
                              ['region', 'account', 'status', 'family', 'revision', 'arn'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_definitions', schema=None) as batch_op:
        batch_op.drop_index('ix_task_definitions_status')
        batch_op.create_index('ix_task_definitions_status',
                              ['region', 'account', 'status', 'family', 'revision'], unique=False)
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_status')
