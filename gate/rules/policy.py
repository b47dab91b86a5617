"""Gate policy: the non-money rules of the lot.

Defaults (why):
- capacity 500: a mid-size lot; entries beyond it are denied.
- max_stay_hours 72: a car inside longer than a long weekend is probably a
  missed exit read or abandoned; it is listed in ``gate review``.
- duplicate_entry "close-stale": a car at the entry cannot also be inside, so
  an open visit for the same plate is a missed exit; it is closed (exit time =
  the new entry), flagged for review, and a new visit opens. "deny" refuses
  the entry instead; "keep" keeps the old visit and lets the car in.
- repeat_window_s 120: the camera or attendant reading the same car twice at
  the barrier is not a new visit (entry) nor an unmatched car (exit).
- min_confidence 0.5: reads below it still decide (keep cars moving) but are
  flagged for review.
- fuzzy_max_digits 2 / uncertain_char 0.6: without per-character confidences
  only a unique open visit one digit away matches; with them, up to two
  differing digits may match if every differing digit was read with
  confidence below uncertain_char and the best candidate is unique.
- decision_wait_s 5: a gate must answer while the car waits; a decision that
  cannot get the database's write lock in this time fails closed (the barrier
  stays shut, the read is logged) instead of retrying for minutes.
- earliest_time 2000-01-01 / future_days 1: a time typed at the CLI or given
  to the ledger outside [earliest_time, now + future_days] is a typo or a
  broken clock (year 1 overflowed, year 9999 was stored); it is refused.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from gate.rules import checks
from gate.rules.codes import DuplicateEntry
from gate.rules.errors import ConfigError


@dataclass(frozen=True)
class Policy:
    capacity: int = 500
    max_stay_hours: float = 72.0
    duplicate_entry: DuplicateEntry = DuplicateEntry.CLOSE_STALE
    repeat_window_s: float = 120.0
    min_confidence: float = 0.5
    fuzzy_max_digits: int = 2
    uncertain_char: float = 0.6
    decision_wait_s: float = 5.0
    earliest_time: datetime = datetime(2000, 1, 1, tzinfo=timezone.utc)
    future_days: float = 1.0

    def __post_init__(self) -> None:
        """Check every setting's type and range; a config file gives plain strings and numbers."""
        try:
            object.__setattr__(self, "duplicate_entry", DuplicateEntry(self.duplicate_entry))
        except ValueError:
            choices = ", ".join(DuplicateEntry)
            raise ConfigError(f"policy.duplicate_entry = {self.duplicate_entry!r}: expected one of {choices}") from None
        checked = {
            "capacity": checks.integer("policy.capacity", self.capacity, 0, 1_000_000),
            "max_stay_hours": checks.number("policy.max_stay_hours", self.max_stay_hours, 0, 24 * 366,
                                            above_low=True),
            "repeat_window_s": checks.number("policy.repeat_window_s", self.repeat_window_s, 0, 3600),
            "min_confidence": checks.number("policy.min_confidence", self.min_confidence, 0, 1),
            "fuzzy_max_digits": checks.integer("policy.fuzzy_max_digits", self.fuzzy_max_digits, 0, 8),
            "uncertain_char": checks.number("policy.uncertain_char", self.uncertain_char, 0, 1),
            "decision_wait_s": checks.number("policy.decision_wait_s", self.decision_wait_s, 0, 600,
                                             above_low=True),
            "earliest_time": checks.moment("policy.earliest_time", self.earliest_time),
            "future_days": checks.number("policy.future_days", self.future_days, 0, 3660),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def time_window(self, now: datetime) -> tuple[datetime, datetime]:
        """The times a read, payment or query may name: [earliest_time, now + future_days]."""
        return self.earliest_time, now + timedelta(days=self.future_days)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Policy":
        names = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise ConfigError(f"policy: unknown setting(s) {', '.join(sorted(unknown))}")
        return cls(**dict(data))

    def describe(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "duplicate_entry": self.duplicate_entry.value,
            "earliest_time": self.earliest_time.isoformat(),
        }
