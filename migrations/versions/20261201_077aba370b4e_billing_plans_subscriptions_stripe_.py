"""billing: plans, subscriptions, stripe events, success fees

Revision ID: 077aba370b4e
Revises: e0ea8c474f41
Create Date: 2026-12-01 14:05:28.100938+00:00

``tenant_plans``: the plan each startup has (read by every feature that enforces a limit; no row: the
free plan). ``subscriptions``: its Stripe customer and subscription, and the Stripe state they
reflect. ``stripe_events``: each webhook event once, by its id. ``success_fees``: one per awarded
group purchase.
"""
from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '077aba370b4e'
down_revision = 'e0ea8c474f41'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('created', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=100), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=100), nullable=True),
    sa.Column('interval', sa.String(length=10), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('current_period_end', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('stripe_updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_subscriptions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('stripe_customer_id', name='uq_subscriptions_customer'),
    sa.UniqueConstraint('tenant_id', name='uq_subscriptions_tenant')
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_stripe_subscription_id'), ['stripe_subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscriptions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('tenant_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('grace_until', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("plan IN ('decouverte', 'pro')", name=op.f('ck_tenant_plans_plan_known')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_plans_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_plans')),
    sa.UniqueConstraint('tenant_id', name='uq_tenant_plans_tenant')
    )
    with op.batch_alter_table('tenant_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_plans_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('success_fees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purchase_id', sa.Integer(), nullable=False),
    sa.Column('startup_tenant_id', sa.Integer(), nullable=False),
    sa.Column('awarded_ht_cents', sa.BigInteger(), nullable=False),
    sa.Column('rate_bp', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('stripe_invoice_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_success_fees_amount_positive')),
    sa.ForeignKeyConstraint(['purchase_id'], ['group_purchases.id'], name=op.f('fk_success_fees_purchase_id_group_purchases'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['startup_tenant_id'], ['tenants.id'], name=op.f('fk_success_fees_startup_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_success_fees')),
    sa.UniqueConstraint('purchase_id', name='uq_success_fees_purchase')
    )
    with op.batch_alter_table('success_fees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_success_fees_startup_tenant_id'), ['startup_tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('success_fees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_success_fees_startup_tenant_id'))

    op.drop_table('success_fees')
    with op.batch_alter_table('tenant_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_plans_tenant_id'))

    op.drop_table('tenant_plans')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriptions_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_subscriptions_stripe_subscription_id'))

    op.drop_table('subscriptions')
    op.drop_table('stripe_events')
