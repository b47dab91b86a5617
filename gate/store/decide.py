"""One read, one decision: the entry and exit rules, run inside the ledger's transaction.

Ledger.decide opens the transaction and calls ``decide_entry`` or
``decide_exit``; each records the read, its decision and any review item in
that transaction, so they commit (or roll back and retry) together. The
money and matching rules themselves are pure, in gate.rules.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select

from gate.rules.codes import (
    Action,
    CloseReason,
    DuplicateEntry,
    Lane,
    ListKind,
    MatchKind,
    Reason,
    ReviewKind,
)
from gate.rules.decision import Decision
from gate.rules.matching import Match, match_plate
from gate.rules.money import to_shekels
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff, billed_until, fee_agorot
from gate.rules.votes import PlateVote
from gate.store import evidence, models, queries
from gate.store.evidence import EvidenceFile
from gate.store.queries import LostRace
from gate.store.records import VisitRecord
from lpr.plate_format import format_plate


@dataclass(frozen=True)
class Read:
    """One accepted plate read, as the reads table stores it, with its pass's votes and evidence images."""

    lane: Lane
    plate: str
    at: datetime
    confidence: float | None
    char_conf: list[float] | None
    evidence_path: str | None
    gate: str = ""  # the gate id; "" only in code that predates gates (then the lane's name is used)
    votes: list[PlateVote] | None = None
    evidence: tuple[EvidenceFile, ...] = ()
    doubt: str | None = None  # why the camera's pass is not sure of the plate (gate.lane.voting): flag it
    key: str | None = None  # the camera's id of the read (reads.read_key): a resend is answered, not decided

    def unsure_because(self) -> str:
        """Why a low-confidence decision is flagged: the pass's doubt, else the read's confidence."""
        return self.doubt or f"read confidence {self.confidence or 0.0:.2f}"

    @property
    def gate_id(self) -> str:
        return self.gate or self.lane.value

    def row(self) -> dict[str, Any]:
        return {
            "lane": self.lane.value,
            "plate": self.plate,
            "confidence": self.confidence,
            "char_conf": self.char_conf,
            "at": self.at,
            "evidence_path": self.evidence_path,
            "gate": self.gate_id,
            "read_key": self.key,
        }


_DECISION_OF_KEY = (
    select(models.decisions)
    .join(models.reads, models.reads.c.id == models.decisions.c.read_id)
    .where(models.reads.c.read_key == bindparam("read_key"))
    .order_by(models.decisions.c.id)
    .limit(1)
)


def replayed(conn: Connection, key: str) -> Decision | None:
    """The decision already recorded for the read with this key, or None (then decide it)."""
    row = conn.execute(_DECISION_OF_KEY, {"read_key": key}).first()
    if row is None:
        return None
    return Decision(
        action=Action(row.action),
        reason=Reason(row.reason),
        visit_id=row.visit_id,
        amount_due=to_shekels(row.amount_due_agorot),
        lane=Lane(row.lane),
        plate=row.plate,
        flagged=row.flagged,
        note=f"read {key} was decided before (decision {row.id}); nothing recorded again",
        decision_id=row.id,
        at=row.at,
        gate=row.gate,
        replayed=True,
    )


def decide_entry(conn: Connection, read: Read, low_conf: bool, tariff: Tariff, policy: Policy) -> Decision:
    """An entry read: deny-listed, repeat read, duplicate (per policy), lot full, or a new visit."""
    plate, at = read.plate, read.at
    rec = _Recorder(conn, read)
    lists = queries.lists_of(conn, plate)
    if ListKind.DENY in lists:
        return rec.decide(Action.DENY, Reason.DENY_LISTED, None)
    queries.take_entry_lock(conn)
    note = ""
    existing = queries.open_visit(conn, plate)
    if existing is not None:
        since_entry = at - existing.entry_at
        if abs(since_entry) <= timedelta(seconds=policy.repeat_window_s):
            return rec.decide(Action.OPEN, Reason.REPEAT_READ, existing.id, flagged=low_conf)
        if since_entry < timedelta(0):
            rec.review(ReviewKind.CLOCK_SKEW, existing.id, f"entry read earlier than the open visit {existing.id}")
            return rec.decide(
                Action.REVIEW, Reason.CLOCK_SKEW, existing.id, note="entry before the open visit's entry"
            )
        if policy.duplicate_entry is DuplicateEntry.KEEP:
            rec.review(ReviewKind.DUPLICATE_ENTRY, existing.id, "plate entered again while its visit is open; kept")
            return rec.decide(Action.OPEN, Reason.ALREADY_INSIDE, existing.id, flagged=True)
        if policy.duplicate_entry is DuplicateEntry.DENY:
            rec.review(
                ReviewKind.DUPLICATE_ENTRY, existing.id, "plate entered again while its visit is open; denied"
            )
            return rec.decide(Action.DENY, Reason.ALREADY_INSIDE, existing.id, flagged=True)
        queries.close_visit(
            conn,
            existing,
            exit_at=at,
            fee=fee_agorot(tariff, existing.entry_at, at),
            close_reason=CloseReason.STALE,
            flag_reason="stale: the plate entered again; its exit was never read",
        )
        rec.review(ReviewKind.STALE_VISIT, existing.id, "closed because the plate entered again; exit never read")
        note = f"stale visit {existing.id} closed"
    subscriber = ListKind.ALLOW in lists
    if not subscriber:
        inside = queries.count_open(conn)
        if inside >= policy.capacity:
            return rec.decide(
                Action.DENY, Reason.LOT_FULL, None, note=f"{inside} of {policy.capacity} places taken"
            )
    visit_id = queries.insert_visit(
        conn, plate, at, f"unsure entry: {read.unsure_because()}" if low_conf else None, entry_gate=read.gate_id
    )
    reason = Reason.ALLOW_LISTED if subscriber else Reason.ENTERED
    decision = rec.decide(Action.OPEN, reason, visit_id, flagged=low_conf, note=note)
    if low_conf:
        rec.review(ReviewKind.LOW_CONFIDENCE, visit_id, f"unsure entry: {read.unsure_because()}")
    return decision

def decide_exit(conn: Connection, read: Read, low_conf: bool, tariff: Tariff, policy: Policy) -> Decision:
    """An exit read: find its visit (exactly or fuzzily), open when nothing is due and close it."""
    plate, at = read.plate, read.at
    rec = _Recorder(conn, read)
    subscriber = queries.allow_listed(conn, plate)
    visit = queries.open_visit(conn, plate)
    match = Match(visit.id, plate, MatchKind.EXACT) if visit is not None else _fuzzy(conn, read, policy)
    if visit is None:
        # The plate's own visit closed moments ago: read sure, this is the same car read again (a pass split in
        # two), never a near plate's car (matched fuzzily, it closed a neighbour's paid visit and pulsed again).
        # Read unsure beside a near open visit, it may be that neighbour misread: an attendant decides.
        recent = queries.recent_exit(conn, plate, at - timedelta(seconds=policy.repeat_window_s), at)
        if recent is not None:
            if match is not None and low_conf:
                return _review_beside(rec, match, Reason.ALREADY_EXITED, recent, f"unsure read {plate} just after "
                                      "its exit")
            return rec.decide(Action.DENY, Reason.ALREADY_EXITED, recent)
    if subscriber and visit is None:
        # A subscriber leaves free, but only its own visit may close free: a near plate's open visit is
        # another car's (it would be closed at fee 0 and that car's debt lost), so it stays open for review.
        if match is None:
            return rec.decide(Action.OPEN, Reason.ALLOW_LISTED, None, note="no open visit")
        if low_conf:  # as likely that car misread: it must not leave free on a subscriber's plate
            return _review_beside(rec, match, Reason.ALLOW_LISTED, None, f"unsure read of subscriber {plate}")
        decision = rec.decide(Action.OPEN, Reason.ALLOW_LISTED, None, flagged=True, matched=match.plate,
                              note=f"near open visit {match.visit_id} left open")
        # one waiting item per subscriber and near visit: one who leaves daily beside an overstay asked every day
        if not queries.has_unresolved_review(conn, ReviewKind.FUZZY_MATCH, plate, match.visit_id):
            rec.review(ReviewKind.FUZZY_MATCH, match.visit_id,
                       f"subscriber {plate} left; near visit {format_plate(match.plate)} left open",
                       decision.decision_id)
        return decision
    if match is None:
        decision = rec.decide(
            Action.REVIEW, Reason.NO_OPEN_VISIT, None, note="gate stays closed; attendant to check"
        )
        rec.review(ReviewKind.NO_OPEN_VISIT, None, "exit read matches no open visit", decision.decision_id)
        return decision

    if visit is None:
        visit = queries.visit_by_id(conn, match.visit_id)
    if visit is None or not visit.is_open:
        raise LostRace(f"visit {match.visit_id} closed concurrently")
    if not subscriber and match.flagged and queries.allow_listed(conn, visit.plate):
        # one digit off a subscriber's visit: the subscriber misread, or a car with no visit of its own (in behind
        # another) beside it. Neither "unpaid" (the pay station says a subscriber owes nothing: the car could never
        # pay its way out) nor "free" (the other car would leave unpaid): the barrier stays shut, an attendant looks
        return _review_beside(rec, match, Reason.NO_OPEN_VISIT, None,
                              f"read {plate}, near subscriber {format_plate(visit.plate)}'s visit")
    flagged = match.flagged or low_conf
    matched = match.plate if match.flagged else None
    note = f"{match.kind} match to {format_plate(match.plate)}" if matched else ""
    if at < visit.entry_at:
        decision = rec.decide(Action.REVIEW, Reason.CLOCK_SKEW, visit.id, flagged=True, matched=matched, note=note)
        rec.review(ReviewKind.CLOCK_SKEW, visit.id, "exit read earlier than the entry", decision.decision_id)
        return decision

    charged = closing_fee(tariff, visit, at, subscriber)
    if subscriber:
        due, reason = 0, Reason.ALLOW_LISTED
    elif visit.waived:
        due, reason = 0, Reason.NO_FEE
    else:
        due = max(0, charged - visit.paid_agorot)
        reason = Reason.PAID if visit.paid_agorot else Reason.NO_FEE
    if due > 0:
        return rec.decide(
            Action.DENY, Reason.UNPAID, visit.id, due=due, flagged=flagged, matched=matched, note=note
        )

    flag_reason = None
    if match.flagged:
        flag_reason = f"exit read {plate} matched by {match.kind}"
    elif low_conf:
        flag_reason = f"unsure exit: {read.unsure_because()}"
    queries.close_visit(
        conn, visit, exit_at=at, fee=charged, close_reason=CloseReason.EXIT, flag_reason=flag_reason,
        exit_gate=read.gate_id,
    )
    decision = rec.decide(Action.OPEN, reason, visit.id, flagged=flagged, matched=matched, note=note)
    if flag_reason:
        kind = ReviewKind.FUZZY_MATCH if match.flagged else ReviewKind.LOW_CONFIDENCE
        rec.review(kind, visit.id, flag_reason, decision.decision_id)
    return decision


def closing_fee(tariff: Tariff, visit: VisitRecord, at: datetime, subscriber: bool) -> int:
    """The fee a visit is closed with at ``at``, by an exit or by hand: nothing for a subscriber, the fee frozen at the
    last payment inside its grace, else the stay's (a waived visit's too: recorded, not owed). One rule, so a visit
    closed by hand inside its grace is not listed unpaid."""
    if subscriber:
        return 0
    if visit.waived:
        return fee_agorot(tariff, visit.entry_at, at)
    return fee_agorot(tariff, visit.entry_at, billed_until(tariff, at, visit.last_paid_at))


def _review_beside(rec: _Recorder, match: Match, reason: Reason, visit_id: int | None, what: str) -> Decision:
    """An unsure read beside a near plate's open visit may be that car misread: the barrier stays shut and an
    attendant is asked (one fuzzy-match item on the near visit)."""
    decision = rec.decide(Action.REVIEW, reason, visit_id, flagged=True, matched=match.plate,
                          note=f"{what} beside open visit {match.visit_id}; gate stays closed, attendant to check")
    rec.review(ReviewKind.FUZZY_MATCH, match.visit_id,
               f"{what} ({rec.read.unsure_because()}) beside near visit {format_plate(match.plate)}",
               decision.decision_id)
    return decision


def _fuzzy(conn: Connection, read: Read, policy: Policy) -> Match | None:
    """No open visit has exactly this plate: the one the driver paid for under it, else the near ones.

    A driver whose entry was misread pays the visit they chose at the pay
    station (payments.typed_plate); with two near plates inside, the one-digit
    rule alone would be ambiguous and leave that paid car at a shut barrier.
    """
    paid_as = queries.open_visit_paid_as(conn, read.plate)
    if paid_as is not None:
        return Match(paid_as[0], paid_as[1], MatchKind.PAID_AS)
    return match_plate(
        read.plate,
        queries.open_plates(conn),
        read.char_conf,
        max_digits=policy.fuzzy_max_digits,
        uncertain_char=policy.uncertain_char,
    )


class _Recorder:
    """Records the decision (and review items) of one read in its transaction."""

    def __init__(self, conn: Connection, read: Read) -> None:
        self.conn, self.read = conn, read
        self.read_id = queries.insert_row(conn, models.reads, read.row())

    def decide(
        self,
        action: Action,
        reason: Reason,
        visit_id: int | None,
        *,
        due: int = 0,
        flagged: bool = False,
        matched: str | None = None,
        note: str = "",
    ) -> Decision:
        read = self.read
        row = {
            "read_id": self.read_id,
            "lane": read.lane.value,
            "plate": read.plate,
            "action": action.value,
            "reason": reason.value,
            "visit_id": visit_id,
            "amount_due_agorot": due,
            "flagged": flagged,
            "at": read.at,
            "gate": read.gate_id,
            "votes": None if read.votes is None else [v.to_dict() for v in read.votes],
        }
        decision_id = queries.insert_row(self.conn, models.decisions, row)
        evidence.insert(self.conn, decision_id, read.evidence, read.at)
        return Decision(
            action=action,
            reason=reason,
            visit_id=visit_id,
            amount_due=to_shekels(due),
            lane=read.lane,
            plate=read.plate,
            flagged=flagged,
            matched_plate=matched,
            note=note,
            decision_id=decision_id,
            at=read.at,
            gate=read.gate_id,
        )

    def review(self, kind: ReviewKind, visit_id: int | None, reason: str, decision_id: int | None = None) -> None:
        row = {
            "kind": kind.value,
            "plate": self.read.plate,
            "visit_id": visit_id,
            "decision_id": decision_id,
            "reason": reason,
            "created_at": self.read.at,
        }
        queries.insert_row(self.conn, models.review_items, row)
