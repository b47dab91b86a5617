"""Decision: what the gate does for one read. The relay opens only on "open"."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from gate.rules.clock import iso

OPEN, DENY, REVIEW = "open", "deny", "review"

# reasons (stable codes; `note` carries the human detail)
REASONS = {
    "entered": "a new visit was opened",
    "repeat-read": "the same car read again at the barrier; same visit",
    "already-inside": "an open visit exists for the plate (duplicate_entry policy)",
    "deny-listed": "the plate is on the deny list",
    "lot-full": "the lot is at capacity",
    "allow-listed": "subscriber plate: opens and is logged",
    "paid": "the visit paid what it owes",
    "no-fee": "nothing owed (free period, or waived)",
    "unpaid": "the visit owes amount_due",
    "no-open-visit": "no open visit matches; sent to the review queue",
    "already-exited": "the visit was closed moments ago (repeat read)",
    "clock-skew": "the read is earlier than the visit it belongs to; sent to review",
}


@dataclass(frozen=True)
class Decision:
    """The gate's answer, returned only after it is committed to the ledger.

    Pulse the relay only when ``action == "open"``. ``amount_due`` is in
    shekels (Decimal, 2 places); ``flagged`` marks a fuzzy or low-confidence
    match that was also put in the review queue.
    """

    action: str  # "open" | "deny" | "review"
    reason: str  # a key of REASONS
    visit_id: int | None
    amount_due: Decimal
    flagged: bool = False
    lane: str = ""
    plate: str = ""
    matched_plate: str | None = None
    note: str = ""
    decision_id: int | None = None
    at: datetime | None = None

    @property
    def opens(self) -> bool:
        return self.action == OPEN

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON: action, reason, visit_id, amount_due (shekels) and detail."""
        return {
            "action": self.action,
            "reason": self.reason,
            "visit_id": self.visit_id,
            "amount_due": float(self.amount_due),
            "flagged": self.flagged,
            "lane": self.lane,
            "plate": self.plate,
            "matched_plate": self.matched_plate,
            "note": self.note,
            "decision_id": self.decision_id,
            "at": iso(self.at),
        }
