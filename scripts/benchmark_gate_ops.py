"""Timings of the gate-side operations of issue 13 on a SQLite ledger (or --db URL):

- a lane's command poll (``GateCommands.claim`` with nothing pending, every second per gate) and its plan;
- the decision log (``list_decisions``): first page, one gate over one day, denials only; plans;
- ``POST /api/reads`` with a 960x540 JPEG frame and a plate crop (in-process app: JSON, base64, header
  check, two files written, the decision committed);
- the review queue at ``--reviews`` items, 1 in 50 still open: the check for an open item before a flagged
  decision files another, the admin header's count, the review page's open and resolved lists, a visit's items.

    .venv/bin/python scripts/benchmark_gate_ops.py --decisions 1000000 --commands 100000
"""
from __future__ import annotations

import argparse
import base64
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
from sqlalchemy import select, text

from gate.store import models
from gate.store.commands import GateCommands
from gate.store.decision_log import DecisionFilter, list_decisions
from gate.store.ledger import Ledger

GATES = ["north-entry", "south-entry", "north-exit", "south-exit"]


def timed(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """(p50, p95) in ms over n calls after one warm-up."""
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def fill(ledger: Ledger, decisions: int, commands: int, days: int, reviews: int = 0) -> datetime:
    """Bulk rows: decisions spread over ``days`` at 4 gates (1 in 10 a denial), commands all done, review items
    (1 in 50 open)."""
    rng = random.Random(13)
    end = datetime(2025, 6, 1, tzinfo=timezone.utc)
    start = end - timedelta(days=days)
    span = (end - start).total_seconds()
    with ledger.engine.begin() as conn:
        batch = []
        for i in range(decisions):
            gate = GATES[i % 4]
            deny = rng.random() < 0.1
            batch.append({"lane": "entry" if "entry" in gate else "exit", "plate": f"{rng.randrange(10**7):07d}",
                          "action": "deny" if deny else "open", "reason": "unpaid" if deny else "entered",
                          "visit_id": None, "amount_due_agorot": 1200 if deny else 0, "flagged": False,
                          "at": start + timedelta(seconds=span * i / decisions), "gate": gate, "votes": None})
            if len(batch) == 20000:
                conn.execute(models.decisions.insert(), batch)
                batch = []
        if batch:
            conn.execute(models.decisions.insert(), batch)
        done = [{"gate": GATES[i % 4], "command": "open", "visit_id": None, "requested_by": "bench",
                 "reason": "bench", "requested_at": start, "done_at": start} for i in range(commands)]
        for k in range(0, len(done), 20000):
            conn.execute(models.gate_commands.insert(), done[k:k + 20000])
        items = [{"kind": "low-confidence", "plate": f"{rng.randrange(10**7):07d}", "visit_id": None,
                  "decision_id": None, "reason": "bench", "created_at": start + timedelta(seconds=span * i / reviews),
                  "resolved_at": None if i % 50 == 0 else end, "resolved_by": None if i % 50 == 0 else "bench",
                  "resolution": None} for i in range(reviews)]
        for k in range(0, len(items), 20000):
            conn.execute(models.review_items.insert(), items[k:k + 20000])
    return end


def plans(ledger: Ledger) -> None:
    explain = "EXPLAIN QUERY PLAN" if ledger.engine.dialect.name == "sqlite" else "EXPLAIN"
    queries = {
        "command poll": "SELECT * FROM gate_commands WHERE gate = 'north-exit' AND done_at IS NULL ORDER BY id "
                        "LIMIT 20",
        "decisions, one gate, one day": "SELECT * FROM decisions WHERE gate = 'north-exit' AND at >= '2025-05-30' "
                                        "AND at <= '2025-05-31' ORDER BY at DESC, id DESC LIMIT 100",
        "decisions, first page": "SELECT * FROM decisions ORDER BY at DESC, id DESC LIMIT 100",
        "decisions, count of denials": "SELECT count(*) FROM decisions WHERE action = 'deny'",
        "review, open item check": "SELECT id FROM review_items WHERE kind = 'low-confidence' AND plate = '1234567' "
                                   "AND visit_id = 7 AND resolved_at IS NULL LIMIT 1",
        "review, open count": "SELECT count(*) FROM review_items WHERE resolved_at IS NULL",
        "review, open page": "SELECT * FROM review_items WHERE resolved_at IS NULL ORDER BY id LIMIT 100",
        "review, recently resolved": "SELECT * FROM review_items WHERE resolved_at IS NOT NULL "
                                     "ORDER BY resolved_at DESC LIMIT 50",
        "review, a visit's items": "SELECT * FROM review_items WHERE visit_id = 7 ORDER BY id",
    }
    with ledger.engine.connect() as conn:
        for name, sql in queries.items():
            plan = " | ".join(str(r[-1]).strip() for r in conn.execute(text(f"{explain} {sql}")))
            print(f"plan {name}: {plan}")


def review_timings(ledger: Ledger) -> None:
    from gate.rules.codes import ReviewKind
    from gate.serve.web import data
    from gate.store import queries

    ri = models.review_items
    with ledger.engine.connect() as conn:
        check = partial(queries.has_unresolved_review, conn, ReviewKind.LOW_CONFIDENCE, "1234567", 7)
        print("review, open item check: p50 %.2f ms, p95 %.2f ms" % timed(check, 200))
        visit = partial(lambda: conn.execute(select(ri).where(ri.c.visit_id == 7).order_by(ri.c.id)).all())
        print("review, a visit's items: p50 %.2f ms, p95 %.2f ms" % timed(visit, 50))
    print("review, header counts: p50 %.1f ms, p95 %.1f ms" % timed(partial(data.counts, ledger), 50))
    print("review, open page (100): p50 %.1f ms, p95 %.1f ms" % timed(partial(data.review_rows, ledger, 100), 20))
    print("review, audit log (50): p50 %.1f ms, p95 %.1f ms" % timed(partial(data.audit_log, ledger, 50), 20))


def post_reads(db: str, evidence: Path, n: int) -> tuple[float, float]:
    from fastapi.testclient import TestClient

    from gate.rules.codes import Role
    from gate.serve.app import create_app
    from gate.store.tokens import Tokens

    rng = np.random.default_rng(1)
    frame = cv2.imencode(".jpg", rng.integers(0, 255, (540, 960, 3), np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
    plate = cv2.imencode(".jpg", rng.integers(0, 255, (32, 128, 3), np.uint8))[1]
    images = {"frame": base64.b64encode(frame.tobytes()).decode(), "plate": base64.b64encode(plate.tobytes()).decode()}
    print(f"POST /api/reads body: frame {len(frame.tobytes()) // 1024} KiB, plate {len(plate.tobytes())} B")
    with TestClient(create_app(lambda: Ledger.open(db, migrate=False), evidence)) as api:
        token = Tokens(api.app.state.ledger).create(f"bench-{time.time_ns()}", Role.CAMERA).secret  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {token}"}
        counter = iter(range(10**6))

        def one() -> None:
            i = next(counter)
            body = {"lane": "entry", "gate_id": "north-entry", "plate": f"{9000000 + i:07d}", "confidence": 0.95,
                    "votes": [{"plate": f"{9000000 + i:07d}", "frames": 8, "score": 0.9}], "evidence": images}
            assert api.post("/api/reads", json=body, headers=headers).status_code == 200

        return timed(one, n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--decisions", type=int, default=1_000_000)
    ap.add_argument("--commands", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--reviews", type=int, default=100_000, help="review items (1 in 50 open)")
    ap.add_argument("--reads", type=int, default=100, help="POST /api/reads requests to time")
    ap.add_argument("--db", help="a database URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="plategate-bench-"))
    db = args.db or f"sqlite:///{folder / 'ledger.db'}"
    with Ledger.open(db) as ledger:
        t0 = time.perf_counter()
        end = fill(ledger, args.decisions, args.commands, args.days, args.reviews)
        print(f"filled {args.decisions} decisions, {args.commands} done commands, {args.reviews} review items "
              f"in {time.perf_counter() - t0:.0f} s")
        plans(ledger)
        commands = GateCommands(ledger)
        print("command poll (nothing pending): p50 %.2f ms, p95 %.2f ms" % timed(lambda: commands.claim("north-exit"),
                                                                                    200))
        day = DecisionFilter(gate="north-exit", since=end - timedelta(days=2), until=end - timedelta(days=1))
        cases = {"first page": DecisionFilter(), "one gate, one day": day,
                 "denials only": DecisionFilter(action="deny")}
        for name, where in cases.items():
            for count in (False, True):
                page = partial(list_decisions, ledger, where, 100, 0, count=count)
                p50, p95 = timed(page, 20)
                print(f"decisions {name}{' + count' if count else ''}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        review_timings(ledger)
    p50, p95 = post_reads(db, folder / "evidence", args.reads)
    print(f"POST /api/reads with both images: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
