"""`gate serve` as a real process on loopback: the quote -> pay -> exit story over HTTP."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from serve_support import make_tokens, wait_until_serving

from gate.rules.codes import Role
from gate.store.ledger import Ledger

START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
def server(db_url):
    """(base URL, tokens by role) of a `gate serve` subprocess on the test database."""
    with Ledger.open(db_url) as ledger:
        tokens = make_tokens(ledger)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gate.cli", "serve", "--port", str(port), "--db", db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, base, START_TIMEOUT_S)
    try:
        yield base, tokens
    finally:
        proc.terminate()
        output = proc.communicate(timeout=15)[0]
        # graceful: uvicorn finishes the requests in flight, closes the ledger, then re-raises SIGTERM
        assert proc.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in output, output
        for headers in tokens.values():
            assert headers["Authorization"].split()[1] not in output  # secrets are never logged


@pytest.mark.slow
def test_an_unauthenticated_3_mb_post_is_a_413_and_the_server_serves_on(server):
    from gate.serve.limits import DEFAULT_MAX_BODY

    base, _tokens = server
    huge = b"A" * (3 * 1024 * 1024)
    for path, media in (("/login", "application/x-www-form-urlencoded"), ("/api/payments", "application/json")):
        response = httpx.post(f"{base}{path}", content=huge, headers={"Content-Type": media}, timeout=30)
        assert response.status_code == 413, (path, response.text)
        assert response.json() == {"detail": f"request body is {len(huge)} bytes: at most {DEFAULT_MAX_BODY} bytes here"}
    assert httpx.get(f"{base}/health", timeout=5).status_code == 200


@pytest.mark.slow
def test_quote_pay_exit_over_http_with_concurrent_payment_replays(server):
    base, tokens = server
    entered = datetime.now(timezone.utc) - timedelta(hours=2)
    with httpx.Client(base_url=base, timeout=10) as http:
        read = {"lane": "entry", "gate_id": "entry-1", "plate": "12-345-67", "confidence": 0.97, "at": z(entered)}
        entry = http.post("/api/reads", json=read, headers=tokens[Role.CAMERA]).json()
        assert entry["open"] is True

        denied = http.post("/api/reads", json={**read, "lane": "exit", "gate_id": "exit-1", "at": None},
                           headers=tokens[Role.CAMERA]).json()
        assert denied["open"] is False and denied["reason"] == "unpaid"

        quote = http.get("/api/quote", params={"plate": "1234567"}, headers=tokens[Role.PAY_STATION]).json()
        assert quote["amount_due"] > 0 and quote["visit"]["visit_id"] == entry["visit_id"]

    def pay(_: int) -> httpx.Response:
        body = {"plate": "1234567", "payment_id": "ps1-000123"}
        return httpx.post(f"{base}/api/payments", json=body, headers=tokens[Role.PAY_STATION], timeout=30)

    with ThreadPoolExecutor(8) as pool:  # the pay station retries while its first request is in flight
        receipts = [r.json() for r in pool.map(pay, range(8))]
    assert sorted(r["replayed"] for r in receipts) == [False] + [True] * 7
    assert len({(r["visit_id"], r["amount"], r["paid_at"]) for r in receipts}) == 1
    assert receipts[0]["amount"] == quote["amount_due"]

    with httpx.Client(base_url=base, timeout=10) as http:
        opened = http.post("/api/reads", json={**read, "lane": "exit", "gate_id": "exit-1", "at": None},
                           headers=tokens[Role.CAMERA]).json()
        assert (opened["open"], opened["reason"]) == (True, "paid")
        csv = http.get("/api/visits", params={"format": "csv"}, headers=tokens[Role.VIEWER]).text
        assert csv.splitlines()[1].startswith(f"{entry['visit_id']},1234567,") and ",closed," in csv
        assert http.get("/api/quote", params={"plate": "1234567"}).status_code == 401


@pytest.mark.slow
def test_a_misread_entry_is_paid_by_choosing_its_candidate_over_http(server):
    base, tokens = server
    entered = datetime.now(timezone.utc) - timedelta(hours=1)
    with httpx.Client(base_url=base, timeout=10) as http:
        read = {"lane": "entry", "gate_id": "entry-1", "plate": "12-345-61", "confidence": 0.9, "at": z(entered)}
        entry = http.post("/api/reads", json=read, headers=tokens[Role.CAMERA]).json()
        quote = http.get("/api/quote", params={"plate": "12-345-67"}, headers=tokens[Role.PAY_STATION]).json()
        [candidate] = quote["candidates"]
        assert candidate["visit_id"] == entry["visit_id"] and candidate["amount_due"] > 0
        body = {"plate": "12-345-67", "payment_id": "ps1-9", "visit_id": candidate["visit_id"]}
        receipt = http.post("/api/payments", json=body, headers=tokens[Role.PAY_STATION]).json()
        assert (receipt["typed_plate"], receipt["amount"]) == ("1234567", candidate["amount_due"])
        exit_read = {**read, "lane": "exit", "gate_id": "exit-1", "plate": "12-345-67", "at": None}
        opened = http.post("/api/reads", json=exit_read, headers=tokens[Role.CAMERA]).json()
        assert (opened["open"], opened["visit_id"]) == (True, entry["visit_id"])
        flagged = http.get("/api/visits", params={"flagged": "true"}, headers=tokens[Role.VIEWER]).json()
        assert [v["visit_id"] for v in flagged["visits"]] == [entry["visit_id"]]
