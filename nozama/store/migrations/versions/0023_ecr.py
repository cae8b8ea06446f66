"""ecr: repositories, images and their tags, tombstones of deleted manifests, registries

Revision ID: 0023
Revises: 0022
"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'

_ARN = sa.String(length=1600)
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('ecr_repositories',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('arn', _ARN, nullable=False),
    sa.Column('created_at', _WHEN, nullable=False),
    sa.Column('image_tag_mutability', sa.String(length=32), nullable=False),
    sa.Column('lifecycle_policy', sa.Text(), nullable=True),
    sa.Column('lifecycle_evaluated_at', _WHEN, nullable=True),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arn'),
    sa.UniqueConstraint('region', 'account', 'name', name='uq_ecr_repositories_name')
    )
    op.create_table('ecr_images',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('repository_id', sa.BigInteger(), nullable=False),
    sa.Column('digest', sa.String(length=80), nullable=False),
    sa.Column('manifest', sa.Text(), nullable=False),
    sa.Column('manifest_media_type', sa.String(length=255), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('pushed_at', _WHEN, nullable=False),
    sa.Column('last_pulled_at', _WHEN, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('repository_id', 'digest', name='uq_ecr_images_digest')
    )
    op.create_index('ix_ecr_images_pushed', 'ecr_images', ['repository_id', 'pushed_at'])
    op.create_table('ecr_image_tags',
    sa.Column('repository_id', sa.BigInteger(), nullable=False),
    sa.Column('tag', sa.String(length=300), nullable=False),
    sa.Column('image_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('repository_id', 'tag')
    )
    op.create_index('ix_ecr_image_tags_image', 'ecr_image_tags', ['image_id'])
    op.create_table('ecr_image_tombstones',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('registry_name', sa.String(length=300), nullable=False),
    sa.Column('digest', sa.String(length=80), nullable=False),
    sa.Column('deleted_at', _WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('registries',
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('scheme', sa.String(length=8), nullable=False),
    sa.Column('started_at', _WHEN, nullable=False),
    sa.Column('heartbeat_at', _WHEN, nullable=False),
    sa.PrimaryKeyConstraint('address')
    )


def downgrade() -> None:
    op.drop_table('registries')
    op.drop_table('ecr_image_tombstones')
    op.drop_index('ix_ecr_image_tags_image', table_name='ecr_image_tags')
    op.drop_table('ecr_image_tags')
    op.drop_index('ix_ecr_images_pushed', table_name='ecr_images')
    op.drop_table('ecr_images')
    op.drop_table('ecr_repositories')
