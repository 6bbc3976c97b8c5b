"""mail outbox; solution prices as BIGINT

Revision ID: 021ec07e622e
Revises: 6c2f1d3e8b02
Create Date: 2026-12-01 11:12:39.223558+00:00

``outgoing_mails`` holds every mail in the transaction of the change it tells about; a job
delivers it and a sweep delivers those a lost job left unsent. Solution prices become BIGINT: all
amounts share one bound (ten billion euros in cents), past a 32-bit INTEGER.
"""
from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '021ec07e622e'
down_revision = '6c2f1d3e8b02'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outgoing_mails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('to', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_mails'))
    )
    with op.batch_alter_table('outgoing_mails', schema=None) as batch_op:
        batch_op.create_index('ix_outgoing_mails_unsent', ['sent_at', 'created_at'], unique=False)

    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.alter_column('price_min_ht_cents',
               existing_type=sa.INTEGER(),
               type_=sa.BigInteger(),
               existing_nullable=True)
        batch_op.alter_column('price_max_ht_cents',
               existing_type=sa.INTEGER(),
               type_=sa.BigInteger(),
               existing_nullable=True)



def downgrade() -> None:
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.alter_column('price_max_ht_cents',
               existing_type=sa.BigInteger(),
               type_=sa.INTEGER(),
               existing_nullable=True)
        batch_op.alter_column('price_min_ht_cents',
               existing_type=sa.BigInteger(),
               type_=sa.INTEGER(),
               existing_nullable=True)

    with op.batch_alter_table('outgoing_mails', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_mails_unsent')

    op.drop_table('outgoing_mails')
