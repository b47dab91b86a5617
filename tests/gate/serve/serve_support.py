"""Helpers of the API tests (a uniquely named module: tests/ has no packages)."""
from __future__ import annotations

from gate.rules.codes import Role
from gate.store.ledger import Ledger
from gate.store.tokens import Tokens


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def make_tokens(ledger: Ledger) -> dict[Role, dict[str, str]]:
    """One token per role, named after it: {role: its Authorization header}."""
    tokens = Tokens(ledger)
    return {role: bearer(tokens.create(f"{role}-1", role).secret) for role in Role}
