"""Write transactions on the DBAPI connection (sqlite3 or psycopg).

Why not SQLAlchemy Core here: every gate decision is its own committed
transaction of 5-7 small statements, and Core's per-statement overhead
(~50 us) was most of the decision time; the driver itself needs ~2 us. So the
ledger's writes use hand-written SQL through this thin layer, while the schema
(Alembic), pooling, connection setup (WAL, busy timeout) and the admin reads
stay with SQLAlchemy. Values are stored exactly as the SQLAlchemy models store
them (UTC; on SQLite naive text 'YYYY-MM-DD HH:MM:SS.ffffff'), and the tests
read them back through the models on both backends.

SQL is written with ``:name`` parameters and ``{lock}`` where PostgreSQL needs
``FOR UPDATE``; SQLite writers are serialized by BEGIN IMMEDIATE instead.
"""
from __future__ import annotations

import json
import os
import re
import threading
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Mapping

from sqlalchemy import Engine

_PARAM = re.compile(r"(?<![:\w]):(\w+)")
# columns holding times; they come back from SQLite as text
TIME_COLUMNS = frozenset(
    {"entry_at", "exit_at", "last_paid_at", "paid_at", "at", "created_at", "resolved_at", "added_at"}
)


class Row(SimpleNamespace):
    """A result row with attribute access (row.entry_at)."""


class Dialect:
    """How values and SQL differ between SQLite and PostgreSQL."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlite = name == "sqlite"
        self._sql_cache: dict[str, str] = {}
        if not self.sqlite:
            from psycopg.types.json import Json

            self._json = Json

    def sql(self, text: str) -> str:
        cached = self._sql_cache.get(text)
        if cached is None:
            lock = "" if self.sqlite else "FOR UPDATE"
            cached = text.replace("{lock}", lock)
            if not self.sqlite:
                cached = _PARAM.sub(r"%(\1)s", cached.replace("%", "%%"))
            self._sql_cache[text] = cached
        return cached

    def bind(self, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the ledger; convert with gate.rules.clock.to_utc")
            value = value.astimezone(timezone.utc)
            if self.sqlite:  # SQLAlchemy's SQLite DATETIME text, microseconds always present
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
            return value
        if isinstance(value, bool) and self.sqlite:
            return int(value)
        if isinstance(value, (list, dict)):
            return json.dumps(value) if self.sqlite else self._json(value)
        return value

    def time(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Tx:
    """One open transaction: run statements, get rows as attributes."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cur = cursor
        self.dialect = dialect

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement; return the affected row count."""
        self._run(sql, params)
        return self._cur.rowcount

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        self._run(sql, params)
        names = [d[0] for d in self._cur.description]
        time = self.dialect.time
        return [
            Row(**{n: (time(v) if n in TIME_COLUMNS else v) for n, v in zip(names, raw)})
            for raw in self._cur.fetchall()
        ]

    def row(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        self._run(sql, params)
        first = self._cur.fetchone()
        return None if first is None else first[0]

    def insert(self, table: str, values: Mapping[str, Any]) -> int:
        """INSERT a row; return its id."""
        columns = ", ".join(values)
        marks = ", ".join(f":{c}" for c in values)
        return self.scalar(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id", values)

    def _run(self, sql: str, params: Mapping[str, Any] | None) -> None:
        bind = self.dialect.bind
        self._cur.execute(self.dialect.sql(sql), {k: bind(v) for k, v in (params or {}).items()})


class TxRunner:
    """Runs a function in one transaction, commit or roll back.

    Each thread keeps one pooled connection between transactions (checking one
    out per decision cost ~10% of the decision); a connection the driver
    reports as broken is invalidated and the next transaction gets a new one.
    A forked child never reuses its parent's connection.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = Dialect(engine.dialect.name)
        self.dbapi = engine.dialect.dbapi
        self._local = threading.local()
        self._held: list[Any] = []
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self.engine.raw_connection()
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._held.append(conn)
        return conn

    def _drop(self, conn: Any, invalidate: bool) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._held:
                self._held.remove(conn)
        if invalidate:
            conn.invalidate()
        else:
            conn.close()

    def close(self) -> None:
        """Give the held connections back to the pool (call before engine.dispose)."""
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            try:
                conn.close()
            except Exception:  # a connection of another thread may already be gone
                pass
        self._local = threading.local()

    def __call__(self, work: Any) -> Any:
        conn = self._connection()
        cursor = conn.cursor()
        try:
            if self.dialect.sqlite:
                cursor.execute("BEGIN IMMEDIATE")  # take the write lock before reading
            result = work(Tx(cursor, self.dialect))
            conn.commit()
            return result
        except BaseException as exc:
            try:
                conn.rollback()
            except Exception:
                self._drop(conn, invalidate=True)
                raise exc
            dbapi_conn = conn.dbapi_connection
            if isinstance(exc, self.dbapi.Error) and self.engine.dialect.is_disconnect(exc, dbapi_conn, cursor):
                self._drop(conn, invalidate=True)
            raise
        finally:
            try:
                cursor.close()
            except Exception:  # the connection was invalidated above
                pass
