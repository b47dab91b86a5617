"""Where the ledger lives and how to connect to it.

URL resolution: ``--db URL`` > ``$PLATEGATE_DB`` > SQLite file ``plategate.db``
in the working directory. A bare path (no ``://``) means a SQLite file.

SQLite is tuned for several gate processes on one file: WAL (readers never
block the writer and take no lock), a busy timeout, and every write
transaction starts with BEGIN IMMEDIATE so two processes cannot both
read-then-update the same visit. A write may say how long it waits for a lock
(``Connection.execution_options(lock_wait_ms=...)``): SQLite's busy timeout,
PostgreSQL's ``lock_timeout``, set as its transaction begins; the ledger
bounds a decision's wait this way. ``synchronous=NORMAL`` (the default here) survives a killed process
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
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from gate.rules.errors import InvalidInput

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


_EXPECTED_URL = "a SQLite file path, sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"


def make_engine(url: str | None = None, *, sqlite_synchronous: str = "NORMAL", **kwargs: Any) -> Engine:
    """Engine for the ledger; SQLite gets WAL, busy timeout and BEGIN IMMEDIATE.

    A URL that cannot be a ledger (unknown scheme, missing driver, in-memory
    SQLite) raises InvalidInput naming it; the password is never shown.
    """
    resolved = resolve_url(url)
    scheme = resolved.split("://", 1)[0]
    try:
        parsed = make_url(resolved)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            if parsed.database in (None, "", ":memory:") or "mode=memory" in resolved:
                raise InvalidInput(
                    f"database {resolved!r}: an in-memory SQLite ledger cannot be shared or survive a restart;"
                    " give a file"
                )
            engine = create_engine(resolved, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **kwargs)
            _tune_sqlite(engine, sqlite_synchronous)
        elif backend == "postgresql":
            kwargs.setdefault("pool_pre_ping", True)
            kwargs.setdefault("connect_args", {"connect_timeout": 5})
            engine = create_engine(resolved, **kwargs)
            _tune_postgresql(engine)
        else:
            raise InvalidInput(f"unsupported database URL scheme {scheme!r}: expected {_EXPECTED_URL}")
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(f"invalid database URL (scheme {scheme!r}): expected {_EXPECTED_URL}") from None
    log.debug("ledger engine %s", engine.url.render_as_string(hide_password=True))
    return engine


def _tune_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        wait_ms = conn.get_execution_options().get("lock_wait_ms")
        if wait_ms is not None:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(wait_ms))}")


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
        options = conn.get_execution_options()
        wait_ms = options.get("lock_wait_ms")
        # straight on the driver: this PRAGMA cannot fail on a lock, and through SQLAlchemy it cost 10 % of a decision
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS if wait_ms is None else max(1, int(wait_ms))}"
        )
        # through SQLAlchemy: a busy error here is an OperationalError the ledger retries
        conn.exec_driver_sql(f"BEGIN {'DEFERRED' if options.get('readonly') else 'IMMEDIATE'}")
