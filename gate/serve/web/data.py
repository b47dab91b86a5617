"""What the pages read: bounded, indexed queries over the ledger, one dataclass per thing shown.

Every query here is read-only (the Ledger's reader connection, no write lock)
and bounded by an index and a LIMIT, so that a page costs the same with a
thousand visits or a million: latest decisions by ``ix_decisions_at``,
visits newest first by ``ix_visits_entry_at`` one page at a time (plus one row
to know whether there is a next page, never a COUNT over the table), partial
plates through the search index of migration 0003 (SQLite FTS5 trigram,
PostgreSQL pg_trgm), a visit's rows by their visit_id indexes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection, Select, case, func, literal_column, select, text, true

from gate.report import csv_text
from gate.rules.clock import day_end, day_start
from gate.rules.codes import Action, EvidenceKind, Lane, ListKind, VisitState
from gate.store import evidence as evidence_queries
from gate.store import listing, models
from gate.store.billing import PaymentRecord
from gate.store.evidence import EvidenceRecord
from gate.store.ledger import Ledger
from gate.store.records import ReviewEntry, VisitRecord

LIVE_RECENT = 400  # the decisions the live page groups by gate (the newest of the whole lot)
LIVE_PER_GATE = 8


@dataclass(frozen=True)
class DecisionView:
    """A gate decision with its read's confidence and votes, and its evidence by kind."""

    id: int
    at: datetime
    lane: Lane
    gate: str
    plate: str
    action: Action
    reason: str
    amount_due_agorot: int
    flagged: bool
    visit_id: int | None
    confidence: float | None
    votes: list[dict[str, Any]]
    evidence: dict[EvidenceKind, EvidenceRecord] = field(default_factory=dict)

    @property
    def stands_out(self) -> bool:
        """Denials and review items: what the operator in the booth must see at once."""
        return self.action is not Action.OPEN or self.flagged


@dataclass(frozen=True)
class GateLane:
    """One gate's column of the live page."""

    gate: str
    decisions: list[DecisionView]


@dataclass(frozen=True)
class VisitFilter:
    """The Visits page's filters; days are the lot's local days, both ends included."""

    plate: str = ""  # digits: a whole plate or a part of >= 3 digits
    inside: bool = False
    since: date | None = None
    until: date | None = None
    unpaid: bool = False
    flagged: bool = False

    def query(self) -> dict[str, str]:
        """The filter as query parameters (links to the next page and to the CSV keep it)."""
        out: dict[str, str] = {}
        if self.plate:
            out["plate"] = self.plate
        for name in ("inside", "unpaid", "flagged"):
            if getattr(self, name):
                out[name] = "1"
        if self.since:
            out["since"] = self.since.isoformat()
        if self.until:
            out["until"] = self.until.isoformat()
        return out


@dataclass(frozen=True)
class VisitDetail:
    visit: VisitRecord
    entry_gate: str | None
    exit_gate: str | None
    decisions: list[DecisionView]
    payments: list[PaymentRecord]
    overrides: list[dict[str, Any]]
    reviews: list[ReviewEntry]

    def evidence_of(self, lane: Lane) -> DecisionView | None:
        """The first decision of that lane that has evidence (else the first of the lane)."""
        of_lane = [d for d in self.decisions if d.lane is lane]
        return next((d for d in of_lane if d.evidence), of_lane[0] if of_lane else None)


def _evidence(conn: Connection, decision_ids: Sequence[int]) -> dict[int, dict[EvidenceKind, EvidenceRecord]]:
    found = evidence_queries.of_decisions(conn, decision_ids)
    return {decision_id: {e.kind: e for e in rows} for decision_id, rows in found.items()}


def _decisions(conn: Connection, query: Select[Any]) -> list[DecisionView]:
    rows = list(conn.execute(query))
    evidence = _evidence(conn, [r.id for r in rows])
    return [
        DecisionView(
            id=r.id, at=r.at, lane=Lane(r.lane), gate=r.gate or r.lane, plate=r.plate, action=Action(r.action),
            reason=r.reason, amount_due_agorot=r.amount_due_agorot, flagged=bool(r.flagged), visit_id=r.visit_id,
            confidence=r.confidence, votes=list(r.votes or []), evidence=evidence.get(r.id, {}),
        )
        for r in rows
    ]


def _decision_query() -> Select[Any]:
    d, rd = models.decisions, models.reads
    return select(d, rd.c.confidence).outerjoin(rd, rd.c.id == d.c.read_id)


def live_lanes(ledger: Ledger, recent: int = LIVE_RECENT, per_gate: int = LIVE_PER_GATE) -> list[GateLane]:
    """Each gate's latest decisions, newest first; gates ordered entry before exit, then by name."""
    d = models.decisions
    with ledger._reader() as conn:
        latest = _decisions(conn, _decision_query().order_by(d.c.at.desc(), d.c.id.desc()).limit(recent))
    gates: dict[str, list[DecisionView]] = {}
    lanes: dict[str, Lane] = {}
    for decision in latest:
        shown = gates.setdefault(decision.gate, [])
        lanes.setdefault(decision.gate, decision.lane)
        if len(shown) < per_gate:
            shown.append(decision)
    order = sorted(gates, key=lambda g: (lanes[g] is not Lane.ENTRY, g))
    return [GateLane(gate, gates[gate]) for gate in order]


def ledger_filter(ledger: Ledger, f: VisitFilter, tz: tzinfo) -> listing.VisitFilter:
    """The page's filter as the ledger's (checked there, as for the API): local days become UTC bounds."""
    whole = len(f.plate) >= 7
    return ledger.visit_filter(
        plate=f.plate if whole else None,
        plate_contains=f.plate if f.plate and not whole else None,
        inside=f.inside,
        since=None if f.since is None else day_start(f.since, tz),
        until=None if f.until is None else day_end(f.until, tz) - timedelta(microseconds=1),
        unpaid=f.unpaid,
        flagged=f.flagged,
    )


def _bounds(found: listing.VisitFilter) -> dict[str, datetime]:
    return {k: t for k, t in (("since", found.since), ("until", found.until)) if t is not None}


def visits_page(
    ledger: Ledger, found: listing.VisitFilter, limit: int = 50, offset: int = 0
) -> tuple[list[VisitRecord], bool]:
    """One page of visits, newest entry first, and whether a next page exists (one row more, never a COUNT)."""
    v = models.visits
    with ledger._reader() as conn:
        query = (
            select(v)
            .where(*listing.visit_conditions(found, conn.dialect.name))
            .order_by(v.c.entry_at.desc(), v.c.id.desc())
            .limit(limit + 1)
            .offset(offset)
        )
        rows = [VisitRecord.from_row(r) for r in conn.execute(query, _bounds(found))]
    return rows[:limit], len(rows) > limit


def visits_csv(
    ledger: Ledger, found: listing.VisitFilter, columns: Sequence[str], chunk: int = 1000
) -> Iterator[str]:
    """Every visit of the filter as the API's CSV (gate.report: local times), oldest first, in chunks."""
    with ledger._reader() as conn:
        query = listing.visit_query(found, conn.dialect.name)
        rows = conn.execution_options(yield_per=chunk).execute(query, _bounds(found))
        batch: list[dict[str, Any]] = []
        header = True
        for row in rows:
            batch.append(VisitRecord.from_row(row).to_dict())
            if len(batch) == chunk:
                yield _csv_chunk(columns, batch, ledger, header)
                batch, header = [], False
        yield _csv_chunk(columns, batch, ledger, header)


def _csv_chunk(columns: Sequence[str], rows: list[dict[str, Any]], ledger: Ledger, header: bool) -> str:
    text = csv_text(columns, rows, ledger.timezone)
    return text if header else text.split("\n", 1)[1]


def visit_detail(ledger: Ledger, visit_id: int) -> VisitDetail:
    visit = ledger.visit(visit_id)  # UnknownVisit -> 404
    d, p, o, ri, v = models.decisions, models.payments, models.overrides, models.review_items, models.visits
    with ledger._reader() as conn:
        gates = conn.execute(select(v.c.entry_gate, v.c.exit_gate).where(v.c.id == visit_id)).one()
        decisions = _decisions(conn, _decision_query().where(d.c.visit_id == visit_id).order_by(d.c.at, d.c.id))
        paid = conn.execute(select(p).where(p.c.visit_id == visit_id).order_by(p.c.id))
        payments = [PaymentRecord.from_row(r) for r in paid]
        overrides = [dict(r._mapping) for r in conn.execute(select(o).where(o.c.visit_id == visit_id).order_by(o.c.id))]
        reviews = [
            ReviewEntry.from_row(r) for r in conn.execute(select(ri).where(ri.c.visit_id == visit_id).order_by(ri.c.id))
        ]
    return VisitDetail(visit, gates.entry_gate, gates.exit_gate, decisions, payments, overrides, reviews)


@dataclass(frozen=True)
class ReviewRow:
    """A review item with its read's decision and the entry of the visit it was matched to, side by side."""

    item: ReviewEntry
    read: DecisionView | None
    entry: DecisionView | None


def review_rows(ledger: Ledger, limit: int = 100) -> list[ReviewRow]:
    """Unresolved review items, oldest first, at most ``limit``: three queries for the page, not two per item."""
    ri, d = models.review_items, models.decisions
    with ledger._reader() as conn:
        query = select(ri).where(ri.c.resolved_at.is_(None)).order_by(ri.c.id).limit(limit)
        items = [ReviewEntry.from_row(r) for r in conn.execute(query)]
        decision_ids = [i.decision_id for i in items if i.decision_id is not None]
        visit_ids = [i.visit_id for i in items if i.visit_id is not None]
        reads = {x.id: x for x in _decisions(conn, _decision_query().where(d.c.id.in_(decision_ids)))}
        entries: dict[int, DecisionView] = {}
        of_visits = _decision_query().where(d.c.visit_id.in_(visit_ids), d.c.lane == Lane.ENTRY.value)
        for x in _decisions(conn, of_visits.order_by(d.c.id.desc())):
            assert x.visit_id is not None
            entries[x.visit_id] = x  # the first entry decision of the visit wins (rows come newest first)
    return [
        ReviewRow(i, reads.get(i.decision_id or 0), entries.get(i.visit_id or 0))
        for i in items
    ]


def audit_log(ledger: Ledger, limit: int = 50) -> list[dict[str, Any]]:
    """The latest operator actions, newest first: overrides and resolved review items in one list."""
    o, ri = models.overrides, models.review_items
    with ledger._reader() as conn:
        overrides = conn.execute(select(o).order_by(o.c.id.desc()).limit(limit)).all()
        resolved = conn.execute(
            select(ri).where(ri.c.resolved_at.is_not(None)).order_by(ri.c.resolved_at.desc()).limit(limit)
        ).all()
    rows = [
        {"at": r.at, "who": r.operator, "what": r.action, "visit_id": r.visit_id, "plate": r.plate, "why": r.reason}
        for r in overrides
    ] + [
        {"at": r.resolved_at, "who": r.resolved_by, "what": f"resolved {r.kind} #{r.id}", "visit_id": r.visit_id,
         "plate": r.plate, "why": r.resolution}
        for r in resolved
    ]
    rows.sort(key=lambda row: row["at"], reverse=True)
    return rows[:limit]


LIST_PAGE = 5000  # rows of the lists page; one import may add 10,000


def plate_lists(ledger: Ledger, digits: str = "", limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """Entries of both lists whose plate holds ``digits`` (all when empty), bans first, then by plate; at most
    ``limit`` (LIST_PAGE) of them, and how many there are: a page of 5,000 subscribers never hides a ban."""
    pl = models.plate_lists
    where = pl.c.plate.contains(digits, autoescape=True) if digits else true()
    bans_first = case((pl.c.kind == ListKind.DENY.value, 0), else_=1)
    with ledger._reader() as conn:
        total = conn.execute(select(func.count()).select_from(pl).where(where)).scalar_one()
        rows = conn.execute(select(pl).where(where).order_by(bans_first, pl.c.plate).limit(limit or LIST_PAGE))
        return [dict(r._mapping) for r in rows], int(total)


def plate_entry(ledger: Ledger, plate: str, kind: str) -> dict[str, Any] | None:
    """One entry (the page's edit form), wherever it falls in the list."""
    pl = models.plate_lists
    with ledger._reader() as conn:
        row = conn.execute(select(pl).where(pl.c.plate == plate, pl.c.kind == kind)).first()
    return None if row is None else dict(row._mapping)


def counts(ledger: Ledger) -> dict[str, int]:
    """The header's figures: cars inside (the open-visit index) and unresolved review items."""
    v, ri = models.visits, models.review_items
    with ledger._reader() as conn:
        inside = conn.execute(
            select(func.count()).select_from(v).where(v.c.state == text(f"'{VisitState.OPEN.value}'"))
        ).scalar_one()
        review = conn.execute(
            select(func.count()).select_from(ri).where(ri.c.resolved_at.is_(None))
        ).scalar_one()
    return {"inside": int(inside), "review": int(review)}


def payments_page(
    ledger: Ledger, since: datetime, until: datetime, limit: int, offset: int
) -> tuple[list[PaymentRecord], bool]:
    """Payments in [since, until), oldest first, one page and whether another follows: the count and the sum
    come from the revenue rows of the same days, so the page does not count the range a second time."""
    query = listing.payment_query(since, until).limit(limit + 1).offset(offset)
    with ledger._reader() as conn:
        rows = [PaymentRecord.from_row(r) for r in conn.execute(query, {"since": since, "until": until})]
    return rows[:limit], len(rows) > limit


def overstays(ledger: Ledger, entered_before: datetime, limit: int = 50) -> list[VisitRecord]:
    """Open visits that entered before ``entered_before``, oldest first.

    Read through the partial index of open visits (as many as the lot holds) and filtered here: with the
    time in the query, SQLite walks ``ix_visits_entry_at`` from the oldest visit, through every closed one.
    """
    v = models.visits
    is_open = v.c.state == literal_column(f"'{VisitState.OPEN.value}'")  # a literal: the partial index applies
    with ledger._reader() as conn:
        found = [VisitRecord.from_row(r) for r in conn.execute(select(v).where(is_open))]
    return sorted((x for x in found if x.entry_at < entered_before), key=lambda x: x.entry_at)[:limit]
