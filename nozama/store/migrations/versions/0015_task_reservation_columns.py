"""tasks: each task's reservation (cpu, memory, static ports) as columns

An instance's remainingResources and running/pending counts were recomputed by
decoding every live task's document at each state change (quadratic in a burst of
reports); with the reservation in columns they are one aggregate over a partial
index of the instance's live tasks. The reservation leaves the task document.

Revision ID: 0015
Revises: 0014
"""

import json

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'

_LIVE = sa.text("last_status != 'STOPPED'")


def _tasks():
    return sa.table('tasks', sa.column('id', sa.Integer), sa.column('doc', sa.JSON),
                    sa.column('reserved_cpu', sa.Integer),
                    sa.column('reserved_memory', sa.Integer),
                    sa.column('reserved_ports', sa.Text),
                    sa.column('reserved_ports_udp', sa.Text))


def _ports(ports) -> str | None:
    return ",".join(str(p) for p in ports) if ports else None


def _unports(text) -> list[int]:
    return [int(p) for p in text.split(",")] if text else []


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reserved_cpu', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('reserved_memory', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('reserved_ports', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reserved_ports_udp', sa.Text(), nullable=True))
        batch_op.create_index('ix_tasks_instance_live',
                              ['container_instance_arn', 'last_status', 'reserved_cpu',
                               'reserved_memory'], unique=False,
                              sqlite_where=_LIVE, postgresql_where=_LIVE)
    tasks = _tasks()
    conn = op.get_bind()
    for row in conn.execute(sa.select(tasks.c.id, tasks.c.doc)).all():
        doc = row.doc if isinstance(row.doc, dict) else json.loads(row.doc)
        reservation = doc.pop('reservation', None) or {}
        conn.execute(tasks.update().where(tasks.c.id == row.id).values(
            reserved_cpu=reservation.get('cpu', 0), reserved_memory=reservation.get('memory', 0),
            reserved_ports=_ports(reservation.get('ports')),
            reserved_ports_udp=_ports(reservation.get('portsUdp')), doc=doc))


def downgrade() -> None:
    tasks = _tasks()
    conn = op.get_bind()
    for row in conn.execute(sa.select(*tasks.c)).all():
        doc = row.doc if isinstance(row.doc, dict) else json.loads(row.doc)
        doc['reservation'] = {'cpu': row.reserved_cpu, 'memory': row.reserved_memory,
                              'ports': _unports(row.reserved_ports),
                              'portsUdp': _unports(row.reserved_ports_udp)}
        conn.execute(tasks.update().where(tasks.c.id == row.id).values(doc=doc))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_instance_live')
        batch_op.drop_column('reserved_ports_udp')
        batch_op.drop_column('reserved_ports')
        batch_op.drop_column('reserved_memory')
        batch_op.drop_column('reserved_cpu')
