"""search: the index-change log

Revision ID: 9d3b6e1f4a20
Revises: 077aba370b4e
Create Date: 2026-12-01 15:00:00+00:00

``search_changes``: one row per change of a searchable document, written in the change's own
transaction; every web node applies the log, in id order, to its own index. AUTOINCREMENT on
SQLite so that an id is never reused after the log is trimmed.
"""
from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '9d3b6e1f4a20'
down_revision = '077aba370b4e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('search_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('doc_key', sa.String(length=80), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_changes')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('search_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_changes_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('search_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_changes_created_at'))

    op.drop_table('search_changes')
