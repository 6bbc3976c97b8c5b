"""programmes: indexes for the operators' desk

Revision ID: 4e8a1c7b2d55
Revises: 1b0d849fca7e
Create Date: 2026-12-01 19:40:00+00:00

The desk lists programmes last changed first and counts those with a held import change; at
5 000 programmes both read the whole table without these indexes (12 ms and 3 ms a page).
"""
from alembic import op
import sqlalchemy as sa


revision = '4e8a1c7b2d55'
down_revision = '1b0d849fca7e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_programmes_updated', 'programmes', ['updated_at', 'id'])
    op.create_index('ix_programmes_pending', 'programmes', ['pending_since'],
                    postgresql_where=sa.text('pending_since IS NOT NULL'),
                    sqlite_where=sa.text('pending_since IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_programmes_pending', table_name='programmes')
    op.drop_index('ix_programmes_updated', table_name='programmes')
