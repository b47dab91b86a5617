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
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

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

    def __post_init__(self) -> None:
        try:  # a config file gives a plain string
            object.__setattr__(self, "duplicate_entry", DuplicateEntry(self.duplicate_entry))
        except ValueError:
            choices = ", ".join(DuplicateEntry)
            raise ConfigError(f"policy: duplicate_entry must be one of {choices}") from None
        if self.capacity < 0 or self.max_stay_hours <= 0 or self.repeat_window_s < 0:
            raise ConfigError("policy: capacity, max_stay_hours and repeat_window_s must be positive")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Policy":
        names = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise ConfigError(f"policy: unknown setting(s) {', '.join(sorted(unknown))}")
        return cls(**dict(data))

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "duplicate_entry": self.duplicate_entry.value}
