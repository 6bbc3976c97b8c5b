"""funding: programme import from CSV/XLSX

Revision ID: 5b1e0c2d7a01
Revises: 3f5a7c9e1b02
Create Date: 2026-11-30 09:12:00.000000+00:00

An imported programme keeps the stable id it has in its source (``programmes.source_id``, e.g. the
Aides-territoires slug), unique per owner tenant: re-importing a file finds it again instead of
creating a copy. Content an import would change on a programme is not applied but held in
``programmes.pending_changes`` (JSON, with ``pending_since``) until a curator accepts or discards
it; only dates are applied directly. ``programmes.source_content`` is the content as the source
last gave it: a file is compared with it (not with the live programme, which its funder may have
edited since), so re-importing a file, or a change a curator discarded, changes nothing. ``programme_imports`` is tenant-owned: one row per import run
(who, when, which file, the counts and the line-by-line report), so an operator can read past
reports.
"""
from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '5b1e0c2d7a01'
down_revision = '3f5a7c9e1b02'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('programme_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=120), nullable=False),
    sa.Column('licence', sa.String(length=120), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('created_count', sa.Integer(), nullable=False),
    sa.Column('dates_count', sa.Integer(), nullable=False),
    sa.Column('held_count', sa.Integer(), nullable=False),
    sa.Column('unchanged_count', sa.Integer(), nullable=False),
    sa.Column('rejected_count', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_programme_imports_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_programme_imports_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_imports'))
    )
    with op.batch_alter_table('programme_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_imports_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_id', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('pending_changes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('source_content', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('pending_since', marketplace.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_programmes_owner_source_id', ['owner_tenant_id', 'source_id'])


def downgrade() -> None:
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_constraint('uq_programmes_owner_source_id', type_='unique')
        batch_op.drop_column('pending_since')
        batch_op.drop_column('source_content')
        batch_op.drop_column('pending_changes')
        batch_op.drop_column('source_id')

    with op.batch_alter_table('programme_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_imports_tenant_id'))

    op.drop_table('programme_imports')
