"""Schema: Alembic creates and upgrades it; SQLite is tuned for several processes."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gate.store import db, schema
from gate.store.ledger import Ledger
from gate.store.models import metadata


def test_migrations_bring_the_ledger_to_head_and_match_the_models(db_url):
    ledger = Ledger.open(db_url)
    try:
        assert schema.current_revision(ledger.engine) == schema.head_revision()
        with ledger.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        ledger.close()


def test_opening_twice_does_not_migrate_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    Ledger.open(url).close()
    ledger = Ledger.open(url)
    assert schema.current_revision(ledger.engine) == "0001"
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
