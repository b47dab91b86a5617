"""The gate command queue: an operator's manual open, queued for the `gate run` of that gate.

Why a table and not a call to the lane: the server and the lane may be on
different machines, and the lane already polls the ledger it decides with.
``claim`` takes a gate's pending commands with ``UPDATE ... WHERE done_at IS
NULL`` and a row count check, so two processes of one gate never both pulse
(the index ix_gate_commands_gate_done serves the poll). A command older than
``max_age_s`` when it is claimed is marked done without a pulse: a lane that
was down for ten minutes must not open the barrier for whichever car is
there when it comes back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from gate.rules.clock import iso, now_utc
from gate.rules.codes import GateCommand
from gate.rules.errors import InvalidInput
from gate.rules.votes import gate_id
from gate.store import models
from gate.store.ledger import Ledger, _id, _text

log = logging.getLogger(__name__)

MAX_AGE_S = 60.0

_t = models.gate_commands
_PENDING = (
    select(_t)
    .where(_t.c.gate == bindparam("gate"), _t.c.done_at.is_(None))
    .order_by(_t.c.id)
    .limit(20)
)
_MARK_DONE = (
    update(_t)
    .where(_t.c.id == bindparam("command_id"), _t.c.done_at.is_(None))
    .values(done_at=bindparam("at", type_=models.UTCDateTime()))
)
_INSERT = _t.insert()
_RECENT = select(_t).order_by(_t.c.id.desc()).limit(bindparam("limit"))


@dataclass(frozen=True)
class GateCommandRecord:
    id: int
    gate: str
    command: GateCommand
    visit_id: int | None
    requested_by: str
    reason: str
    requested_at: datetime
    done_at: datetime | None
    stale: bool = False  # claimed too late: marked done without a pulse

    @classmethod
    def from_row(cls, r: Row[Any], stale: bool = False) -> "GateCommandRecord":
        return cls(r.id, r.gate, GateCommand(r.command), r.visit_id, r.requested_by, r.reason, r.requested_at,
                   r.done_at, stale)

    def to_dict(self) -> dict[str, Any]:
        return {
            "command_id": self.id,
            "gate": self.gate,
            "command": self.command.value,
            "visit_id": self.visit_id,
            "requested_by": self.requested_by,
            "reason": self.reason,
            "requested_at": iso(self.requested_at),
            "done_at": iso(self.done_at),
            "stale": self.stale,
        }


class GateCommands:
    """The gate_commands table of one ledger."""

    def __init__(self, ledger: Ledger, max_age_s: float = MAX_AGE_S) -> None:
        self.ledger = ledger
        self.max_age_s = max_age_s

    def queue_open(self, gate: str, requested_by: str, reason: str, visit_id: int | None = None) -> GateCommandRecord:
        """Queue one barrier pulse for ``gate``; its `gate run` picks it up within about a second."""
        values = open_values(gate, requested_by, reason, visit_id, now_utc())
        return self.ledger._transaction(lambda conn: insert_open(conn, values))

    def claim(self, gate: str, now: datetime | None = None) -> list[GateCommandRecord]:
        """Take the gate's pending commands (each once, whoever polls); stale ones come back ``stale``."""
        gate = gate_id(gate)
        when = now or now_utc()
        with self.ledger._reader() as conn:  # the cheap indexed look, without a write lock, every second
            pending = list(conn.execute(_PENDING, {"gate": gate}))
        if not pending:
            return []

        def run(conn: Connection) -> list[GateCommandRecord]:
            taken = []
            for row in pending:
                if conn.execute(_MARK_DONE, {"command_id": row.id, "at": when}).rowcount == 1:
                    stale = when - row.requested_at > timedelta(seconds=self.max_age_s)
                    taken.append(replace(GateCommandRecord.from_row(row, stale), done_at=when))
            return taken

        return self.ledger._transaction(run)

    def recent(self, limit: int = 50) -> list[GateCommandRecord]:
        with self.ledger._reader() as conn:
            return [GateCommandRecord.from_row(r) for r in conn.execute(_RECENT, {"limit": limit})]


def insert_open(conn: Connection, values: dict[str, Any]) -> GateCommandRecord:
    """Queue a pulse in the caller's transaction (``values`` from open_values): it commits with the action."""
    key = conn.execute(_INSERT, values).inserted_primary_key
    assert key is not None
    record = GateCommandRecord(int(key[0]), values["gate"], GateCommand.OPEN, values["visit_id"],
                               values["requested_by"], values["reason"], values["requested_at"], None)
    log.info("gate %s: open queued by %s: %s", record.gate, record.requested_by, record.reason)
    return record


def open_values(gate: str, requested_by: str, reason: str, visit_id: int | None, at: datetime) -> dict[str, Any]:
    """A gate_commands row for one manual open, checked (InvalidInput naming the value)."""
    if not requested_by or not requested_by.strip():
        raise InvalidInput("who asked is required")
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required")
    return {
        "gate": gate_id(gate),
        "command": GateCommand.OPEN.value,
        "visit_id": None if visit_id is None else _id("visit id", visit_id),
        "requested_by": _text(_t.c.requested_by, requested_by.strip()),
        "reason": _text(_t.c.reason, reason.strip()),
        "requested_at": at,
    }
