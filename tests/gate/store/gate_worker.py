"""A gate process for the reliability tests (run as a script, never imported).

    gate_worker.py URL burst N           entry/pay/exit cycles; prints each committed decision id
    gate_worker.py URL exits PLATES...   waits for "go" on stdin, exits each plate; prints JSON per decision
    gate_worker.py URL entries PLATES... same, for entries (capacity from $WORKER_CAPACITY)
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone

from gate.rules.policy import Policy
from gate.store.ledger import Ledger

T0 = datetime(2025, 3, 2, 8, 0, tzinfo=timezone.utc)


def burst(ledger: Ledger, n: int) -> None:
    for i in range(n):
        plate = f"{1000000 + i % 5000:07d}"
        start = T0 + timedelta(minutes=i)
        for lane, when in (("entry", start), ("exit", start + timedelta(minutes=90))):
            d = ledger.decide(lane, plate, when)
            print(f"decision {d.decision_id} {d.action} {d.visit_id}", flush=True)
            if lane == "entry":
                r = ledger.pay(plate, start + timedelta(minutes=80), payment_id=f"p{i}")
                print(f"payment {r.payment_id} {r.visit_id}", flush=True)


def concurrent(ledger: Ledger, lane: str, plates: list[str]) -> None:
    print("ready", flush=True)
    sys.stdin.readline()  # start together with the other workers
    for plate in plates:
        d = ledger.decide(lane, plate, T0 + timedelta(minutes=100))
        print(json.dumps({"plate": plate, "action": d.action, "reason": d.reason, "visit_id": d.visit_id}), flush=True)


def main() -> None:
    url, mode, *rest = sys.argv[1:]
    policy = Policy(capacity=int(os.environ["WORKER_CAPACITY"])) if "WORKER_CAPACITY" in os.environ else None
    ledger = Ledger.open(url, policy=policy)
    try:
        if mode == "burst":
            burst(ledger, int(rest[0]))
        else:
            concurrent(ledger, {"exits": "exit", "entries": "entry"}[mode], rest)
    finally:
        ledger.close()


if __name__ == "__main__":
    main()
