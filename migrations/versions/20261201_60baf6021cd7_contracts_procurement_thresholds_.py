"""contracts: procurement thresholds, template kits, dossiers, drafts, documents

Revision ID: 60baf6021cd7
Revises: 7c4e2a9d1f03
Create Date: 2026-12-01 13:17:47.067420+00:00

``procurement_thresholds``: the thresholds of the Code de la commande publique as data, each version
with its article and validity (seeded below, with their sources; a change of the law is a new row).
``contract_templates``: the versioned kits (questionnaire and document sources as text);
``contract_dossiers``, ``contract_drafts``, ``contract_documents``: a collectivité's files, its
interviews in progress and its generated documents (tenant-owned).
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa
import marketplace.core.db


revision = '60baf6021cd7'
down_revision = '7c4e2a9d1f03'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('procurement_thresholds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('amount_ht_cents', sa.BigInteger(), nullable=False),
    sa.Column('natures', sa.JSON(), nullable=False),
    sa.Column('natures_key', sa.String(length=40), nullable=False),
    sa.Column('strictly_below', sa.Boolean(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('legal_reference', sa.String(length=200), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('source_url', sa.String(length=300), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_ht_cents > 0', name=op.f('ck_procurement_thresholds_amount_positive')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_procurement_thresholds_validity_ordered')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_procurement_thresholds')),
    sa.UniqueConstraint('code', 'natures_key', 'valid_from', name='uq_procurement_thresholds_version')
    )
    op.create_table('contract_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'archived', name='contract_template_status', native_enum=False, length=40), nullable=False),
    sa.Column('questionnaire', sa.Text(), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('change_note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('archived_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('ck_contract_templates_version_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_contract_templates_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_templates')),
    sa.UniqueConstraint('slug', 'version', name='uq_contract_templates_slug_version')
    )
    op.create_table('contract_dossiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_contract_dossiers_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_contract_dossiers_solution_id_solutions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_contract_dossiers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_dossiers'))
    )
    with op.batch_alter_table('contract_dossiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_dossiers_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('contract_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('document_key', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('party_index', sa.Integer(), nullable=True),
    sa.Column('blocks', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_contract_documents_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dossier_id'], ['contract_dossiers.id'], name=op.f('fk_contract_documents_dossier_id_contract_dossiers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['contract_templates.id'], name=op.f('fk_contract_documents_template_id_contract_templates'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_contract_documents_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_documents'))
    )
    with op.batch_alter_table('contract_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_documents_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index('ix_contract_documents_tenant_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_contract_documents_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('contract_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dossier_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dossier_id'], ['contract_dossiers.id'], name=op.f('fk_contract_drafts_dossier_id_contract_dossiers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['contract_templates.id'], name=op.f('fk_contract_drafts_template_id_contract_templates'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_contract_drafts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_drafts'))
    )
    with op.batch_alter_table('contract_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_drafts_dossier_id'), ['dossier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contract_drafts_tenant_id'), ['tenant_id'], unique=False)

    op.bulk_insert(_thresholds_table(), SEED_THRESHOLDS)


def downgrade() -> None:
    with op.batch_alter_table('contract_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_drafts_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_contract_drafts_dossier_id'))

    op.drop_table('contract_drafts')
    with op.batch_alter_table('contract_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_documents_tenant_id'))
        batch_op.drop_index('ix_contract_documents_tenant_created')
        batch_op.drop_index(batch_op.f('ix_contract_documents_dossier_id'))

    op.drop_table('contract_documents')
    with op.batch_alter_table('contract_dossiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_dossiers_tenant_id'))

    op.drop_table('contract_dossiers')
    op.drop_table('contract_templates')
    op.drop_table('procurement_thresholds')



# Written out here, not imported from the application: a migration replays the same rows forever.
SUPPLIES_SERVICES = ["services", "supplies"]
WORKS = ["works"]
ALL = ["services", "supplies", "works"]
LEGIFRANCE_R2122_8 = "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000037730655"
SEED_THRESHOLDS = [
    {"code": "dispense", "natures": SUPPLIES_SERVICES, "amount_ht_cents": 4_000_000, "label":
     "Seuil de dispense de publicité et de mise en concurrence (fournitures et services)",
     "legal_reference": "R2122-8", "valid_from": dt.date(2020, 1, 1), "valid_to": dt.date(2026, 3, 31),
     "source_url": LEGIFRANCE_R2122_8, "note": "40 000 € HT depuis le décret n° 2019-1344 du 12 décembre 2019."},
    {"code": "dispense", "natures": SUPPLIES_SERVICES, "amount_ht_cents": 6_000_000, "label":
     "Seuil de dispense de publicité et de mise en concurrence (fournitures et services)",
     "legal_reference": "R2122-8", "valid_from": dt.date(2026, 4, 1), "valid_to": None,
     "source_url": LEGIFRANCE_R2122_8,
     "note": "60 000 € HT pour les consultations lancées à partir du 1er avril 2026 (décret n° 2025-1386)."},
    {"code": "dispense", "natures": WORKS, "amount_ht_cents": 10_000_000, "label":
     "Seuil de dispense de publicité et de mise en concurrence (travaux)",
     "legal_reference": "R2122-8", "valid_from": dt.date(2023, 1, 1), "valid_to": dt.date(2025, 12, 31),
     "source_url": LEGIFRANCE_R2122_8,
     "note": "⚠ Dispositif temporaire de 100 000 € HT pour les travaux, prolongé jusqu'au 31 décembre 2025 "
             "(décrets n° 2022-1683 et suivants) : à vérifier."},
    {"code": "dispense", "natures": WORKS, "amount_ht_cents": 10_000_000, "label":
     "Seuil de dispense de publicité et de mise en concurrence (travaux)",
     "legal_reference": "R2122-8", "valid_from": dt.date(2026, 1, 1), "valid_to": None,
     "source_url": LEGIFRANCE_R2122_8, "note": "100 000 € HT, pérennisé à partir du 1er janvier 2026."},
    {"code": "achat_innovant", "natures": ALL, "amount_ht_cents": 10_000_000, "label":
     "Seuil de l'achat innovant sans publicité ni mise en concurrence",
     "legal_reference": "R2122-9-1", "valid_from": dt.date(2021, 12, 13), "valid_to": None,
     "source_url": "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000044544919",
     "note": "Pérennisé par le décret n° 2021-1634 du 13 décembre 2021 ; s'applique aussi aux lots de moins de "
             "80 000 € HT (fournitures et services) ou 100 000 € HT (travaux), dans la limite de 20 % du total."},
    {"code": "eu_threshold", "natures": SUPPLIES_SERVICES, "amount_ht_cents": 21_500_000, "label":
     "Seuil européen des procédures formalisées, collectivités territoriales (fournitures et services)",
     "legal_reference": "R2124-1", "valid_from": dt.date(2022, 1, 1), "valid_to": dt.date(2023, 12, 31),
     "source_url": "https://www.legifrance.gouv.fr/jorf/id/JORFTEXT000044782434",
     "note": "⚠ 215 000 € HT pour 2022-2023 (avis du 9 décembre 2021) : à vérifier."},
    {"code": "eu_threshold", "natures": SUPPLIES_SERVICES, "amount_ht_cents": 22_100_000, "label":
     "Seuil européen des procédures formalisées, collectivités territoriales (fournitures et services)",
     "legal_reference": "R2124-1", "valid_from": dt.date(2024, 1, 1), "valid_to": dt.date(2025, 12, 31),
     "source_url": "https://eur-lex.europa.eu/eli/reg_del/2023/2497/oj",
     "note": "221 000 € HT pour 2024-2025 (règlement délégué (UE) 2023/2497)."},
    {"code": "eu_threshold", "natures": SUPPLIES_SERVICES, "amount_ht_cents": 21_600_000, "label":
     "Seuil européen des procédures formalisées, collectivités territoriales (fournitures et services)",
     "legal_reference": "R2124-1", "valid_from": dt.date(2026, 1, 1), "valid_to": dt.date(2027, 12, 31),
     "source_url": "https://eur-lex.europa.eu/eli/reg_del/2025/2152/oj",
     "note": "216 000 € HT pour 2026-2027 (règlement délégué (UE) 2025/2152)."},
    {"code": "eu_threshold", "natures": WORKS, "amount_ht_cents": 538_200_000, "label":
     "Seuil européen des procédures formalisées (travaux)",
     "legal_reference": "R2124-1", "valid_from": dt.date(2022, 1, 1), "valid_to": dt.date(2023, 12, 31),
     "source_url": "https://www.legifrance.gouv.fr/jorf/id/JORFTEXT000044782434",
     "note": "⚠ 5 382 000 € HT pour 2022-2023 : à vérifier."},
    {"code": "eu_threshold", "natures": WORKS, "amount_ht_cents": 553_800_000, "label":
     "Seuil européen des procédures formalisées (travaux)",
     "legal_reference": "R2124-1", "valid_from": dt.date(2024, 1, 1), "valid_to": dt.date(2025, 12, 31),
     "source_url": "https://eur-lex.europa.eu/eli/reg_del/2023/2497/oj",
     "note": "5 538 000 € HT pour 2024-2025 (règlement délégué (UE) 2023/2497)."},
    {"code": "eu_threshold", "natures": WORKS, "amount_ht_cents": 540_400_000, "label":
     "Seuil européen des procédures formalisées (travaux)",
     "legal_reference": "R2124-1", "valid_from": dt.date(2026, 1, 1), "valid_to": dt.date(2027, 12, 31),
     "source_url": "https://eur-lex.europa.eu/eli/reg_del/2025/2152/oj",
     "note": "5 404 000 € HT pour 2026-2027 (règlement délégué (UE) 2025/2152)."},
]
for _row in SEED_THRESHOLDS:
    _row["natures_key"] = ",".join(sorted(_row["natures"]))
    _row["strictly_below"] = True
    _row["created_at"] = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _thresholds_table():
    return sa.table(
        "procurement_thresholds",
        sa.column("code", sa.String), sa.column("label", sa.String), sa.column("natures", sa.JSON),
        sa.column("natures_key", sa.String), sa.column("amount_ht_cents", sa.BigInteger),
        sa.column("strictly_below", sa.Boolean), sa.column("legal_reference", sa.String),
        sa.column("valid_from", sa.Date), sa.column("valid_to", sa.Date), sa.column("source_url", sa.String),
        sa.column("note", sa.Text), sa.column("created_at", marketplace.core.db.UTCDateTime(timezone=True)),
    )
