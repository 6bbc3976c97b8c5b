"""funding: alerts (saved searches of "Mes financements") and their digests

Revision ID: 6c2f1d3e8b02
Revises: 5b1e0c2d7a01
Create Date: 2026-11-30 14:30:00.000000+00:00

``funding_alerts`` is a collectivité's saved search (criteria as JSON, daily or weekly, pending
until its address is confirmed). ``funding_alert_digests`` holds one row per alert and period
(unique: the digest job can run twice), with what its mail says and when the mail went.
``funding_alert_items`` records each item sent, in which version: never twice the same.
All three are tenant-owned.
"""
from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '6c2f1d3e8b02'
down_revision = '5b1e0c2d7a01'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('funding_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('frequency', sa.Enum('daily', 'weekly', name='alert_frequency', native_enum=False, length=40), nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'unsubscribed', name='alert_status', native_enum=False, length=40), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmation_sent_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('since', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_digest_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_funding_alerts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_funding_alerts_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_alerts'))
    )
    with op.batch_alter_table('funding_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funding_alerts_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('funding_alert_digests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mailed_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['funding_alerts.id'], name=op.f('fk_funding_alert_digests_alert_id_funding_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_funding_alert_digests_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_alert_digests')),
    sa.UniqueConstraint('alert_id', 'period', name='uq_funding_alert_digests_period')
    )
    with op.batch_alter_table('funding_alert_digests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funding_alert_digests_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_funding_alert_digests_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('funding_alert_items',
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=40), nullable=False),
    sa.Column('stamp', sa.String(length=40), nullable=False),
    sa.Column('digest_id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['funding_alerts.id'], name=op.f('fk_funding_alert_items_alert_id_funding_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['digest_id'], ['funding_alert_digests.id'], name=op.f('fk_funding_alert_items_digest_id_funding_alert_digests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_funding_alert_items_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alert_id', 'item_key', 'stamp', name=op.f('pk_funding_alert_items'))
    )
    with op.batch_alter_table('funding_alert_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funding_alert_items_digest_id'), ['digest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_funding_alert_items_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('funding_alert_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funding_alert_items_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_funding_alert_items_digest_id'))
    op.drop_table('funding_alert_items')

    with op.batch_alter_table('funding_alert_digests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funding_alert_digests_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_funding_alert_digests_alert_id'))
    op.drop_table('funding_alert_digests')

    with op.batch_alter_table('funding_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funding_alerts_tenant_id'))
    op.drop_table('funding_alerts')
