"""catalog: solutions, references, shortlists, leads

Revision ID: aa2368fd8dbd
Revises: 40122542330e
Create Date: 2026-11-22 22:09:46.121879+00:00

Solutions are shared rows with an owner (owner_tenant_id), not tenant-owned: published ones are
public. Shortlist items and leads are tenant-owned (tenant_id, guarded by the session). The partial
unique index keeps one pending edit per solution; the CHECKs hold the price range, the
one-territory rule of a reference and the publication date of a published solution.
"""
from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = 'aa2368fd8dbd'
down_revision = '40122542330e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('solutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_tenant_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'published', 'archived', name='solution_status', native_enum=False, length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('pitch', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('domains', sa.JSON(), nullable=False),
    sa.Column('sizes', sa.JSON(), nullable=False),
    sa.Column('price_model', sa.String(length=20), nullable=False),
    sa.Column('price_min_ht_cents', sa.Integer(), nullable=True),
    sa.Column('price_max_ht_cents', sa.Integer(), nullable=True),
    sa.Column('price_unit', sa.String(length=120), nullable=False),
    sa.Column('hosting', sa.String(length=10), nullable=False),
    sa.Column('gdpr_dpa', sa.Boolean(), nullable=False),
    sa.Column('secnumcloud', sa.Boolean(), nullable=False),
    sa.Column('rgaa_level', sa.String(length=20), nullable=False),
    sa.Column('licence', sa.String(length=100), nullable=True),
    sa.Column('open_data_standards', sa.JSON(), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('website', sa.String(length=300), nullable=True),
    sa.Column('logo', sa.String(length=60), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('archived_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=False),
    sa.Column('reviewed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status <> 'published' OR published_at IS NOT NULL", name=op.f('ck_solutions_published_has_date')),
    sa.CheckConstraint('price_max_ht_cents IS NULL OR price_min_ht_cents IS NULL OR price_max_ht_cents >= price_min_ht_cents', name=op.f('ck_solutions_price_range_ordered')),
    sa.CheckConstraint('price_min_ht_cents IS NULL OR price_min_ht_cents >= 0', name=op.f('ck_solutions_price_min_positive')),
    sa.ForeignKeyConstraint(['owner_tenant_id'], ['tenants.id'], name=op.f('fk_solutions_owner_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_solutions_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_solutions'))
    )
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.create_index('ix_solutions_owner_status', ['owner_tenant_id', 'status'], unique=False)
        batch_op.create_index('ix_solutions_status_published', ['status', 'published_at'], unique=False)

    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('startup_tenant_id', sa.Integer(), nullable=False),
    sa.Column('buyer_user_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('handled_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['buyer_user_id'], ['users.id'], name=op.f('fk_leads_buyer_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_leads_solution_id_solutions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['startup_tenant_id'], ['tenants.id'], name=op.f('fk_leads_startup_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_leads_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_solution_id'), ['solution_id'], unique=False)
        batch_op.create_index('ix_leads_startup_created', ['startup_tenant_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('shortlist_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_shortlist_items_added_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_shortlist_items_solution_id_solutions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_shortlist_items_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shortlist_items')),
    sa.UniqueConstraint('tenant_id', 'solution_id', name='uq_shortlist_items_tenant_solution')
    )
    with op.batch_alter_table('shortlist_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shortlist_items_solution_id'), ['solution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shortlist_items_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('solution_references',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('commune_insee', sa.String(length=5), nullable=True),
    sa.Column('epci_siren', sa.String(length=9), nullable=True),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('testimonial', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('declared', 'verified', 'declined', name='reference_status', native_enum=False, length=40), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(commune_insee IS NULL) <> (epci_siren IS NULL)', name=op.f('ck_solution_references_one_territory')),
    sa.CheckConstraint('year BETWEEN 1990 AND 2100', name=op.f('ck_solution_references_year_plausible')),
    sa.ForeignKeyConstraint(['commune_insee'], ['communes.insee'], name=op.f('fk_solution_references_commune_insee_communes')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_solution_references_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['epci_siren'], ['epcis.siren'], name=op.f('fk_solution_references_epci_siren_epcis')),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_solution_references_solution_id_solutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_solution_references')),
    sa.UniqueConstraint('solution_id', 'commune_insee', name='uq_solution_references_commune'),
    sa.UniqueConstraint('solution_id', 'epci_siren', name='uq_solution_references_epci')
    )
    with op.batch_alter_table('solution_references', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solution_references_commune_insee'), ['commune_insee'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_references_epci_siren'), ['epci_siren'], unique=False)
        batch_op.create_index(batch_op.f('ix_solution_references_solution_id'), ['solution_id'], unique=False)

    op.create_table('solution_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'withdrawn', name='revision_status', native_enum=False, length=40), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_solution_revisions_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_solution_revisions_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_solution_revisions_solution_id_solutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_solution_revisions'))
    )
    with op.batch_alter_table('solution_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solution_revisions_solution_id'), ['solution_id'], unique=False)
        batch_op.create_index('uq_solution_revisions_pending', ['solution_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))



def downgrade() -> None:
    with op.batch_alter_table('solution_revisions', schema=None) as batch_op:
        batch_op.drop_index('uq_solution_revisions_pending', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_solution_revisions_solution_id'))

    op.drop_table('solution_revisions')
    with op.batch_alter_table('solution_references', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solution_references_solution_id'))
        batch_op.drop_index(batch_op.f('ix_solution_references_epci_siren'))
        batch_op.drop_index(batch_op.f('ix_solution_references_commune_insee'))

    op.drop_table('solution_references')
    with op.batch_alter_table('shortlist_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shortlist_items_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_shortlist_items_solution_id'))

    op.drop_table('shortlist_items')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_tenant_id'))
        batch_op.drop_index('ix_leads_startup_created')
        batch_op.drop_index(batch_op.f('ix_leads_solution_id'))

    op.drop_table('leads')
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.drop_index('ix_solutions_status_published')
        batch_op.drop_index('ix_solutions_owner_status')

    op.drop_table('solutions')
