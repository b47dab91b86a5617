"""Where the ledger lives and how to connect to it.

URL resolution: ``--db URL`` > ``$PLATEGATE_DB`` > SQLite file ``plategate.db``
in the working directory. A bare path (no ``://``) means a SQLite file.

SQLite is tuned for several gate processes on one file: WAL (readers never
block the writer), a 30 s busy timeout, and every write transaction starts
with BEGIN IMMEDIATE so two processes cannot both read-then-update the same
visit. ``synchronous=NORMAL`` (the default here) survives a killed process
with no loss; pass ``sqlite_synchronous="FULL"`` to also survive power loss
at the cost of an fsync per decision.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

ENV_DB = "PLATEGATE_DB"
DEFAULT_FILE = "plategate.db"
BUSY_TIMEOUT_MS = 30_000


def resolve_url(url: str | None = None) -> str:
    """--db value > $PLATEGATE_DB > sqlite:///plategate.db (absolute, in cwd)."""
    chosen = url or os.environ.get(ENV_DB) or DEFAULT_FILE
    if "://" not in chosen:
        return f"sqlite:///{Path(chosen).expanduser().resolve()}"
    return chosen



def make_engine(url: str | None = None, *, sqlite_synchronous: str = "NORMAL", **kwargs: Any) -> Engine:
    """Engine for the ledger; SQLite gets WAL, busy timeout and BEGIN IMMEDIATE."""
    resolved = resolve_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("an in-memory SQLite ledger cannot be shared or survive a restart; use a file")
        engine = create_engine(resolved, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _tune_sqlite(engine, sqlite_synchronous)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(resolved, **kwargs)
    log.debug("ledger engine %s", engine.url.render_as_string(hide_password=True))
    return engine


def _tune_sqlite(engine: Engine, synchronous: str) -> None:
    if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"invalid sqlite synchronous mode {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy's begin event issue BEGIN itself (pysqlite would defer it)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "DEFERRED" if conn.get_execution_options().get("readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")
