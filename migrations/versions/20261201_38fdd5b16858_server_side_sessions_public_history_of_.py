"""server-side sessions, public history of programmes

Revision ID: 38fdd5b16858
Revises: 021ec07e622e
Create Date: 2026-12-01 11:45:53.801775+00:00

``user_sessions``: each signed-in browser, known on the server, so that signing out, a new
password or a removed membership end it whatever copy of its cookie exists (only a hash of its
token is kept). ``programme_versions.public``: a change of what only the funder and ANCT see (a
draft call) is left out of the public history.
"""
from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '38fdd5b16858'
down_revision = '021ec07e622e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('programme_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('programme_versions', schema=None) as batch_op:
        batch_op.drop_column('public')

    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))

    op.drop_table('user_sessions')
