#!/usr/bin/env python3
"""Ledger throughput: gate decisions per second for an entry/pay/exit mix.

Each car: entry read, one exit read before paying (denied) for every third
car, payment, paid exit read. Every operation is one committed transaction,
as at a real gate. Cars come in waves of 200 so the lot stays under capacity.

    python scripts/benchmark_ledger.py                       # SQLite file in a temp dir
    python scripts/benchmark_ledger.py --pg-url postgresql+psycopg://...  # also PostgreSQL
    python scripts/benchmark_ledger.py --json out/bench_ledger.json

The PostgreSQL URL may also come from $PLATEGATE_BENCH_PG_URL or
$PLATEGATE_TEST_PG_URL; the run only adds rows (fresh random plates, every
visit closed at the end).

Target: >= 1,000 decisions/s on a SQLite file and >= 300/s on PostgreSQL over
loopback. A gate decides once per car, so this is ample headroom for many
lanes on one ledger, not the most the hardware allows; each result line says
whether it met its target.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gate.store.ledger import Ledger

WAVE = 200
TARGET_PER_S = {"sqlite": 1000.0, "postgresql": 300.0}


def run(url: str, cars: int, sqlite_synchronous: str = "NORMAL") -> dict[str, object]:
    ledger = Ledger.open(url, sqlite_synchronous=sqlite_synchronous)
    base = random.randrange(1_000_000, 9_000_000 - cars)
    # a random past day (the ledger refuses times after now + 1 day): runs on one file do not collide
    t0 = datetime(2001, 1, 1, tzinfo=timezone.utc) + timedelta(days=random.randrange(7300))
    counts = {"open": 0, "deny": 0, "review": 0, "pay": 0}
    latencies: list[float] = []
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        for wave_start in range(0, cars, WAVE):
            plates = [f"{base + i:07d}" for i in range(wave_start, min(cars, wave_start + WAVE))]
            steps: list[tuple[str, str, datetime]] = []
            for k, plate in enumerate(plates):
                entry = t0 + timedelta(seconds=wave_start + k)
                steps.append(("entry", plate, entry))
            for k, plate in enumerate(plates):
                entry = t0 + timedelta(seconds=wave_start + k)
                if k % 3 == 0:
                    steps.append(("exit", plate, entry + timedelta(minutes=70)))
                steps.append(("pay", plate, entry + timedelta(minutes=80)))
                steps.append(("exit", plate, entry + timedelta(minutes=90)))
            for op, plate, when in steps:
                t = time.perf_counter()
                if op == "pay":
                    ledger.pay(plate, when)
                    counts["pay"] += 1
                else:
                    counts[ledger.decide(op, plate, when).action] += 1
                latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    finally:
        ledger.close()
    latencies.sort()
    total = len(latencies)
    target = TARGET_PER_S[ledger.engine.dialect.name]
    return {
        "backend": url.split(":", 1)[0],
        "cars": cars,
        "operations": total,
        "seconds": round(elapsed, 3),
        "decisions_per_s": round(total / elapsed, 1),
        # per CPU second of this process: what the ledger costs without the machine's other load
        "decisions_per_cpu_s": round(total / cpu, 1),
        "p50_ms": round(1000 * latencies[total // 2], 3),
        "p99_ms": round(1000 * latencies[int(total * 0.99)], 3),
        "counts": counts,
        "target_per_s": target,
        "meets_target": total / elapsed >= target,
        "sqlite_synchronous": sqlite_synchronous if url.startswith("sqlite") else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=2000, help="cars per backend (about 3.3 operations each)")
    parser.add_argument("--sqlite", help="SQLite file to use (default: a fresh temp file)")
    parser.add_argument("--sqlite-synchronous", default="NORMAL", choices=["NORMAL", "FULL"])
    parser.add_argument(
        "--pg-url", default=os.environ.get("PLATEGATE_BENCH_PG_URL") or os.environ.get("PLATEGATE_TEST_PG_URL")
    )
    parser.add_argument("--json", dest="json_path", help="also write the results here")
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_path = Path(args.sqlite or Path(tmp) / "bench.db").resolve()
        results.append(run(f"sqlite:///{sqlite_path}", args.cars, args.sqlite_synchronous))
    if args.pg_url:
        results.append(run(args.pg_url, args.cars))
    for r in results:
        verdict = "meets" if r["meets_target"] else "MISSES"
        print(
            f"{r['backend']:<22} {r['decisions_per_s']:>9.1f} decisions/s  "
            f"({r['operations']} ops in {r['seconds']} s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"{r['decisions_per_cpu_s']:.0f}/CPU-s; {verdict} the target of {r['target_per_s']:,.0f}/s)"
        )
    if args.json_path:
        out = Path(args.json_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
