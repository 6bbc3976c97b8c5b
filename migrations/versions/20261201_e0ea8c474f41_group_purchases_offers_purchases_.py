"""group purchases: offers, purchases, commitments, notices

Revision ID: e0ea8c474f41
Revises: 60baf6021cd7
Create Date: 2026-12-01 13:40:38.160472+00:00

``group_offers``: a startup's tiered offer for a solution (shared data). ``group_purchases``: the
groupements de commandes built on it, their tiers copied at opening, their lifecycle and award.
``commitments``: a collectivité's quantity (tenant-owned; one per city and purchase, so that two
cities committing at the same second both count). ``purchase_notices``: each notice sent once.
"""
from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = 'e0ea8c474f41'
down_revision = '60baf6021cd7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('group_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('owner_tenant_id', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_label', sa.String(length=100), nullable=False),
    sa.Column('list_price_ht_cents', sa.BigInteger(), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('conditions', sa.Text(), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('list_price_ht_cents > 0', name=op.f('ck_group_offers_list_price_positive')),
    sa.ForeignKeyConstraint(['owner_tenant_id'], ['tenants.id'], name=op.f('fk_group_offers_owner_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_group_offers_solution_id_solutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_offers')),
    sa.UniqueConstraint('solution_id', name='uq_group_offers_solution')
    )
    with op.batch_alter_table('group_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_offers_owner_tenant_id'), ['owner_tenant_id'], unique=False)

    op.create_table('group_purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coordinator_tenant_id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('startup_tenant_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'open', 'closed', 'awarded', 'cancelled', name='group_purchase_status', native_enum=False, length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('lots', sa.Text(), nullable=False),
    sa.Column('nature', sa.String(length=20), nullable=False),
    sa.Column('innovative', sa.Boolean(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_label', sa.String(length=100), nullable=False),
    sa.Column('list_price_ht_cents', sa.BigInteger(), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('min_units', sa.BigInteger(), nullable=False),
    sa.Column('min_cities', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('extended', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('awarded_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.Column('final_unit_price_ht_cents', sa.BigInteger(), nullable=True),
    sa.Column('contract_reference', sa.String(length=200), nullable=True),
    sa.Column('award_date', sa.Date(), nullable=True),
    sa.Column('award_note', sa.Text(), nullable=False),
    sa.CheckConstraint("status <> 'awarded' OR (contract_reference IS NOT NULL AND final_unit_price_ht_cents IS NOT NULL)", name=op.f('ck_group_purchases_awarded_is_documented')),
    sa.CheckConstraint('list_price_ht_cents > 0', name=op.f('ck_group_purchases_list_price_positive')),
    sa.CheckConstraint('min_units >= 0 AND min_cities >= 0', name=op.f('ck_group_purchases_minimums_positive')),
    sa.ForeignKeyConstraint(['coordinator_tenant_id'], ['tenants.id'], name=op.f('fk_group_purchases_coordinator_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_group_purchases_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_group_purchases_solution_id_solutions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['startup_tenant_id'], ['tenants.id'], name=op.f('fk_group_purchases_startup_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_purchases'))
    )
    with op.batch_alter_table('group_purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_purchases_coordinator_tenant_id'), ['coordinator_tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_purchases_solution_id'), ['solution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_purchases_startup_tenant_id'), ['startup_tenant_id'], unique=False)
        batch_op.create_index('ix_group_purchases_status_deadline', ['status', 'deadline'], unique=False)

    op.create_table('commitments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purchase_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('committed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('final_amount_ht_cents', sa.BigInteger(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_commitments_quantity_positive')),
    sa.ForeignKeyConstraint(['committed_by_id'], ['users.id'], name=op.f('fk_commitments_committed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['purchase_id'], ['group_purchases.id'], name=op.f('fk_commitments_purchase_id_group_purchases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_commitments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commitments')),
    sa.UniqueConstraint('purchase_id', 'tenant_id', name='uq_commitments_purchase_tenant')
    )
    with op.batch_alter_table('commitments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commitments_purchase_id'), ['purchase_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commitments_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('purchase_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purchase_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('sent_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['purchase_id'], ['group_purchases.id'], name=op.f('fk_purchase_notices_purchase_id_group_purchases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_notices')),
    sa.UniqueConstraint('purchase_id', 'kind', name='uq_purchase_notices_kind')
    )


def downgrade() -> None:
    op.drop_table('purchase_notices')
    with op.batch_alter_table('commitments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commitments_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_commitments_purchase_id'))

    op.drop_table('commitments')
    with op.batch_alter_table('group_purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_group_purchases_status_deadline')
        batch_op.drop_index(batch_op.f('ix_group_purchases_startup_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_group_purchases_solution_id'))
        batch_op.drop_index(batch_op.f('ix_group_purchases_coordinator_tenant_id'))

    op.drop_table('group_purchases')
    with op.batch_alter_table('group_offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_offers_owner_tenant_id'))

    op.drop_table('group_offers')
