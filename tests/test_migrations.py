"""Migrations upgrade from empty, downgrade to base and leave no drift, on SQLite and PostgreSQL."""
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from marketplace.cli import alembic_config
from marketplace.core.db import make_engine
from marketplace.models import metadata


def test_upgrade_downgrade_and_no_drift(databases):
    url = databases.create_empty(f"passerelle_migr_{databases.tag}")
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert "tenants" in inspect(engine).get_table_names()
        command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        assert "communes" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_migration_files_are_dated_and_reversible():
    import re
    from pathlib import Path

    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    files = sorted(versions.glob("*.py"))
    assert files
    for path in files:
        assert re.match(r"\d{8}_[0-9a-f]+_", path.name), path.name
        source = path.read_text()
        assert "def downgrade()" in source and "    pass\n" not in source.split("def downgrade()")[1][:40]
