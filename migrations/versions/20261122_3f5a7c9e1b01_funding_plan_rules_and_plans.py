"""funding plan: rules and plans

Revision ID: 3f5a7c9e1b01
Revises: aa2368fd8dbd
Create Date: 2026-11-22 22:36:07.001815+00:00

``funding_rules`` holds the legal caps of the funding plan as data (value in basis points, what
it covers, article, source, validity dates inclusive) and is seeded below with the rules in force;
a decree that changes a rate is a new row with the same code and a new ``valid_from``.
``funding_plans`` is tenant-owned (a collectivité's private plans); its lines are JSON, validated
by marketplace.funding.plan.schemas. The CHECKs keep the eligible cost within the project cost
and the giving-way rule among the three the engine knows.
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '3f5a7c9e1b01'
down_revision = 'aa2368fd8dbd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('funding_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('cap_of_eligible_cost', 'cap_of_project_cost', 'owner_min_share', 'min_rate', name='funding_rule_kind', native_enum=False, length=40), nullable=False),
    sa.Column('value_bp', sa.Integer(), nullable=False),
    sa.Column('applies_to', sa.JSON(), nullable=False),
    sa.Column('legal_reference', sa.String(length=200), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('source_url', sa.String(length=300), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_funding_rules_validity_ordered')),
    sa.CheckConstraint('value_bp BETWEEN 0 AND 10000', name=op.f('ck_funding_rules_value_is_a_share')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_rules')),
    sa.UniqueConstraint('code', 'valid_from', name='uq_funding_rules_code_valid_from')
    )
    op.create_table('funding_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('cost_ht_cents', sa.BigInteger(), nullable=False),
    sa.Column('eligible_cost_ht_cents', sa.BigInteger(), nullable=False),
    sa.Column('reference_date', sa.Date(), nullable=False),
    sa.Column('ordering', sa.String(length=20), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("ordering IN ('priority', 'order_entered', 'proportional')", name=op.f('ck_funding_plans_ordering_known')),
    sa.CheckConstraint('cost_ht_cents >= 0', name=op.f('ck_funding_plans_cost_positive')),
    sa.CheckConstraint('eligible_cost_ht_cents >= 0 AND eligible_cost_ht_cents <= cost_ht_cents', name=op.f('ck_funding_plans_eligible_within_cost')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_funding_plans_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_funding_plans_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_funding_plans_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_plans'))
    )
    with op.batch_alter_table('funding_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funding_plans_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_funding_plans_tenant_updated', ['tenant_id', 'updated_at'], unique=False)

    op.bulk_insert(_rules_table(), SEED_RULES)


def downgrade() -> None:
    with op.batch_alter_table('funding_plans', schema=None) as batch_op:
        batch_op.drop_index('ix_funding_plans_tenant_updated')
        batch_op.drop_index(batch_op.f('ix_funding_plans_tenant_id'))

    op.drop_table('funding_plans')
    op.drop_table('funding_rules')


# The seed is written out here, not imported from the application: a migration must replay the
# same rows whatever the code becomes.
GRANTS = ["state_grant", "eu_grant", "region_grant", "departement_grant", "other_public_grant", "engineering"]
CGCT = "https://www.legifrance.gouv.fr/codes/texte_lc/LEGITEXT000006070633"
SEED_RULES = [
    {
        "code": "ETAT_80",
        "label": "Plafond des dotations d'investissement de l'État",
        "kind": "cap_of_eligible_cost",
        "value_bp": 8000,
        "applies_to": ["DETR", "DSIL", "DPV", "DSID", "FONDS_VERT"],
        "legal_reference": "CGCT, art. R2334-27, al. 2",
        "valid_from": dt.date(2021, 10, 6),
        "valid_to": None,
        "source_url": "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000044166963",
        "note": "DETR, DPV, DSIL et DSID, employées seules ou combinées, ne peuvent représenter plus de 80 % "
                "du montant prévisionnel de la dépense subventionnable (rédaction issue du décret "
                "n° 2021-1291 du 4 octobre 2021). Le Fonds vert est soumis au même plafond de 80 % selon "
                "sa doctrine d'emploi (à vérifier chaque année). Les cofinancements d'autres collectivités "
                "n'ont pas d'effet sur ce taux (réponse ministérielle, AN n° 4800, 10 juin 2025).",
    },
    {
        "code": "AIDES_PUBLIQUES_100",
        "label": "Aides publiques au plus égales à la dépense subventionnable",
        "kind": "cap_of_eligible_cost",
        "value_bp": 10000,
        "applies_to": GRANTS,
        "legal_reference": "Décret n° 2018-514 du 25 juin 2018, art. 10",
        "valid_from": dt.date(2018, 10, 1),
        "valid_to": None,
        "source_url": "https://www.legifrance.gouv.fr/loda/id/JORFTEXT000037106457",
        "note": "Le montant définitif de la subvention de l'État ne peut porter le total des aides publiques "
                "au-delà du montant prévisionnel de la dépense subventionnable. Il remplace la limite de "
                "80 % de l'article 10 du décret n° 99-1060 du 16 décembre 1999. Les prêts et apports en "
                "fonds propres ne sont pas des aides directes : ils ne comptent pas.",
    },
    {
        "code": "MO_20",
        "label": "Participation minimale du maître d'ouvrage",
        "kind": "owner_min_share",
        "value_bp": 2000,
        "applies_to": GRANTS,
        "legal_reference": "CGCT, art. L1111-10, III",
        "valid_from": dt.date(2012, 1, 1),
        "valid_to": None,
        "source_url": CGCT,
        "note": "La collectivité maître d'ouvrage assure au moins 20 % du montant total des financements "
                "apportés par des personnes publiques au projet (loi n° 2010-1563 du 16 décembre 2010, "
                "à compter du 1er janvier 2012). Ses emprunts comptent dans sa part. Dérogations : "
                "collectivités d'outre-mer ; le préfet peut en accorder (patrimoine protégé, réparation "
                "après calamité, eau potable, assainissement, déchets, défense contre les incendies de "
                "forêt, voirie et ouvrages d'art, biodiversité). Une proposition de loi visant à "
                "abaisser ce seuil à 5 % pour les communes rurales était en discussion en 2025 : à "
                "suivre.",
    },
    {
        "code": "DETR_TAUX_MIN",
        "label": "Taux minimal de la DETR",
        "kind": "min_rate",
        "value_bp": 2000,
        "applies_to": ["DETR"],
        "legal_reference": "CGCT, art. R2334-27, al. 1",
        "valid_from": dt.date(2021, 10, 6),
        "valid_to": None,
        "source_url": "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000044166963",
        "note": "Le taux de subvention ne peut être inférieur à 20 % du montant prévisionnel hors taxe de la "
                "dépense subventionnable. La réponse ministérielle AN n° 4800 (2025) l'applique aussi à la "
                "DSIL, à la DSID et à la DPV. Avertissement seulement : le préfet décide.",
    },
]


def _rules_table():
    return sa.table(
        "funding_rules",
        sa.column("code", sa.String), sa.column("label", sa.String), sa.column("kind", sa.String),
        sa.column("value_bp", sa.Integer), sa.column("applies_to", sa.JSON),
        sa.column("legal_reference", sa.String), sa.column("valid_from", sa.Date),
        sa.column("valid_to", sa.Date), sa.column("source_url", sa.String), sa.column("note", sa.Text),
        sa.column("created_at", marketplace.core.db.UTCDateTime()),
    )


# Seeded rows carry the migration's date, not the moment it ran: replays give the same rows.
for _rule in SEED_RULES:
    _rule["created_at"] = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
