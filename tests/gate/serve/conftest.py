"""API fixtures: the app on a TestClient over each backend's ledger, and one token per role."""
from __future__ import annotations

from typing import Iterator

import pytest
from fastapi.testclient import TestClient
from serve_support import make_tokens

from gate.rules.codes import Role
from gate.serve.app import create_app
from gate.store.ledger import Ledger


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    """The app on the test database; entering the client runs its start-up (the ledger opens)."""
    with TestClient(create_app(lambda: Ledger.open(db_url, migrate=False))) as client:
        yield client


@pytest.fixture
def as_role(api: TestClient) -> dict[Role, dict[str, str]]:
    """Authorization headers, one per role."""
    return make_tokens(api.app.state.ledger)  # type: ignore[attr-defined]
