"""Database plumbing: the declarative base, the tenant guard and the session factory.

Tenant isolation is by construction. Every model that mixes in :class:`TenantOwned` carries a
NOT NULL ``tenant_id``; a session opened for a tenant adds ``tenant_id = :current`` to every ORM
query of such a model (relationship loads included), stamps new rows with it, and refuses to
flush a row of another tenant. Reading across tenants is explicit: see :func:`cross_tenant`.

Known holes of any ORM-level guard, and what closes them here:
- Core ``text()`` statements: refused in a tenant session unless marked ``all_tenants``.
- ``session.get()`` answering from the identity map without SQL: :meth:`TenantSession.get`
  checks the object's tenant.
- Association tables are not entities: a tenant-owned link table is a model with its own
  ``tenant_id`` (never a bare ``Table``), so the same criteria apply.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
import re
import sys
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    MetaData,
    String,
    TypeDecorator,
    cast,
    create_engine,
    event,
    false,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.orm.state import InstanceState
from sqlalchemy.sql.elements import TextClause


def _state_with_its_dict(init):
    """CPython 3.11 (not 3.12: gh-97922) may collect garbage while a first store on an object
    builds its attribute dict. When a session closes, each instance state's first store
    (``_strong_obj = None``) can thus run the state's own weakref callback (``_cleanup``, for
    its object collected in a cycle), which builds that dict too: both own the same values, and
    the process dies later in the collector (a gunicorn worker was seen killed by SIGSEGV under
    load). A state whose dict exists from its creation leaves nothing to build."""
    def __init__(self, obj, manager):
        self.__dict__  # noqa: B018 — built here, before any store
        init(self, obj, manager)

    return __init__


if sys.version_info < (3, 12):
    InstanceState.__init__ = _state_with_its_dict(InstanceState.__init__)

# Stable constraint names, so that migrations can drop what they created on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite (which stores naive text) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


log = logging.getLogger("passerelle.db")


def enum_column(cls: type[enum.Enum], name: str) -> Enum:
    """An enum stored as VARCHAR (native_enum=False, no CHECK): portable, and a new value needs no
    migration; the Python enum refuses unknown values on load and store."""
    return Enum(cls, name=name, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON()}


class TenantOwned:
    """Mixin for private, tenant-owned rows."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True)


class TenantIsolationError(RuntimeError):
    """Code tried to write or read another tenant's private row through a tenant session."""


class TenantSession(Session):
    """A session that may be bound to one tenant (``info['tenant_id']``)."""

    @property
    def tenant_id(self) -> int | None:
        return self.info.get("tenant_id")

    def get(self, entity, ident, **kw):  # type: ignore[override]
        obj = super().get(entity, ident, **kw)
        if obj is not None and not _may_see(self, obj, kw.get("execution_options")):
            return None
        return obj


def _may_see(session: TenantSession, obj: Any, execution_options: dict | None = None) -> bool:
    tenant_id = session.tenant_id
    if tenant_id is None or not isinstance(obj, TenantOwned):
        return True
    if (execution_options or {}).get("all_tenants") or session.info.get("all_tenants"):
        return True
    return obj.tenant_id == tenant_id


@event.listens_for(TenantSession, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    session = state.session
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None or session.info.get("all_tenants") or state.execution_options.get("all_tenants"):
        return
    if isinstance(state.statement, TextClause):
        raise TenantIsolationError(
            "text() statements bypass the tenant guard: use select(), or mark the statement "
            "with execution_options(all_tenants=True) after checking it is tenant-safe"
        )
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(
                TenantOwned,
                lambda cls: cls.tenant_id == tenant_id,
                include_aliases=True,
                track_closure_variables=False,
                propagate_to_loaders=True,
            )
        )


@event.listens_for(TenantSession, "before_flush")
def _stamp_and_check_tenant(session: TenantSession, flush_context, instances) -> None:
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None or session.info.get("all_tenants"):
        return
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantOwned):
            continue
        if obj.tenant_id is None and obj in session.new:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantIsolationError(
                f"{type(obj).__name__} belongs to tenant {obj.tenant_id}, session is bound to {tenant_id}"
            )


@contextlib.contextmanager
def all_tenants(session: TenantSession, *, because: str) -> Iterator[TenantSession]:
    """Lift the tenant guard for a block.

    Every lifting says ``because``: why this read of other tenants' rows is owed no audit event (a
    signed link that is its own authorisation, a user's own memberships, a job that serves every
    tenant). A read that an operator makes of other tenants' data is audited instead, with
    ``marketplace.core.audit.cross_tenant_read``.
    """
    if not because.strip():
        raise ValueError("all_tenants() needs its reason")
    previous = session.info.get("all_tenants", False)
    session.info["all_tenants"] = True
    try:
        yield session
    finally:
        session.info["all_tenants"] = previous


@contextlib.contextmanager
def bound_to_tenant(session: TenantSession, tenant_id: int | None) -> Iterator[TenantSession]:
    previous = session.info.get("tenant_id")
    session.info["tenant_id"] = tenant_id
    try:
        yield session
    finally:
        session.info["tenant_id"] = previous


def make_engine(url: str, **kw) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs: let
            # SQLAlchemy emit BEGIN itself (see the "begin" listener below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A transaction that will write takes the write lock at once (``write_intent``): it
            # then waits its turn (busy_timeout) instead of failing with "database is locked" when
            # it upgrades a read transaction another writer overtook.
            immediate = conn.get_execution_options().get("sqlite_write_intent")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kw)


def write_intent(session: Session) -> None:
    """Say, before the first query, that this transaction will write. On SQLite the write lock is
    then taken at BEGIN (one writer at a time, each waiting its turn); elsewhere nothing changes."""
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_write_intent": True})


def make_session_factory(engine: Engine) -> sessionmaker[TenantSession]:
    return sessionmaker(bind=engine, class_=TenantSession, expire_on_commit=False)


# Callbacks to run once the current transaction has committed (jobs, mails). Registered on the
# session; dropped on rollback, so a job never runs for data that does not exist.
def database_of(session: Session) -> str:
    """The session's database as per-process caches key it: its URL, without the password."""
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def after_commit(session: Session, callback) -> None:
    if not session.in_transaction():
        # Begin now: a rollback before any SQL is otherwise a no-op that fires no event, and the
        # callback would survive it to run on some later, unrelated commit.
        session.begin()
    session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(TenantSession, "after_commit")
def _run_after_commit(session: Session) -> None:
    # SQLAlchemy fires after_commit for a SAVEPOINT release too: that is not the commit, the
    # outer transaction can still roll back.
    if session.in_nested_transaction():
        return
    session.info.pop("after_rollback", None)  # kept: nothing to undo
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        # The data is committed whatever happens now: a callback that fails (the queue is down)
        # must not turn a saved change into an error page. What it would have done is recovered
        # elsewhere (mails wait in the outbox table; the index is rebuilt from the database).
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")


def after_rollback(session: Session, callback) -> None:
    """Undo, outside the database, what the transaction did if it is rolled back (a stored file)."""
    if not session.in_transaction():
        session.begin()
    session.info.setdefault("after_rollback", []).append(callback)


@event.listens_for(TenantSession, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop("after_commit", None)
        for callback in session.info.pop("after_rollback", []):
            try:
                callback()
            except Exception:
                log.exception("after-rollback callback failed")


def json_list_contains(column, slug: str):
    """A JSON list of fixed slugs ([a-z0-9_-] only) holds this one: matching the quoted slug in the
    JSON text is exact, and portable between SQLite and PostgreSQL. Other values match nothing."""
    if not re.fullmatch(r"[a-z0-9_-]+", slug or ""):
        return false()
    return cast(column, String).like(f'%"{slug}"%')


# A ranking this short is checked by its ids; a longer one against every row the statement keeps.
CHECK_BY_IDS = 1000


def page_in_order(session: Session, stmt, model, order: list[int], page: int, per_page: int,
                  options: Sequence = (), kept: Collection[int] | None = None) -> tuple[list, int]:
    """A page of ``stmt``'s rows in a given order of ids (a search's ranking): the statement says
    which rows stay, the order where they go. Returns the page and the number of rows kept.
    ``options``: loader options for the page's rows; ``kept``: the ids the statement keeps, when the
    caller already knows them."""
    if not order:
        return [], 0
    if kept is None:
        ids = stmt.with_only_columns(model.id)
        kept = set(session.scalars(ids.where(model.id.in_(order)) if len(order) <= CHECK_BY_IDS else ids))
    ordered = [i for i in order if i in kept]
    wanted = ordered[(page - 1) * per_page: page * per_page]
    found = ({row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)).options(*options))}
             if wanted else {})
    return [found[i] for i in wanted if i in found], len(ordered)
