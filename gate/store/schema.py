"""The ledger schema's version: checked on every open without a lock, migrated only when asked.

Every command used to run Alembic's upgrade on open, which on SQLite took the
write lock (BEGIN IMMEDIATE) even with nothing to migrate: ``gate visits``
waited for any writer. Now opening a ledger reads ``alembic_version`` in a
read-only transaction and compares it with ``HEAD``; a mismatch is one line
(SchemaMismatch, exit code 2) with the fix. Only ``gate db upgrade`` and the
first start on an empty database migrate, and only they import Alembic
(0.3 s of start-up).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, inspect, select

from gate.rules.errors import SchemaMismatch

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# every revision in migrations/versions, oldest first (tests/gate/store/test_gate_schema.py keeps them in step)
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008")
HEAD = REVISIONS[-1]

_version = Table("alembic_version", MetaData(), Column("version_num", String(32), primary_key=True))


def alembic_config() -> "Config":
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    """Alembic's own idea of the head (the tests compare it with HEAD)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(select(_version.c.version_num)).scalar()


def _is_empty(conn: Connection) -> bool:
    return not inspect(conn).get_table_names()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None: never migrated); a read, no write lock."""
    with engine.connect().execution_options(readonly=True) as conn:
        return _revision(conn)


def check(engine: Engine, *, create: bool = True) -> None:
    """Raise SchemaMismatch unless the schema is at HEAD; an empty database is created when ``create``."""
    with engine.connect().execution_options(readonly=True) as conn:
        revision = _revision(conn)
        empty = revision is None and _is_empty(conn)
    if revision == HEAD:
        return
    if empty and create:
        upgrade(engine)  # the first start on an empty database
        return
    if empty:
        raise SchemaMismatch(f"the database has no ledger yet (code schema {HEAD}): run `gate db upgrade`")
    if revision is None:
        raise SchemaMismatch("the database holds tables but no ledger schema version: is it a plategate ledger?")
    if revision not in REVISIONS:
        raise SchemaMismatch(f"the database schema {revision} is newer than this code's ({HEAD}): update plategate")
    raise SchemaMismatch(f"the database schema {revision} is older than this code's ({HEAD}): run `gate db upgrade`")


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to HEAD (a no-op when it already is); returns (before, after). Takes the write lock."""
    before = current_revision(engine)
    if before is not None and before not in REVISIONS:
        raise SchemaMismatch(f"the database schema {before} is newer than this code's ({HEAD}): update plategate")
    if before == HEAD:
        return before, HEAD
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log.info("ledger schema upgraded from %s to %s", before, HEAD)
    return before, HEAD
