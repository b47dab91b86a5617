"""Ledger fixtures: every ledger test runs on SQLite and on PostgreSQL.

PostgreSQL needs $PLATEGATE_TEST_PG_URL (``source .ci/start_postgres.sh``);
without it those tests skip with that reason.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import text

from gate.rules.policy import Policy
from gate.store.ledger import Ledger

PG_ENV = "PLATEGATE_TEST_PG_URL"
TABLES = ("review_items, overrides, evidence, gate_commands, decisions, payments, reads, plate_lists, visits, api_tokens,"
          " login_failures, web_sessions, users")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite ledger, copied per test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    Ledger.open(str(path)).close()
    return path


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need ${PG_ENV} (run: source .ci/start_postgres.sh)")
    Ledger.upgrade_schema(url)  # migrate once (a test database left at an older schema too)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """An empty, migrated ledger on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    ledger = Ledger.open(url, migrate=False)
    with ledger.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    ledger.close()
    return url


@pytest.fixture
def make_ledger(db_url: str) -> Iterator[Callable[..., Ledger]]:
    """Open ledgers on the test database with a policy that differs from the default (capacity=2, ...)."""
    opened: list[Ledger] = []

    def factory(**policy: Any) -> Ledger:
        ledger = Ledger.open(db_url, policy=Policy(**policy))
        opened.append(ledger)
        return ledger

    yield factory
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger]) -> Ledger:
    return make_ledger()


@pytest.fixture(autouse=True)
def _no_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use the documented defaults, whatever the developer's environment says."""
    monkeypatch.delenv("PLATEGATE_CONFIG", raising=False)
    monkeypatch.delenv("PLATEGATE_DB", raising=False)
