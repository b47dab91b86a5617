"""The ledger's vocabulary: every code that is stored in a row, printed by the CLI or logged.

One StrEnum per kind of code, shared by the CLI, the ledger and the camera
process, so a typo is an error where it is written, not a row nobody matches.
The values are the strings in the database and in the CLI's JSON: never
rename one without a migration.
"""
from __future__ import annotations

from enum import StrEnum


class Lane(StrEnum):
    """Which camera read the plate."""

    ENTRY = "entry"
    EXIT = "exit"


class Action(StrEnum):
    """What the gate does. The relay is pulsed only on OPEN."""

    OPEN = "open"
    DENY = "deny"
    REVIEW = "review"  # the gate stays closed and an attendant looks


class Reason(StrEnum):
    """Why the gate did it: a stable code; ``Decision.note`` carries the human detail."""

    ENTERED = "entered"  # a new visit was opened
    REPEAT_READ = "repeat-read"  # the same car read again at the barrier; same visit
    ALREADY_INSIDE = "already-inside"  # an open visit exists for the plate (duplicate_entry policy)
    DENY_LISTED = "deny-listed"  # the plate is on the deny list
    LOT_FULL = "lot-full"  # the lot is at capacity
    ALLOW_LISTED = "allow-listed"  # subscriber plate: opens and is logged
    PAID = "paid"  # the visit paid what it owes
    NO_FEE = "no-fee"  # nothing owed (free period, or waived)
    UNPAID = "unpaid"  # the visit owes amount_due
    NO_OPEN_VISIT = "no-open-visit"  # no open visit matches; sent to the review queue
    ALREADY_EXITED = "already-exited"  # the visit was closed moments ago (repeat read)
    CLOCK_SKEW = "clock-skew"  # the read is earlier than the visit it belongs to; sent to review
    OFFLINE = "offline"  # a remote lane could not reach the server: its read is queued; never stored as such


class ListKind(StrEnum):
    """The plate lists: subscribers always open, deny-listed plates never enter."""

    ALLOW = "allow"
    DENY = "deny"


class VisitState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    """How a visit was closed."""

    EXIT = "exit"  # its exit was read and the gate opened
    STALE = "stale"  # the plate entered again; its exit was never read
    OVERRIDE = "override"  # an operator closed it


class ReviewKind(StrEnum):
    """Why an item is in the review queue."""

    NO_OPEN_VISIT = "no-open-visit"
    FUZZY_MATCH = "fuzzy-match"
    LOW_CONFIDENCE = "low-confidence"
    CLOCK_SKEW = "clock-skew"
    DUPLICATE_ENTRY = "duplicate-entry"
    STALE_VISIT = "stale-visit"
    OVERSTAY = "overstay"  # computed from open visits, never stored
    PAY_CANDIDATE = "pay-candidate"  # paid at the pay station for a near plate's visit the driver chose


class OverrideAction(StrEnum):
    """An operator's manual action (the overrides table)."""

    OPEN_VISIT = "open-visit"
    CLOSE_VISIT = "close-visit"
    WAIVE = "waive"
    OPEN_GATE = "open-gate"  # a barrier pulsed by hand (queued for its `gate run`)
    REASSIGN = "reassign"  # a decision moved to another visit from the review queue
    LIST_ADD = "list-add"  # a plate put on (or its entry edited in) the allow or deny list; reason says which
    LIST_REMOVE = "list-remove"  # a plate taken off a list


class ReviewAction(StrEnum):
    """How an operator resolves a review item (recorded as ``<action>: <reason>``)."""

    CONFIRM = "confirm"  # the match (or the decision) was right
    REASSIGN = "reassign"  # the read belongs to another visit
    OPEN = "open"  # open the barrier of the decision's gate by hand
    WAIVE = "waive"  # waive the visit's fee


class MatchKind(StrEnum):
    """How an exit read found its open visit (gate.rules.matching); all but EXACT are flagged."""

    EXACT = "exact"
    ONE_DIGIT = "one-digit"
    CONFIDENCE = "confidence"
    PAID_AS = "paid-as"  # the driver paid this visit at the pay station typing the plate now read


class DuplicateEntry(StrEnum):
    """Policy for an entry read of a plate whose visit is still open (gate.rules.policy)."""

    CLOSE_STALE = "close-stale"
    DENY = "deny"
    KEEP = "keep"


class Role(StrEnum):
    """What an API token may do (``gate serve``); the operator may do everything."""

    PAY_STATION = "pay-station"  # quote and pay
    CAMERA = "camera"  # post reads
    OPERATOR = "operator"  # everything, overrides and review included
    VIEWER = "viewer"  # read only


class EvidenceKind(StrEnum):
    """What an evidence image of a decision shows (the evidence table)."""

    FRAME = "frame"  # the camera frame, downscaled JPEG
    PLATE = "plate"  # the rectified plate crop


class GateCommand(StrEnum):
    """A command queued for a gate's `gate run` (the gate_commands table)."""

    OPEN = "open"  # pulse the relay once (an operator's manual open)
