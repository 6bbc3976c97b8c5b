"""lists: published programmes by title, published needs by date, the newest funded project

Revision ID: 5f2d8e3a9c10
Revises: 4e8a1c7b2d55
Create Date: 2026-12-02 00:00:00+00:00

Measured under the load bench (pg_stat_statements, 5 000 programmes, 20 000 projects): the
guichet's list and the API's pages sorted every published programme by title (12 ms a page, the
most PostgreSQL time of the whole mix); the startups' needs page and its count read every project
(15 ms and 8 ms); a project page's check of the funded-projects reference read the whole table
(1.5 ms a visit).
"""
from alembic import op
import sqlalchemy as sa


revision = '5f2d8e3a9c10'
down_revision = '4e8a1c7b2d55'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_programmes_status_title', 'programmes', ['status', 'title', 'id'])
    op.create_index('ix_projects_published_needs', 'projects', ['status', 'need_published_at', 'id'],
                    postgresql_where=sa.text('need_published_at IS NOT NULL'),
                    sqlite_where=sa.text('need_published_at IS NOT NULL'))
    op.create_index('ix_funded_projects_imported_at', 'funded_projects', ['imported_at'])


def downgrade() -> None:
    op.drop_index('ix_funded_projects_imported_at', table_name='funded_projects')
    op.drop_index('ix_projects_published_needs', table_name='projects')
    op.drop_index('ix_programmes_status_title', table_name='programmes')
