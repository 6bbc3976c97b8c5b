"""funding: programmes, calls, eligibility, labels

Revision ID: 3f5a7c9e1b02
Revises: 3f5a7c9e1b01
Create Date: 2026-11-22 22:41:02.923862+00:00

Programmes, their calls and labels are shared rows with an owner (owner_tenant_id), not
tenant-owned: published programmes are public. A programme's territory is a set of
programme_scopes rows (include/exclude, level, code); ix_programme_scopes_lookup serves the
inverted lookup "programmes for this commune", ix_label_communes_commune "labels of this commune".
Every change of a programme is a programme_versions row (snapshot, number, actor, date, summary),
and replaces the token of the single eligibility_generation row, which tells each process's
in-memory eligibility index that it must be rebuilt.
Amounts are BIGINT cents; rates are basis points held between 0 and 10 000 by CHECKs.
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '3f5a7c9e1b02'
down_revision = '3f5a7c9e1b01'
branch_labels = None
depends_on = None


def upgrade() -> None:
    eligibility_generation = op.create_table('eligibility_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('changed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_eligibility_generation_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eligibility_generation'))
    )
    # The one row the services update: it must exist before the first programme is written.
    op.bulk_insert(eligibility_generation, [{"id": 1, "token": "initial", "changed_at": dt.datetime.now(dt.UTC)}])
    op.create_table('labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source_url', sa.String(length=500), nullable=False),
    sa.Column('licence', sa.String(length=120), nullable=False),
    sa.Column('owner_tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('communes_updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_tenant_id'], ['tenants.id'], name=op.f('fk_labels_owner_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labels')),
    sa.UniqueConstraint('slug', name=op.f('uq_labels_slug'))
    )
    op.create_table('programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_tenant_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'in_review', 'published', 'closed', 'archived', name='programme_status', native_enum=False, length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=400), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('funders', sa.JSON(), nullable=False),
    sa.Column('instructing_body', sa.String(length=200), nullable=False),
    sa.Column('funder_level', sa.Enum('eu', 'state', 'region', 'departement', 'banque_des_territoires', 'agency', name='funder_level', native_enum=False, length=40), nullable=False),
    sa.Column('state_family', sa.String(length=20), nullable=True),
    sa.Column('aid_types', sa.JSON(), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('beneficiary_kinds', sa.JSON(), nullable=False),
    sa.Column('epci_kinds', sa.JSON(), nullable=False),
    sa.Column('population_min', sa.Integer(), nullable=True),
    sa.Column('population_below', sa.Integer(), nullable=True),
    sa.Column('epci_population_min', sa.Integer(), nullable=True),
    sa.Column('epci_population_below', sa.Integer(), nullable=True),
    sa.Column('rate_min_bp', sa.Integer(), nullable=True),
    sa.Column('rate_max_bp', sa.Integer(), nullable=True),
    sa.Column('amount_floor_cents', sa.BigInteger(), nullable=True),
    sa.Column('amount_ceiling_cents', sa.BigInteger(), nullable=True),
    sa.Column('expense_kinds', sa.JSON(), nullable=False),
    sa.Column('project_stages', sa.JSON(), nullable=False),
    sa.Column('recurrence', sa.Enum('one_off', 'recurring', 'permanent', name='programme_recurrence', native_enum=False, length=40), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=True),
    sa.Column('prefiling_on', sa.Date(), nullable=True),
    sa.Column('closes_on', sa.Date(), nullable=True),
    sa.Column('how_to_apply', sa.Text(), nullable=False),
    sa.Column('contacts', sa.Text(), nullable=False),
    sa.Column('source_url', sa.String(length=500), nullable=False),
    sa.Column('provenance', sa.String(length=500), nullable=False),
    sa.Column('licence', sa.String(length=120), nullable=False),
    sa.Column('curation_note', sa.Text(), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('archived_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=False),
    sa.Column('reviewed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state_family IS NULL OR funder_level = 'state'", name=op.f('ck_programmes_state_family_is_state')),
    sa.CheckConstraint("status NOT IN ('published', 'closed') OR published_at IS NOT NULL", name=op.f('ck_programmes_public_has_publication_date')),
    sa.CheckConstraint('amount_floor_cents IS NULL OR amount_ceiling_cents IS NULL OR amount_floor_cents <= amount_ceiling_cents', name=op.f('ck_programmes_amount_range_ordered')),
    sa.CheckConstraint('amount_floor_cents IS NULL OR amount_floor_cents >= 0', name=op.f('ck_programmes_floor_positive')),
    sa.CheckConstraint('epci_population_min IS NULL OR epci_population_below IS NULL OR epci_population_min < epci_population_below', name=op.f('ck_programmes_epci_population_range_ordered')),
    sa.CheckConstraint('population_min IS NULL OR population_below IS NULL OR population_min < population_below', name=op.f('ck_programmes_population_range_ordered')),
    sa.CheckConstraint('rate_max_bp IS NULL OR rate_max_bp BETWEEN 0 AND 10000', name=op.f('ck_programmes_rate_max_is_a_share')),
    sa.CheckConstraint('rate_min_bp IS NULL OR rate_max_bp IS NULL OR rate_min_bp <= rate_max_bp', name=op.f('ck_programmes_rate_range_ordered')),
    sa.CheckConstraint('rate_min_bp IS NULL OR rate_min_bp BETWEEN 0 AND 10000', name=op.f('ck_programmes_rate_min_is_a_share')),
    sa.ForeignKeyConstraint(['owner_tenant_id'], ['tenants.id'], name=op.f('fk_programmes_owner_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_programmes_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programmes'))
    )
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programmes_closes_on'), ['closes_on'], unique=False)
        batch_op.create_index('ix_programmes_owner_status', ['owner_tenant_id', 'status'], unique=False)
        batch_op.create_index('ix_programmes_status_published', ['status', 'published_at'], unique=False)

    op.create_table('label_communes',
    sa.Column('label_id', sa.Integer(), nullable=False),
    sa.Column('commune_insee', sa.String(length=5), nullable=False),
    sa.ForeignKeyConstraint(['commune_insee'], ['communes.insee'], name=op.f('fk_label_communes_commune_insee_communes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['label_id'], ['labels.id'], name=op.f('fk_label_communes_label_id_labels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('label_id', 'commune_insee', name=op.f('pk_label_communes'))
    )
    with op.batch_alter_table('label_communes', schema=None) as batch_op:
        batch_op.create_index('ix_label_communes_commune', ['commune_insee', 'label_id'], unique=False)

    op.create_table('programme_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'closed', 'archived', name='call_status', native_enum=False, length=40), nullable=False),
    sa.Column('kind', sa.String(length=3), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=True),
    sa.Column('prefiling_on', sa.Date(), nullable=True),
    sa.Column('closes_on', sa.Date(), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'published' OR published_at IS NOT NULL", name=op.f('ck_programme_calls_published_has_date')),
    sa.CheckConstraint('opens_on IS NULL OR closes_on IS NULL OR opens_on <= closes_on', name=op.f('ck_programme_calls_dates_ordered')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_calls_programme_id_programmes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_calls'))
    )
    with op.batch_alter_table('programme_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_calls_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index('ix_programme_calls_status_closes', ['status', 'closes_on'], unique=False)

    op.create_table('programme_scopes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('include', sa.Boolean(), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.CheckConstraint("level <> 'france' OR code = 'FR'", name=op.f('ck_programme_scopes_france_code')),
    sa.CheckConstraint("level IN ('france', 'region', 'departement', 'epci', 'commune', 'label')", name=op.f('ck_programme_scopes_level_known')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_scopes_programme_id_programmes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_scopes')),
    sa.UniqueConstraint('programme_id', 'level', 'code', name='uq_programme_scopes_place')
    )
    with op.batch_alter_table('programme_scopes', schema=None) as batch_op:
        batch_op.create_index('ix_programme_scopes_lookup', ['level', 'code', 'programme_id', 'include'], unique=False)

    op.create_table('programme_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_programme_versions_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_versions_programme_id_programmes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_versions')),
    sa.UniqueConstraint('programme_id', 'number', name='uq_programme_versions_number')
    )


def downgrade() -> None:
    op.drop_table('programme_versions')
    with op.batch_alter_table('programme_scopes', schema=None) as batch_op:
        batch_op.drop_index('ix_programme_scopes_lookup')

    op.drop_table('programme_scopes')
    with op.batch_alter_table('programme_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_programme_calls_status_closes')
        batch_op.drop_index(batch_op.f('ix_programme_calls_programme_id'))

    op.drop_table('programme_calls')
    with op.batch_alter_table('label_communes', schema=None) as batch_op:
        batch_op.drop_index('ix_label_communes_commune')

    op.drop_table('label_communes')
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_index('ix_programmes_status_published')
        batch_op.drop_index('ix_programmes_owner_status')
        batch_op.drop_index(batch_op.f('ix_programmes_closes_on'))

    op.drop_table('programmes')
    op.drop_table('labels')
    op.drop_table('eligibility_generation')
