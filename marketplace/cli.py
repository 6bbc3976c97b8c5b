"""The ``passerelle`` command: a Flask CLI group reading the same settings as the web app."""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from sqlalchemy import select

from jobs.worker import run_cron, run_worker
from marketplace import demo as demo_data
from marketplace.app import create_app
from marketplace.billing import services as billing_services
from marketplace.contracts import library as contract_library
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.settings import ConfigError
from marketplace.launcher import launch
from marketplace.projects import cli as projects_cli
from search.follower import Follower, catch_up
from search.index import follow_state, state
from search.indexing import request_rebuild
from search.service import rebuild
from tenants import services as tenant_services
from tenants.models import Role, Tenant, TenantEvent, TenantKind
from tenants.territories import services as territory_services

cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False, load_dotenv=False,
                 help="Passerelle : administration et lancement.")
cli.add_command(shell_command)
cli.add_command(routes_command)
cli.add_command(projects_cli.funded_group)
cli.add_command(projects_cli.matching_group)


def _session():
    return current_app.extensions["passerelle"].session_factory()


# Database -------------------------------------------------------------------------------------

def alembic_config(url: str | None = None):
    cfg = Config(str(Path(__file__).resolve().parent.parent / "migrations" / "alembic.ini"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@cli.group()
def db():
    """Migrations de la base (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision):
    """Applique les migrations jusqu'à REVISION (head par défaut), puis publie les modèles de contrats
    du dépôt qui ne sont pas encore en base (données de référence livrées avec le code)."""
    command.upgrade(alembic_config(current_app.config["SETTINGS"].sqlalchemy_url), revision)
    if revision == "head":
        session = _session()
        try:
            created = contract_library.sync(session)
            session.commit()
        finally:
            session.close()
        if created:
            click.echo("Modèles de contrats publiés : " + ", ".join(f"{t.title} (v{t.version})" for t in created) + ".")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision):
    """Revient à REVISION (« base » pour tout défaire)."""
    command.downgrade(alembic_config(current_app.config["SETTINGS"].sqlalchemy_url), revision)


@db.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message):
    """Crée une migration à partir des modèles (autogenerate)."""
    command.revision(alembic_config(current_app.config["SETTINGS"].sqlalchemy_url), message=message,
                     autogenerate=True)


@db.command("check")
@with_appcontext
def db_check():
    """Vérifie que les migrations et les modèles concordent."""
    command.check(alembic_config(current_app.config["SETTINGS"].sqlalchemy_url))
    click.echo("Les modèles et les migrations concordent.")


# Territories ----------------------------------------------------------------------------------

@cli.group()
def territories():
    """Référentiel des territoires (INSEE)."""


@territories.command("import")
@click.option("--from", "source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Dossier des JSON de @etalab/decoupage-administratif : rafraîchit aussi la copie livrée.")
@with_appcontext
def territories_import(source):
    """Importe (ou met à jour) régions, départements, EPCI et communes. Idempotent."""
    services = territory_services
    if source:
        snapshot = services.snapshot_from_upstream(source)
        services.write_snapshot(snapshot)
        click.echo(f"Copie livrée mise à jour : {services.SNAPSHOT.name}")
    else:
        snapshot = services.read_snapshot()
    total = sum(len(x) for x in (snapshot.regions, snapshot.departements, snapshot.epcis, snapshot.communes))
    session = _session()
    with click.progressbar(length=total, label="Import des territoires", file=sys.stderr) as bar:
        report = services.import_snapshot(session, snapshot, progress=bar.update)
    audit.record(session, TenantEvent.territories_imported, actor_id=None, tenant_id=None,
                 object_type="territories", **report.created)
    session.commit()
    click.echo(report.summary())


# Search ---------------------------------------------------------------------------------------

@cli.group("search")
def search_group():
    """Index de recherche."""


@search_group.command("reindex")
@click.option("--all-nodes", is_flag=True,
              help="Demande la reconstruction à chaque serveur (par le journal des changements) au lieu de "
                   "reconstruire ici.")
@with_appcontext
def search_reindex(all_nodes):
    """Reconstruit l'index de ce serveur à partir de la base, puis le met en service d'un coup."""
    if all_nodes:
        session = _session()
        try:
            change = request_rebuild(session)
            session.commit()
        finally:
            session.close()
        click.echo(f"Reconstruction demandée à chaque serveur (changement n° {change.id}).")
        return
    session = _session()
    bar = None

    def on_total(total):
        nonlocal bar
        bar = click.progressbar(length=total, label="Indexation", file=sys.stderr)
        bar.__enter__()

    try:
        count = rebuild(current_app.config["SETTINGS"].search_dir, session,
                        progress=lambda n: bar.update(n), on_total=on_total,
                        fresh_session=current_app.extensions["passerelle"].session_factory)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        session.close()
    click.echo(f"Index reconstruit : {count} document(s).")


@search_group.command("follow")
@click.option("--once", is_flag=True, help="Rattrape le journal puis s'arrête.")
@click.option("--parent", type=int, default=None, help="S'arrête quand ce processus parent disparaît.")
@with_appcontext
def search_follow(once, parent):
    """Applique à l'index de ce serveur le journal des changements, en continu (un par serveur)."""
    app = current_app._get_current_object()
    root = app.config["SETTINGS"].search_dir
    factory = app.extensions["passerelle"].session_factory
    if once:
        click.echo(f"Index à jour : {catch_up(app)} changement(s) lu(s).")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    Follower(root, factory, context=app.app_context).run(stop, parent=parent)


@search_group.command("status")
@with_appcontext
def search_status():
    """État de l'index et de son suivi du journal."""
    settings = current_app.config["SETTINGS"]
    s = state(settings.search_dir)
    click.echo(f"{'disponible' if s.available else 'indisponible'} — {s.doc_count} document(s)"
               f"{' — ' + s.error if s.error else ''}{' — reconstruction en cours' if s.rebuilding else ''}")
    session = _session()
    try:
        click.echo(follow_state(settings.search_dir, session).summary())
    finally:
        session.close()


# Demo data ------------------------------------------------------------------------------------

@cli.group()
def demo():
    """Données de démonstration."""


@demo.command("seed")
@with_appcontext
def demo_seed():
    """Crée les organisations et comptes de démonstration (sans effet s'ils existent)."""
    session = _session()
    accounts = demo_data.seed(session)
    session.commit()
    demo_data.print_accounts(accounts)


# Users ----------------------------------------------------------------------------------------

@cli.command("create-admin")
@click.option("--email", prompt="Adresse électronique")
@click.option("--name", "full_name", prompt="Prénom et nom")
@click.password_option("--password", prompt="Mot de passe")
@with_appcontext
def create_admin(email, full_name, password):
    """Crée un administrateur de la plateforme (membre administrateur de l'opérateur ANCT)."""
    services = tenant_services
    session = _session()
    try:
        user = services.create_user(session, email, full_name, password, is_platform_admin=True)
        operator = session.scalar(select(Tenant).where(Tenant.kind == TenantKind.operator).order_by(Tenant.id))
        if operator is None:
            operator = services.create_tenant(session, user, TenantKind.operator,
                                              "Agence nationale de la cohésion des territoires (ANCT)")
        services.add_membership(session, user, operator, Role.admin)
        session.commit()
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Administrateur créé : {user.email} ({operator.name})")


# Jobs -----------------------------------------------------------------------------------------

@cli.command("worker")
@click.option("--burst", is_flag=True, help="S'arrête quand les files sont vides.")
@click.option("--queues", default=None, help="Files à servir, séparées par des virgules.")
@click.option("--name", default=None)
@with_appcontext
def worker(burst, queues, name):
    """Lance un worker RQ (avec le planificateur des tâches différées)."""
    run_worker(current_app.config["SETTINGS"], queues.split(",") if queues else None, burst=burst, name=name)


@cli.command("cron")
@with_appcontext
def cron():
    """Lance le planificateur des tâches périodiques (un seul par installation)."""
    run_cron(current_app.config["SETTINGS"])


# The embedded launcher ------------------------------------------------------------------------

@cli.command("run")
@click.option("--port", type=int, default=None, help="Port HTTP (variable PORT, 5000 par défaut).")
@click.option("--workers", type=int, default=2, help="Processus web (gunicorn).")
def run(port, workers):
    """Lance Passerelle en mode embarqué : base, file d'attente, worker, planificateur et web."""
    launch(port=port, web_workers=workers)


def main() -> None:
    try:
        cli.main(prog_name="passerelle")
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()


# Billing ------------------------------------------------------------------------------------------

@cli.group()
def billing():
    """Facturation (Stripe)."""


@billing.command("sync-plans")
@with_appcontext
def billing_sync_plans():
    """Crée ou retrouve, par leur clé, le produit et les prix de l'offre Pro dans Stripe (idempotent)."""
    try:
        prices = billing_services.sync_plans(current_app.config["SETTINGS"])
    except ServiceError as problem:
        raise click.ClickException(problem.message) from None
    for key, price in prices.items():
        click.echo(f"{key} : {price}")
