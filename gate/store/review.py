"""Operator actions from the API: resolve a review item (confirm, reassign, open, waive) and the overrides.

Each action is one transaction that also records who acted and why (the
overrides table and the review item's ``resolved_by``/``resolution``), so the
log never shows a change without its operator. Who acted is the caller's name
as gate.serve.auth gives it (the API token's name, or the web user's).

Reassign moves a decision to the visit it really belongs to. When that
decision was an exit that opened the barrier and closed visit A, A is opened
again (its car is still inside) and the chosen visit B is closed at the
exit's time with its fee, as the exit would have done: the car that left is
B. Opening by hand queues a pulse for the decision's gate
(gate.store.commands); it never changes a visit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from gate.rules.clock import iso, now_utc
from gate.rules.codes import CloseReason, OverrideAction, ReviewAction, VisitState
from gate.rules.errors import GateError, InvalidInput, UnknownVisit
from gate.rules.tariff import amount_due_agorot
from gate.store import models, queries
from gate.store.commands import GateCommandRecord, insert_open, open_values
from gate.store.decide import closing_fee
from gate.store.ledger import Ledger, _id, _record_override, _require_who_why, _text
from gate.store.records import ReviewEntry, VisitRecord
from lpr.plate_format import format_plate, normalize_plate

log = logging.getLogger(__name__)

_items = models.review_items
_decisions = models.decisions
_visits = models.visits


@dataclass(frozen=True)
class Resolution:
    """What resolving an item did: the item as now stored, the visit it names, the queued pulse."""

    item: ReviewEntry
    visit: VisitRecord | None
    command: GateCommandRecord | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item.to_dict(),
            "visit": None if self.visit is None else self.visit.to_dict(),
            "command": None if self.command is None else self.command.to_dict(),
        }


class Operations:
    """The review queue's resolutions and the API's overrides on one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def resolve(
        self,
        item_id: int,
        actor: str,
        action: ReviewAction | str,
        reason: str,
        *,
        visit_id: int | None = None,
    ) -> Resolution:
        """Resolve an unresolved review item by ``action`` (see the module doc); GateError when it cannot be."""
        _require_who_why(actor, reason)
        item_id = _id("review item id", item_id)
        try:
            action = ReviewAction(action)
        except ValueError:
            allowed = ", ".join(a.value for a in ReviewAction)
            raise InvalidInput(f"action {action!r}: expected one of {allowed}") from None
        if (visit_id is not None) != (action is ReviewAction.REASSIGN):
            raise InvalidInput("visit_id: give it to reassign, and only then")
        target = None if visit_id is None else _id("visit id", visit_id)
        who, why = actor.strip(), reason.strip()
        resolution = _text(_items.c.resolution, f"{action.value}: {why}")
        resolved_by = _text(_items.c.resolved_by, who)
        when = now_utc()

        def run(conn: Connection) -> tuple[int | None, GateCommandRecord | None]:
            item = conn.execute(select(_items).where(_items.c.id == item_id).with_for_update()).first()
            if item is None or item.resolved_at is not None:
                raise GateError(f"no unresolved review item {item_id}")
            decision = None
            if item.decision_id is not None:
                decision = conn.execute(select(_decisions).where(_decisions.c.id == item.decision_id)).first()
            visit_id = item.visit_id
            command = None
            if action is ReviewAction.REASSIGN:
                assert target is not None
                visit_id = self._reassign(conn, item, decision, target, who, why, when)
            elif action is ReviewAction.WAIVE:
                visit = _open(conn, item.visit_id, "waive")
                due = amount_due_agorot(self.ledger.tariff, visit.entry_at, max(when, visit.entry_at),
                                        visit.paid_agorot, visit.last_paid_at)
                queries.update_open_visit(conn, visit.id, waived=True)
                _record_override(conn, who, why, OverrideAction.WAIVE, visit.id, visit.plate, due, when)
            elif action is ReviewAction.OPEN:
                gate = (decision.gate if decision is not None else None) or (
                    decision.lane if decision is not None else None)
                if gate is None:
                    raise GateError(f"review item {item_id} has no decision, so no gate to open: "
                                    "use POST /api/overrides/open with the gate")
                _record_override(conn, who, why, OverrideAction.OPEN_GATE, item.visit_id, item.plate, None, when)
                values = open_values(gate, who, f"review item {item_id}: {why}", item.visit_id, when)
                command = insert_open(conn, values)  # in this transaction: no pulse for an action rolled back
            conn.execute(update(_items).where(_items.c.id == item_id).values(
                visit_id=visit_id, resolved_at=when, resolved_by=resolved_by, resolution=resolution))
            return visit_id, command

        visit_id_after, command = self.ledger._transaction(run)
        log.info("review item %d resolved by %s: %s", item_id, who, resolution)
        item = next(i for i in self.ledger.review_queue(include_resolved=True) if i.item_id == item_id)
        visit = None if visit_id_after is None else self.ledger.visit(visit_id_after)
        return Resolution(item, visit, command)

    def _reassign(self, conn: Connection, item: Any, decision: Any, target: int, who: str, why: str,
                  when: datetime) -> int:
        """Move the item's decision to visit ``target``; undo and redo the exit it made (module doc)."""
        visit = queries.visit_by_id(conn, target)
        if visit is None:
            raise UnknownVisit(f"no visit {target}")
        if decision is not None and decision.visit_id == target:
            raise GateError(f"decision {decision.id} already belongs to visit {target}")
        closed_by_it = None
        if decision is not None and decision.visit_id is not None and decision.lane == "exit" and (
            decision.action == "open"
        ):
            old = queries.visit_by_id(conn, decision.visit_id)
            if old is not None and old.close_reason is CloseReason.EXIT and old.exit_at == decision.at:
                closed_by_it = old
        if closed_by_it is not None:
            if not visit.is_open:
                raise GateError(f"visit {target} is already closed: the exit cannot be moved to it")
            if visit.entry_at > decision.at:  # it would be closed at its own entry for nothing: its fee lost
                raise GateError(f"visit {target} entered at {iso(visit.entry_at)}, after the exit at "
                                f"{iso(decision.at)}: it cannot be the car that left")
            again = queries.open_visit(conn, closed_by_it.plate)
            if again is not None:
                raise GateError(f"visit {closed_by_it.id} cannot be opened again: plate "
                                f"{format_plate(closed_by_it.plate)} has open visit {again.id}")
            reopened = conn.execute(
                update(_visits)
                .where(_visits.c.id == closed_by_it.id, _visits.c.state == VisitState.CLOSED.value)
                .values(state=VisitState.OPEN.value, exit_at=None, fee_agorot=None, close_reason=None,
                        exit_gate=None)
            ).rowcount
            if reopened != 1:
                raise queries.LostRace(f"visit {closed_by_it.id} changed concurrently")
            queries.close_visit(conn, visit, exit_at=decision.at,
                                fee=closing_fee(self.ledger.tariff, visit, decision.at,
                                                queries.allow_listed(conn, visit.plate)),
                                close_reason=CloseReason.EXIT, flag_reason=f"exit reassigned by {who}",
                                exit_gate=decision.gate)
        if decision is not None:
            conn.execute(update(_decisions).where(_decisions.c.id == decision.id).values(visit_id=target))
        _record_override(conn, who, why, OverrideAction.REASSIGN, target, visit.plate, None, when)
        return target

    def open_gate(
        self,
        gate: str,
        actor: str,
        reason: str,
        *,
        plate: str | None = None,
        visit_id: int | None = None,
    ) -> tuple[VisitRecord | None, GateCommandRecord]:
        """Pulse ``gate``'s barrier by hand; with ``plate``, also open a visit for it (the entry camera was
        down), recorded as the CLI's ``override open`` is."""
        _require_who_why(actor, reason)
        if plate is not None and visit_id is not None:
            raise InvalidInput("give a plate (a new visit) or a visit id, not both")
        digits = None if plate is None else normalize_plate(plate)
        known = None if visit_id is None else _id("visit id", visit_id)
        who, why, when = actor.strip(), reason.strip(), now_utc()
        values = open_values(gate, who, why, None, when)

        def run(conn: Connection) -> tuple[int | None, GateCommandRecord]:
            target, target_plate = known, None
            if digits is not None:  # as Ledger.override_open, in this transaction
                queries.take_entry_lock(conn)
                existing = queries.open_visit(conn, digits)
                if existing is not None:
                    raise GateError(f"plate {format_plate(digits)} already has open visit {existing.id}")
                target, target_plate = queries.insert_visit(conn, digits, when, entry_gate=values["gate"]), digits
                _record_override(conn, who, why, OverrideAction.OPEN_VISIT, target, digits, None, when)
            elif target is not None:
                found = queries.visit_by_id(conn, target)
                if found is None:
                    raise UnknownVisit(f"no visit {target}")
                target_plate = found.plate
            _record_override(conn, who, why, OverrideAction.OPEN_GATE, target, target_plate, None, when)
            return target, insert_open(conn, {**values, "visit_id": target})

        target, command = self.ledger._transaction(run)
        return (None if target is None else self.ledger.visit(target)), command


def _open(conn: Connection, visit_id: int | None, what: str) -> VisitRecord:
    if visit_id is None:
        raise GateError(f"this item names no visit to {what}")
    visit = queries.visit_by_id(conn, visit_id)
    if visit is None:
        raise UnknownVisit(f"no visit {visit_id}")
    if not visit.is_open:
        raise GateError(f"visit {visit_id} is already closed")
    return visit
