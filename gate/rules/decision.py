"""Decision: what the gate does for one read. The relay opens only when ``Decision.opens``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from gate.rules.clock import iso
from gate.rules.codes import Action, Lane, Reason


@dataclass(frozen=True)
class Decision:
    """The gate's answer, returned only after it is committed to the ledger.

    Pulse the relay only when ``opens``. ``amount_due`` is in
    shekels (Decimal, 2 places); ``flagged`` marks a fuzzy or low-confidence
    match that was also put in the review queue.
    """

    action: Action
    reason: Reason
    visit_id: int | None
    amount_due: Decimal
    lane: Lane
    plate: str
    flagged: bool = False
    matched_plate: str | None = None
    note: str = ""
    decision_id: int | None = None
    at: datetime | None = None
    gate: str | None = None  # the gate id the read came from
    replayed: bool = False  # the read's key was decided before: this is that decision, nothing was recorded

    @property
    def opens(self) -> bool:
        return self.action is Action.OPEN

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON: action, reason, visit_id, amount_due (shekels) and detail."""
        return {
            "action": self.action.value,
            "reason": self.reason.value,
            "visit_id": self.visit_id,
            "amount_due": float(self.amount_due),
            "flagged": self.flagged,
            "lane": self.lane.value,
            "plate": self.plate,
            "matched_plate": self.matched_plate,
            "note": self.note,
            "decision_id": self.decision_id,
            "at": iso(self.at),
            "gate": self.gate,
        }
