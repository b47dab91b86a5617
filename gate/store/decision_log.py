"""The decision log as a listing: filters, paging and the total in SQL, with each decision's evidence.

Why a listing of its own: unpaid exits and denials change no visit, so the
visits listing never shows them; an operator asking "why did the barrier
stay shut at 08:14?" needs the decisions. A time range is served by
``ix_decisions_at``, a gate (with or without a range) by
``ix_decisions_gate_at``; lane, action and reason narrow those. Newest first:
the question is nearly always about the last hour. A page is read one row
past its end to know whether another follows; the total of all pages is a
COUNT only when asked for (at a million decisions a count of the denials
scans them all: 142 ms, against 5 ms for a gate's day).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from gate.rules.clock import iso
from gate.rules.codes import Action, Lane, Reason
from gate.rules.errors import InvalidInput
from gate.rules.money import json_amount
from gate.rules.votes import gate_id
from gate.store import evidence as evidence_queries
from gate.store import models
from gate.store.evidence import EvidenceRecord
from gate.store.ledger import Ledger
from lpr.plate_format import normalize_plate

MAX_LIMIT = 1000
_d = models.decisions


@dataclass(frozen=True)
class DecisionFilter:
    lane: Lane | str | None = None  # text from a command line is checked by checked()
    gate: str | None = None
    action: Action | str | None = None
    reason: Reason | str | None = None
    plate: str | None = None
    since: datetime | None = None  # decided at or after
    until: datetime | None = None  # decided at or before

    def checked(self, ledger: Ledger) -> "DecisionFilter":
        """Every value in its type and range (InvalidInput naming it): the one edge of the listing."""
        def enum(kind: Any, name: str, value: Any) -> Any:
            try:
                return None if value is None else kind(value)
            except ValueError:
                allowed = ", ".join(v.value for v in kind)
                raise InvalidInput(f"{name} {value!r}: expected one of {allowed}") from None

        since = None if self.since is None else ledger._when(self.since, "since")
        until = None if self.until is None else ledger._when(self.until, "until")
        if since is not None and until is not None and until < since:
            raise InvalidInput(f"until {iso(until)} is before since {iso(since)}")
        return DecisionFilter(
            lane=enum(Lane, "lane", self.lane),
            gate=None if self.gate is None else gate_id(self.gate),
            action=enum(Action, "action", self.action),
            reason=enum(Reason, "reason", self.reason),
            plate=None if self.plate is None else normalize_plate(self.plate),
            since=since,
            until=until,
        )

    def where(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.gate is not None:
            found.append(_d.c.gate == self.gate)
        if self.since is not None:
            found.append(_d.c.at >= self.since)
        if self.until is not None:
            found.append(_d.c.at <= self.until)
        if self.lane is not None:
            found.append(_d.c.lane == Lane(self.lane).value)
        if self.action is not None:
            found.append(_d.c.action == Action(self.action).value)
        if self.reason is not None:
            found.append(_d.c.reason == Reason(self.reason).value)
        if self.plate is not None:
            found.append(_d.c.plate == self.plate)
        return found


@dataclass(frozen=True)
class DecisionRecord:
    """One decision as listings show it: money in agorot; its votes and evidence (never file names)."""

    id: int
    at: datetime
    lane: Lane
    gate: str | None
    plate: str
    action: Action
    reason: Reason
    visit_id: int | None
    amount_due_agorot: int
    flagged: bool
    votes: list[dict[str, Any]] | None
    evidence: list[EvidenceRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.id,
            "at": iso(self.at),
            "lane": self.lane.value,
            "gate": self.gate,
            "plate": self.plate,
            "action": self.action.value,
            "reason": self.reason.value,
            "visit_id": self.visit_id,
            "amount_due": json_amount(self.amount_due_agorot),
            "flagged": self.flagged,
            "votes": self.votes,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class DecisionPage:
    decisions: list[DecisionRecord]
    total: int | None  # all pages, when counted
    limit: int
    offset: int
    more: bool  # another page follows

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.more else None


def list_decisions(
    ledger: Ledger, where: DecisionFilter, limit: int = 100, offset: int = 0, *, count: bool = False
) -> DecisionPage:
    """One page of decisions matching ``where``, newest first (and, with ``count``, how many match in all)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit {limit!r}: expected a whole number from 1 to {MAX_LIMIT}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= 2**31 - 1:
        raise InvalidInput(f"offset {offset!r}: expected a whole number from 0")
    f = where.checked(ledger)
    conditions = f.where()
    page_query = (
        select(_d).where(*conditions).order_by(_d.c.at.desc(), _d.c.id.desc()).limit(limit + 1).offset(offset)
    )
    count_query = select(func.count()).select_from(_d).where(*conditions)
    with ledger._reader() as conn:
        rows = list(conn.execute(page_query))
        more, rows = len(rows) > limit, rows[:limit]
        total = int(conn.execute(count_query).scalar_one()) if count else None
        images = evidence_queries.of_decisions(conn, [r.id for r in rows])
    records = [
        DecisionRecord(r.id, r.at, Lane(r.lane), r.gate, r.plate, Action(r.action), Reason(r.reason), r.visit_id,
                       r.amount_due_agorot, bool(r.flagged), r.votes, images.get(r.id, []))
        for r in rows
    ]
    return DecisionPage(records, total, limit, offset, more)
