#!/usr/bin/env python3
"""API latency at scale: quote, payments and visit listings over a ledger of 1,000,000 visits.

Fills a ledger fast (one bulk insert: executemany on SQLite, COPY on PostgreSQL),
starts `gate serve` on 127.0.0.1 in a subprocess, and measures over HTTP:

- GET /api/quote p50/p95 for plates inside (exact), and for a misread plate (candidates);
- POST /api/payments throughput with 8 concurrent clients, a fixed number of
  payments in all (it stops by itself);
- GET /api/visits ?plate=, ?inside=true, a one-day range and a partial plate
  (?plate_contains=, >= 3 digits) p50;

and prints each listing query's plan (EXPLAIN QUERY PLAN / EXPLAIN), run with
the statement and parameters the server runs.

    python scripts/benchmark_api.py                                   # SQLite, 1,000,000 visits
    python scripts/benchmark_api.py --visits 100000 --json out.json
    python scripts/benchmark_api.py --pg-url postgresql+psycopg://... --pg-reset   # also PostgreSQL

``--pg-reset`` empties the PostgreSQL database's ledger tables first (the run
refuses a non-empty one without it). Targets (issue 13): quote p50 <= 5 ms and
p95 <= 20 ms, payments >= 300/s, listings <= 20 ms, partial plate <= 50 ms.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, event, text

from gate.rules.codes import Role
from gate.rules.tariff import Tariff, fee_agorot
from gate.store import listing
from gate.store.ledger import Ledger
from gate.store.tokens import Tokens

TARGETS = {"quote_p50_ms": 5.0, "quote_p95_ms": 20.0, "payments_per_s": 300.0, "listing_ms": 20.0, "partial_ms": 50.0}
OPEN_VISITS = 400  # cars inside now (the lot's capacity is 500)
DAYS = 365
TABLES = "review_items, overrides, evidence, gate_commands, decisions, payments, reads, plate_lists, visits, api_tokens"


# ------------------------------------------------------------------ the data


def make_rows(n: int, seed: int = 13) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[str]]:
    """n visits over the last year, oldest first; the last OPEN_VISITS are inside (distinct plates).

    Returns (visit rows, payment rows, the open plates). Plates recur (200,000
    cars for a million visits), so a plate has a history, as at a real lot.
    """
    rng = random.Random(seed)
    tariff = Tariff()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    span = (now - timedelta(minutes=30) - start).total_seconds()
    # 7-digit plates mostly, 8-digit ones too
    cars = [str(rng.randrange(10**6, 10**7) if rng.random() < 0.7 else rng.randrange(10**7, 10**8))
            for _ in range(max(1000, n // 5))]
    open_plates = rng.sample(sorted(set(cars)), OPEN_VISITS)
    visits, payments = [], []
    for i in range(1, n + 1):
        entry = start + timedelta(seconds=span * (i - 1) / n)
        if i > n - OPEN_VISITS:
            plate = open_plates[i - (n - OPEN_VISITS) - 1]
            visits.append((i, plate, entry, None, "open", None, None, 0, None, False, False, None, "entry", None))
            continue
        plate = rng.choice(cars)
        stay = timedelta(minutes=rng.choice((5, 10, 40, 90, 150, 240, 600)) + rng.random() * 20)
        exit_at = min(entry + stay, now - timedelta(minutes=1))
        fee = fee_agorot(tariff, entry, exit_at)
        flagged = rng.random() < 0.01
        visits.append((i, plate, entry, exit_at, "closed", "exit", fee, fee, None, False, flagged,
                       "bench: flagged" if flagged else None, "entry", "exit"))
        if fee:
            paid_at = max(entry, exit_at - timedelta(minutes=5))
            payments.append((i, f"bench-{i}", i, plate, fee, fee, paid_at))
    return visits, payments, open_plates


def _sqlite_time(value: datetime | None) -> str | None:
    """How the ledger stores a time on SQLite (naive UTC text; comparisons are textual)."""
    return None if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill_sqlite(ledger: Ledger, visits: list[tuple[Any, ...]], payments: list[tuple[Any, ...]]) -> None:
    raw = ledger.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany(
            "INSERT INTO visits (id, plate, entry_at, exit_at, state, close_reason, fee_agorot, paid_agorot,"
            " last_paid_at, waived, flagged, flag_reason, entry_gate, exit_gate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ((*r[:2], _sqlite_time(r[2]), _sqlite_time(r[3]), *r[4:8], _sqlite_time(r[8]), *r[9:]) for r in visits),
        )  # the FTS5 trigram table follows by its triggers
        cur.executemany(
            "INSERT INTO payments (id, payment_id, visit_id, plate, amount_agorot, fee_agorot, paid_at)"
            " VALUES (?,?,?,?,?,?,?)",
            ((*r[:6], _sqlite_time(r[6])) for r in payments),
        )
        cur.execute("COMMIT")
        # as after any bulk load: fold the WAL (a gigabyte now) into the file, or every reader searches its index
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def fill_postgresql(ledger: Ledger, visits: list[tuple[Any, ...]], payments: list[tuple[Any, ...]]) -> None:
    raw = ledger.engine.raw_connection()
    try:
        cur = raw.cursor()
        columns = ("id, plate, entry_at, exit_at, state, close_reason, fee_agorot, paid_agorot, last_paid_at, waived,"
                   " flagged, flag_reason, entry_gate, exit_gate")
        with cur.copy(f"COPY visits ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in visits:
                copy.write_row(row)
        with cur.copy("COPY payments (id, payment_id, visit_id, plate, amount_agorot, fee_agorot, paid_at)"
                      " FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in payments:
                copy.write_row(row)
        for table in ("visits", "payments"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
        cur.execute("ANALYZE visits")  # as autovacuum would after a load this size
        cur.execute("ANALYZE payments")
        raw.commit()
    finally:
        raw.close()


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(url: str) -> Iterator[tuple[str, int]]:
    """`gate serve` on a free loopback port (its access log off the terminal); yields its URL and pid."""
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "gate.cli", "serve", "--port", str(port), "--db", url],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise SystemExit(f"gate serve did not start: {log.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


class Client:
    """A keep-alive HTTP/1.1 client on the standard library: a pay station is another machine, so the
    benchmark's own client should cost the 2 shared cores as little as it can (httpx took ~1 ms a request)."""

    def __init__(self, base: str, token: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, params: dict[str, str] | None = None,
                body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        url = path + ("?" + urlencode(params) if params else "")
        self.conn.request(method, url, json.dumps(body) if body is not None else None, self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def timed(call: Callable[[], tuple[int, bytes]], repeat: int) -> list[float]:
    """Milliseconds of each call; every answer must be a 200."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        status, body = call()
        out.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise SystemExit(f"{status} {body[:300]!r}")
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def misread(plate: str) -> str:
    """The plate with its last digit read wrong (a quote with candidates)."""
    return plate[:-1] + str((int(plate[-1]) + 5) % 10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc): the server's cost, whatever else loads the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU milliseconds the server spent per request during a block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    @contextmanager
    def per_request(self, into: dict[str, Any], requests: Callable[[], int]) -> Iterator[None]:
        start = cpu_seconds(self.pid)
        yield
        into["server_cpu_ms"] = round((cpu_seconds(self.pid) - start) * 1000 / max(1, requests()), 2)


def measure(base: str, pid: int, tokens: dict[Role, str], open_plates: list[str], history_plate: str,
            day: tuple[str, str], quotes: int, payments: int, clients: int, reps: int) -> dict[str, Any]:
    cpu = ServerCpu(pid)
    results: dict[str, Any] = {}
    pay, view = Client(base, tokens[Role.PAY_STATION]), Client(base, tokens[Role.VIEWER])
    try:
        timed(lambda: pay.request("GET", "/api/quote", {"plate": open_plates[0]}), 20)  # warm up
        plates = iter(open_plates * (quotes // len(open_plates) + 1))
        results["quote_exact"], results["quote_candidates"] = {}, {}
        with cpu.per_request(results["quote_exact"], lambda: quotes):
            exact = timed(lambda: pay.request("GET", "/api/quote", {"plate": next(plates)}), quotes)
        wrong = iter([misread(p) for p in open_plates] * (quotes // len(open_plates) + 1))
        with cpu.per_request(results["quote_candidates"], lambda: max(50, quotes // 5)):
            near = timed(lambda: pay.request("GET", "/api/quote", {"plate": next(wrong)}), max(50, quotes // 5))
        results["quote_exact"].update(p50_ms=pct(exact, 0.5), p95_ms=pct(exact, 0.95), n=len(exact))
        results["quote_candidates"].update(p50_ms=pct(near, 0.5), p95_ms=pct(near, 0.95), n=len(near))

        listings = {
            "visits_by_plate": {"plate": history_plate},
            "visits_inside": {"inside": "true"},
            "visits_one_day": {"since": day[0], "until": day[1]},
            "visits_partial_plate": {"plate_contains": open_plates[0][2:5]},
        }
        for name, params in listings.items():
            def page(params: dict[str, str] = params) -> tuple[int, bytes]:
                return view.request("GET", "/api/visits", params)

            page()
            results[name] = {}
            with cpu.per_request(results[name], lambda: reps):
                ms = timed(page, reps)
            total = json.loads(page()[1])["total"]
            results[name].update(p50_ms=pct(ms, 0.5), p95_ms=pct(ms, 0.95), total=total, params=params)
    finally:
        pay.close()
        view.close()

    per_client = payments // clients
    errors: list[str] = []

    def client(k: int) -> None:
        station = Client(base, tokens[Role.PAY_STATION])
        try:
            for j in range(per_client):
                body = {"plate": open_plates[(k + clients * j) % len(open_plates)],  # no two clients on one car
                        "payment_id": f"bench-{os.getpid()}-{k}-{j}-{time.time_ns()}"}
                status, answer = station.request("POST", "/api/payments", body=body)
                if status != 200:
                    errors.append(f"{status} {answer[:200]!r}")
                    return
        finally:
            station.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    results["payments"] = {}
    with cpu.per_request(results["payments"], lambda: per_client * clients):
        t = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - t
    if errors:
        raise SystemExit(f"payments failed: {errors[0]}")
    results["payments"].update(per_s=round(per_client * clients / elapsed, 1), n=per_client * clients,
                               clients=clients, seconds=round(elapsed, 2))
    return results


# ------------------------------------------------------------------ the plans


@contextmanager
def explaining(engine: Engine, prefix: str, plans: list[str]) -> Iterator[None]:
    """Run every statement as ``prefix + statement`` (with the same parameters) and keep the plan's lines."""

    def rewrite(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> Any:
        return prefix + statement, parameters

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith(prefix + "BEGIN"):
            return
        rows = cursor.fetchall()  # SQLite: (id, parent, 0, detail); PostgreSQL: one line of text
        plans.append("\n".join("  " + str(row[-1]) for row in rows))

    event.listen(engine, "before_cursor_execute", rewrite, retval=True)
    event.listen(engine, "after_cursor_execute", keep)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", rewrite)
        event.remove(engine, "after_cursor_execute", keep)


def plans(ledger: Ledger, open_plates: list[str], history_plate: str, day: tuple[datetime, datetime]) -> dict[str, str]:
    """Each listing's page and count query, as the server runs them, explained."""
    prefix = "EXPLAIN QUERY PLAN " if ledger.engine.dialect.name == "sqlite" else "EXPLAIN "
    filters = {
        "visits_by_plate": ledger.visit_filter(plate=history_plate),
        "visits_inside": ledger.visit_filter(inside=True),
        "visits_one_day": ledger.visit_filter(since=day[0], until=day[1]),
        "visits_partial_plate": ledger.visit_filter(plate_contains=open_plates[0][2:5]),
    }
    out = {}
    for name, found in filters.items():
        lines: list[str] = []
        with ledger.engine.connect() as conn, explaining(ledger.engine, prefix, lines):
            try:  # offset 100: the count query runs too
                listing.visit_page(conn, found, 100, 100)
            except Exception:  # noqa: BLE001  the plan's rows are not a count: it fails once both plans are kept
                pass
        out[name] = "\n  --\n".join(lines)
    return out


# ------------------------------------------------------------------ main


def run(url: str, n: int, quotes: int, payments: int, clients: int, reps: int, reset: bool,
        reuse: bool = False) -> dict[str, Any]:
    ledger = Ledger.open(url)
    backend = ledger.engine.dialect.name
    try:
        with ledger.engine.begin() as conn:
            existing = conn.execute(text("SELECT count(*) FROM visits")).scalar_one()
            if existing and backend == "postgresql" and not reuse:
                if not reset:
                    raise SystemExit(f"{backend}: the database holds {existing} visits; --pg-reset empties it")
                conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        filled, payment_rows = 0.0, 0
        if reuse and existing:
            n = existing
            print(f"{backend}: reusing {n:,} visits", flush=True)
        else:
            t = time.perf_counter()
            visits, pays, _ = make_rows(n)
            made = time.perf_counter() - t
            (fill_sqlite if backend == "sqlite" else fill_postgresql)(ledger, visits, pays)
            filled, payment_rows = time.perf_counter() - t - made, len(pays)
            print(f"{backend}: {n:,} visits and {len(pays):,} payments made in {made:.1f} s, loaded in {filled:.1f} s",
                  flush=True)
            del visits, pays
        with ledger.engine.connect() as conn:
            inside = text("SELECT plate FROM visits WHERE state = 'open' ORDER BY id")
            regular = text(  # the plate with the most visits in a sample: one with a history
                "SELECT plate FROM visits WHERE id % 97 = 0 GROUP BY plate ORDER BY count(*) DESC LIMIT 1")
            open_plates = list(conn.execute(inside).scalars())
            history_plate = conn.execute(regular).scalar_one()
        tokens = {role: Tokens(ledger).create(f"bench-{role}-{time.time_ns()}", role).secret
                  for role in (Role.PAY_STATION, Role.VIEWER)}
        now = datetime.now(timezone.utc)
        day = (now - timedelta(days=1), now)
        plan_text = plans(ledger, open_plates, history_plate, day)
    finally:
        ledger.close()
    z = tuple(d.isoformat().replace("+00:00", "Z") for d in day)
    with serve(url) as (base, pid):
        results = measure(base, pid, tokens, open_plates, history_plate, (z[0], z[1]), quotes, payments, clients,
                          reps)
    return {"backend": backend, "visits": n, "payments_rows": payment_rows, "load_s": round(filled, 1),
            "results": results, "plans": plan_text}


def verdicts(r: dict[str, Any]) -> list[str]:
    res = r["results"]
    checks = [
        ("quote p50 (exact)", "quote_exact", "p50_ms", TARGETS["quote_p50_ms"], "ms", False),
        ("quote p95 (exact)", "quote_exact", "p95_ms", TARGETS["quote_p95_ms"], "ms", False),
        ("quote p50 (candidates)", "quote_candidates", "p50_ms", TARGETS["quote_p50_ms"], "ms", False),
        ("payments, 8 clients", "payments", "per_s", TARGETS["payments_per_s"], "/s", True),
        ("visits ?plate=", "visits_by_plate", "p50_ms", TARGETS["listing_ms"], "ms", False),
        ("visits ?inside=true", "visits_inside", "p50_ms", TARGETS["listing_ms"], "ms", False),
        ("visits one-day range", "visits_one_day", "p50_ms", TARGETS["listing_ms"], "ms", False),
        ("visits partial plate", "visits_partial_plate", "p50_ms", TARGETS["partial_ms"], "ms", False),
    ]
    lines = []
    for name, key, figure, target, unit, higher in checks:
        value = res[key][figure]
        ok = value >= target if higher else value <= target
        lines.append(f"  {name:<24} {value:>9.2f} {unit:<3} target {'>=' if higher else '<='} {target:g} {unit}"
                     f"  {'meets' if ok else 'MISSES'}   (server CPU {res[key]['server_cpu_ms']:.2f} ms a request)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--sqlite", help="SQLite file to fill (default: a fresh temp file; must not exist)")
    parser.add_argument("--pg-url", help="also PostgreSQL (a database for benchmarks: see --pg-reset)")
    parser.add_argument("--pg-reset", action="store_true", help="empty the PostgreSQL ledger tables first")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL (with --pg-url)")
    parser.add_argument("--quotes", type=int, default=500)
    parser.add_argument("--payments", type=int, default=2000, help="payments in all, split over the clients")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reps", type=int, default=30, help="requests per listing")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the ledger already in --sqlite / --pg-url instead of filling a new one")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()

    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.sqlite or Path(tmp) / "bench.db").resolve()
        if path.exists() and not args.reuse and not args.no_sqlite:
            raise SystemExit(f"{path} exists: give a new file, or --reuse it")
        if not args.no_sqlite:
            reports.append(run(f"sqlite:///{path}", args.visits, args.quotes, args.payments, args.clients, args.reps,
                               False, args.reuse))
    if args.pg_url:
        reports.append(run(args.pg_url, args.visits, args.quotes, args.payments, args.clients, args.reps,
                           args.pg_reset, args.reuse))
    for r in reports:
        print(f"\n{r['backend']}: {r['visits']:,} visits ({r['payments_rows']:,} payments), loaded in {r['load_s']} s")
        print("\n".join(verdicts(r)))
        for name, plan in r["plans"].items():
            print(f"\n  plan of {name} (page, then count):\n{plan}")
    if args.json_path:
        out = Path(args.json_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(reports, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
