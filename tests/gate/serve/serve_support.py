"""Helpers of the API tests (a uniquely named module: tests/ has no packages)."""
from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from gate.rules.codes import Role
from gate.store.ledger import Ledger
from gate.store.tokens import Tokens


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def make_tokens(ledger: Ledger) -> dict[Role, dict[str, str]]:
    """One token per role, named after it: {role: its Authorization header}."""
    tokens = Tokens(ledger)
    return {role: bearer(tokens.create(f"{role}-1", role).secret) for role in Role}


def wait_until_serving(proc: subprocess.Popen, base: str, timeout_s: float = 30) -> None:
    """Poll ``base``/health until the `gate serve` process answers 200; fail with its output if it dies or
    does not come up in time (the server's start-up, not the test's subject)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"gate serve did not come up on {base}: {proc.communicate()[0]}")
        time.sleep(0.1)
