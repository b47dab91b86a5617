"""Web page fixtures: the app on a TestClient with a seeded lot, users, an evidence folder and a clock."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from web_support import OPERATOR, VIEWER, Lot, login, make_users, seed

from gate.serve.app import create_app
from gate.store.ledger import Ledger


@dataclass
class Clock:
    """The users' clock (sessions, failed logins): moved by the test, never slept on."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Site:
    app_client: Callable[[], TestClient]  # a fresh client (its own cookies) on the same app
    client: TestClient
    ledger: Ledger
    lot: Lot
    clock: Clock
    evidence_dir: Path


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    evidence_dir = tmp_path / "evidence"
    with Ledger.open(db_url, migrate=False) as ledger:
        make_users(ledger)
        lot = seed(ledger, evidence_dir)
    clock = Clock(datetime.now(timezone.utc))
    app = create_app(lambda: Ledger.open(db_url, migrate=False))
    clients: list[TestClient] = []

    def new_client() -> TestClient:
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    client = new_client()
    app.state.clock = clock
    app.state.evidence_dir = evidence_dir
    try:
        yield Site(new_client, client, app.state.ledger, lot, clock, evidence_dir)
    finally:
        for c in reversed(clients):
            c.__exit__(None, None, None)


@pytest.fixture
def operator(site: Site) -> tuple[TestClient, str]:
    """A client logged in as the operator, and its CSRF token."""
    return site.client, login(site.client, OPERATOR)


@pytest.fixture
def viewer(site: Site) -> tuple[TestClient, str]:
    client = site.app_client()
    return client, login(client, VIEWER)

