"""tasks: started_at, health_status and stop_code as columns

The service controller reads them for every task on every pass; as columns
it no longer decodes each task's document to do so.

Revision ID: 0006
Revises: 0005
"""

import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('health_status', sa.String(length=16), nullable=False,
                                      server_default='UNKNOWN'))
        batch_op.add_column(sa.Column('stop_code', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_tasks_deployment', ['deployment_id'], unique=False)
    tasks = sa.table('tasks', sa.column('id', sa.Integer), sa.column('doc', sa.JSON),
                     sa.column('started_at', sa.DateTime(timezone=True)),
                     sa.column('health_status', sa.String), sa.column('stop_code', sa.String))
    conn = op.get_bind()
    for row in conn.execute(sa.select(tasks.c.id, tasks.c.doc)).all():
        doc = row.doc if isinstance(row.doc, dict) else json.loads(row.doc)
        started = doc.get('startedAt')
        conn.execute(tasks.update().where(tasks.c.id == row.id).values(
            started_at=datetime.fromtimestamp(started, timezone.utc) if started else None,
            health_status=doc.get('healthStatus') or 'UNKNOWN',
            stop_code=doc.get('stopCode')))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_deployment')
        batch_op.drop_column('stop_code')
        batch_op.drop_column('health_status')
        batch_op.drop_column('started_at')
