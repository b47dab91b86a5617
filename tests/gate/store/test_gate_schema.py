"""Schema: Alembic creates and upgrades it; SQLite is tuned for several processes."""
from __future__ import annotations

import sqlite3
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from gate.rules.errors import SchemaMismatch
from gate.store import db, schema
from gate.store.ledger import Ledger
from gate.store.models import include_name, schema_metadata


def test_migrations_bring_the_ledger_to_head_and_match_the_models(db_url):
    ledger = Ledger.open(db_url)
    try:
        assert schema.current_revision(ledger.engine) == schema.head_revision()
        with ledger.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), schema_metadata()) == []
    finally:
        ledger.close()


def test_opening_twice_does_not_migrate_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    Ledger.open(url).close()
    ledger = Ledger.open(url)
    assert schema.current_revision(ledger.engine) == schema.HEAD == schema.REVISIONS[-1]
    ledger.close()


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path):
    engine = db.make_engine(str(tmp_path / "l.db"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.BUSY_TIMEOUT_MS
    engine.dispose()


def test_url_resolution_prefers_the_option_then_the_environment_then_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert db.resolve_url(None) == f"sqlite:///{tmp_path / 'plategate.db'}"
    monkeypatch.setenv("PLATEGATE_DB", "postgresql+psycopg://u@h/d")
    assert db.resolve_url(None) == "postgresql+psycopg://u@h/d"
    assert db.resolve_url("other.db") == f"sqlite:///{tmp_path / 'other.db'}"


def test_the_revisions_the_code_knows_are_alembics_without_importing_it_at_open():
    walk = ScriptDirectory.from_config(schema.alembic_config()).walk_revisions()
    assert tuple(reversed([r.revision for r in walk])) == schema.REVISIONS
    assert schema.HEAD == schema.head_revision()


def test_opening_and_reading_take_no_write_lock(tmp_path):
    path = tmp_path / "l.db"
    Ledger.open(str(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        start = time.monotonic()
        with Ledger.open(str(path)) as ledger:
            assert ledger.visits() == [] and ledger.review_queue() == []
        assert time.monotonic() - start < 2  # was 32 s: the schema check took the write lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _set_revision(path, revision):
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def test_a_newer_schema_than_the_code_is_refused_with_a_hint_and_never_migrated(tmp_path):
    path = tmp_path / "l.db"
    Ledger.open(str(path)).close()
    _set_revision(path, "0099")
    with pytest.raises(SchemaMismatch, match=f"schema 0099 is newer than this code's .{schema.HEAD}.: update plategate"):
        Ledger.open(str(path))
    with pytest.raises(SchemaMismatch):
        Ledger.upgrade_schema(str(path))


def test_only_an_upgrade_or_a_first_start_migrates(tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(SchemaMismatch, match="run `gate db upgrade`"):
        Ledger.open(str(empty), migrate=False)
    assert Ledger.upgrade_schema(str(empty)) == (None, schema.HEAD)
    assert Ledger.upgrade_schema(str(empty)) == (schema.HEAD, schema.HEAD)  # a no-op the second time
    Ledger.open(str(empty), migrate=False).close()


def test_a_database_with_foreign_tables_is_not_taken_for_a_ledger(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (x)")
    with pytest.raises(SchemaMismatch, match="no ledger schema version"):
        Ledger.open(str(path))


def test_the_schema_check_reads_the_version_on_postgresql_too(db_url):
    with Ledger.open(db_url) as ledger:
        with ledger.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == schema.HEAD


def test_an_0001_ledger_upgrades_to_api_tokens_and_keeps_its_visits(tmp_path):
    from alembic import command

    path = tmp_path / "old.db"
    engine = db.make_engine(str(path))
    cfg = schema.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO visits (plate, entry_at, state) VALUES ('1234567', '2025-03-02 08:00:00', 'open')"))
    engine.dispose()
    with pytest.raises(SchemaMismatch, match=f"schema 0001 is older than this code's .{schema.HEAD}.: run `gate db upgrade`"):
        Ledger.open(str(path))
    assert Ledger.upgrade_schema(str(path)) == ("0001", schema.HEAD)
    with Ledger.open(str(path)) as ledger:
        assert [v.plate for v in ledger.visits()] == ["1234567"]
        with ledger.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 0
