"""programmes: perimeter to check, date the facts were checked

Revision ID: 7c4e2a9d1f03
Revises: 38fdd5b16858
Create Date: 2026-12-01 13:30:00+00:00

``perimeter_check``: why a programme's perimeter is wider than its text's (empty when exact); such
a programme is offered after the exact ones, with this reason, never as a plain "éligible".
``facts_checked_on``: when its facts were last checked against the source; unknown for the
programmes already here (NULL), which are therefore badged "à vérifier" until a curator dates them.
"""
from alembic import op
import sqlalchemy as sa


revision = '7c4e2a9d1f03'
down_revision = '38fdd5b16858'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('perimeter_check', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('facts_checked_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_column('facts_checked_on')
        batch_op.drop_column('perimeter_check')
