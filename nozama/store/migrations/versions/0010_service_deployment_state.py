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


def join(doc: dict, state: dict) -> dict:
    """The inverse of split: the document as Nozama wrote it before this migration."""
    def private(rollout: dict) -> dict:
        members = {f'_{k}': v for k, v in rollout.items() if k not in ('id', 'deployment')}
        members['_hooks'] = {key: {('_' + k if k in ('stage', 'retryAt') else k): v
                                   for k, v in hook.items()}
                             for key, hook in (rollout.get('hooks') or {}).items()}
        return members
    rollouts = {r['id']: r for r in state.get('rollouts') or []}
    old = dict(doc)
    old['deployments'] = [{**d, **private(rollouts[d['id']])} if d.get('id') in rollouts
                          else d for d in doc.get('deployments') or []]
    old['_history'] = {r['arn']: {**(r.get('deployment') or {}), **private(r)}
                       for r in state.get('rollouts') or []}
    old['_revisions'] = state.get('revisions') or {}
    old['_steady'] = bool(state.get('steady'))
    return old


def _services():
    return sa.table('services', sa.column('id', sa.Integer), sa.column('doc', sa.JSON),
                    sa.column('deployment_state', sa.JSON))


def _json(value) -> dict:
    return value if isinstance(value, dict) else json.loads(value or '{}')


def upgrade() -> None:
    op.add_column('services', sa.Column('deployment_state', sa.JSON(), nullable=False,
                                        server_default=sa.text("'{}'")))
    services = _services()
    conn = op.get_bind()
    for row in conn.execute(sa.select(services.c.id, services.c.doc)).all():
        doc, state = split(_json(row.doc))
        conn.execute(services.update().where(services.c.id == row.id).values(
            doc=doc, deployment_state=state))


def downgrade() -> None:
    # The state goes back into the document first: the previous code reads it there.
    services = _services()
    conn = op.get_bind()
    for row in conn.execute(sa.select(services.c.id, services.c.doc,
                                      services.c.deployment_state)).all():
        conn.execute(services.update().where(services.c.id == row.id).values(
            doc=join(_json(row.doc), _json(row.deployment_state))))
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('deployment_state')
