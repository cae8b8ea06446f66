"""services: deployment_state apart from the AWS-shaped document

Until now the service controller kept its deployment bookkeeping in the service's
document, as members starting with "_" (the service's _history, _revisions and
_steady; each deployment's _arn, _stage, _groups, _hooks...), which every API
answer had to strip. They move to their own column, in the form of
model/deployment_state.py (the same names, without the underscore, in camelCase).
This migration writes that form itself: it must keep working when the model
changes later.

Revision ID: 0010
Revises: 0009
"""

import json

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'


def _private(record: dict) -> dict:
    """A deployment's "_" members, as a rollout (hook states renamed the same way)."""
    rollout = {key[1:]: value for key, value in record.items() if key.startswith('_')}
    rollout['id'] = record.get('id')
    rollout['deployment'] = {k: v for k, v in record.items() if not k.startswith('_')}
    hooks = rollout.get('hooks') or {}
    rollout['hooks'] = {key: {(k[1:] if k.startswith('_') else k): v
                              for k, v in hook.items()} for key, hook in hooks.items()}
    return rollout


def split(doc: dict) -> tuple[dict, dict]:
    """(the document without private members, the deployment state they made)."""
    doc = dict(doc)
    history = doc.pop('_history', None) or {}
    state = {'revisions': doc.pop('_revisions', None) or {},
             'steady': bool(doc.pop('_steady', False))}
    rollouts = {arn: _private(record) for arn, record in history.items()}
    deployments = []
    for deployment in doc.get('deployments') or []:
        # The live deployment's own members are the newest (the history is a copy).
        if deployment.get('_arn'):
            rollouts[deployment['_arn']] = _private(deployment)
        deployments.append({k: v for k, v in deployment.items() if not k.startswith('_')})
    doc['deployments'] = deployments
    for key in [k for k in doc if k.startswith('_')]:
        del doc[key]
    state['rollouts'] = [r for r in rollouts.values() if r.get('arn') and r.get('id')]
    return doc, state


def upgrade() -> None:
    op.add_column('services', sa.Column('deployment_state', sa.JSON(), nullable=False,
                                        server_default=sa.text("'{}'")))
    services = sa.table('services', sa.column('id', sa.Integer), sa.column('doc', sa.JSON),
                        sa.column('deployment_state', sa.JSON))
    conn = op.get_bind()
    for row in conn.execute(sa.select(services.c.id, services.c.doc)).all():
        doc = row.doc if isinstance(row.doc, dict) else json.loads(row.doc)
        doc, state = split(doc)
        conn.execute(services.update().where(services.c.id == row.id).values(
            doc=doc, deployment_state=state))


def downgrade() -> None:
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('deployment_state')
