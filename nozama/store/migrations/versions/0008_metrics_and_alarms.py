"""metric series, data points, alarms and alarm history

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('metric_series',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('namespace', sa.String(length=255), nullable=False),
    sa.Column('metric_name', sa.String(length=255), nullable=False),
    sa.Column('dims_hash', sa.String(length=40), nullable=False),
    sa.Column('dimensions', sa.JSON(), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=True),
    sa.Column('total_count', sa.Float(), nullable=False),
    sa.Column('total_sum', sa.Float(), nullable=False),
    sa.Column('last_value', sa.Float(), nullable=True),
    sa.Column('last_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region', 'account', 'namespace', 'metric_name', 'dims_hash',
                        name='uq_metric_series')
    )
    op.create_table('metric_points',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('series_id', sa.BigInteger(), nullable=False),
    sa.Column('resolution', sa.Integer(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('sample_count', sa.Float(), nullable=False),
    sa.Column('sum', sa.Float(), nullable=False),
    sa.Column('minimum', sa.Float(), nullable=False),
    sa.Column('maximum', sa.Float(), nullable=False),
    sa.Column('sketch', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_metric_points_series', 'metric_points', ['series_id', 'ts'])
    op.create_index('ix_metric_points_age', 'metric_points', ['resolution', 'ts'])
    op.create_table('metric_alarms',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('arn', sa.String(length=1600), nullable=False),
    sa.Column('state_value', sa.String(length=32), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('region', 'account', 'name', name='uq_metric_alarms_name')
    )
    op.create_table('alarm_history',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('alarm_name', sa.String(length=255), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('item_type', sa.String(length=32), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_alarm_history_time', 'alarm_history', ['region', 'account', 'timestamp'])


def downgrade() -> None:
    op.drop_index('ix_alarm_history_time', table_name='alarm_history')
    op.drop_table('alarm_history')
    op.drop_table('metric_alarms')
    op.drop_index('ix_metric_points_age', table_name='metric_points')
    op.drop_index('ix_metric_points_series', table_name='metric_points')
    op.drop_table('metric_points')
    op.drop_table('metric_series')
