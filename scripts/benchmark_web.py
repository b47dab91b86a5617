#!/usr/bin/env python3
"""Admin page render times over a SQLite ledger of 1,000,000 visits (target: every page <= 150 ms).

Fills the ledger as scripts/benchmark_api.py does (one bulk insert), adds an entry
and an exit decision for the latest visits, a user, and times each page in-process
(the app on a TestClient, logged in): the median of ``--reps`` requests after one
warm-up, so the figure is the server's own time (no network, no browser).

    python scripts/benchmark_web.py                       # 1,000,000 visits in a temporary file
    python scripts/benchmark_web.py --db /tmp/web1m.db    # keep (and reuse) the ledger file
    python scripts/benchmark_web.py --pg-url postgresql+psycopg://...   # empties that database's ledger first
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from benchmark_api import TABLES, _sqlite_time, fill_postgresql, fill_sqlite, make_rows  # noqa: E402
from sqlalchemy import text  # noqa: E402

from gate.serve.app import create_app  # noqa: E402
from gate.store.ledger import Ledger  # noqa: E402
from gate.store.users import Users  # noqa: E402

TARGET_MS = 150.0
DECIDED = 200_000  # the latest visits get an entry (and, when closed, an exit) decision


def fill(url: str, n: int) -> None:
    visits, payments, _open = make_rows(n)
    with Ledger.open(url) as ledger:
        sqlite = ledger.engine.dialect.name == "sqlite"
        if not sqlite:
            with ledger.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {TABLES}, login_failures, web_sessions, users RESTART IDENTITY CASCADE"))
        (fill_sqlite if sqlite else fill_postgresql)(ledger, visits, payments)
        when = _sqlite_time if sqlite else (lambda t: t)
        rows = []
        for v in visits[-DECIDED:]:
            rows.append((v[1], "entry", "open", "entered", v[0], 0, False, when(v[2]), "entry"))
            if v[3] is not None:
                rows.append((v[1], "exit", "open", "paid", v[0], 0, False, when(v[3]), "exit"))
        columns = "plate, lane, action, reason, visit_id, amount_due_agorot, flagged, at, gate"
        raw = ledger.engine.raw_connection()
        try:
            cur = raw.cursor()
            if sqlite:
                cur.executemany(f"INSERT INTO decisions ({columns}) VALUES (?,?,?,?,?,?,?,?,?)", rows)
            else:
                with cur.copy(f"COPY decisions ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute("ANALYZE decisions")
            raw.commit()
        finally:
            raw.close()
        Users(ledger).create("bench", "operator", "bench-password")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file to fill (reused when it exists)")
    parser.add_argument("--pg-url", help="PostgreSQL instead: its ledger tables are emptied and filled")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "web.db"
    url = args.pg_url or f"sqlite:///{path}"
    if args.pg_url or not path.exists():
        started = time.perf_counter()
        fill(url, args.visits)
        print(f"filled {args.visits:,} visits in {time.perf_counter() - started:.0f} s")
    app = create_app(lambda: Ledger.open(url, migrate=False))
    with TestClient(app) as client:
        ledger: Ledger = app.state.ledger
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"username": "bench", "password": "bench-password", "csrf": token.group(1)})
        latest = ledger.visit_page(ledger.visit_filter(inside=True), limit=1).visits[0]
        some_plate = ledger.visit(500_000 if args.visits >= 500_000 else 1).plate
        day = (ledger.today() - timedelta(days=3)).isoformat()
        pages = [
            "/live", "/live/lanes", "/visits", f"/visits?plate={some_plate}", f"/visits?plate={some_plate[2:5]}",
            "/visits?inside=1", f"/visits?since={day}&until={day}", "/visits?unpaid=1", "/visits?flagged=1",
            "/visits?page=200", f"/visits/{latest.id}", f"/visits/{args.visits // 2}", "/review", "/payments",
            "/lists", "/settings",
        ]
        worst = 0.0
        print(f"{'page':48} {'median ms':>10} {'max ms':>8}")
        for page in pages:
            answer = client.get(page)
            assert answer.status_code == 200, (page, answer.status_code, answer.text[:200])
            times = []
            for _ in range(args.reps):
                started = time.perf_counter()
                client.get(page)
                times.append((time.perf_counter() - started) * 1000)
            median = statistics.median(times)
            worst = max(worst, median)
            print(f"{page:48} {median:10.1f} {max(times):8.1f}")
    print(f"slowest page median {worst:.1f} ms: {'ok' if worst <= TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
