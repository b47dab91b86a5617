"""Match an exit read to an open visit. Pure functions, no database.

Order, most certain first:
1. exact plate;
2. the unique open plate one digit away (one substitution, or one digit
   dropped/added, the usual OCR slips);
3. with per-character confidences: open plates of the same length that differ
   only where the reader was unsure (confidence < uncertain_char), at most
   ``max_digits`` digits, the most likely (product of the differing digits'
   error probabilities 1 - confidence) and unique.
Anything but exact is flagged for review. Ambiguity never guesses: no match.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from operator import ne
from typing import Iterable, Sequence

from gate.rules.codes import MatchKind


@dataclass(frozen=True)
class Match:
    visit_id: int
    plate: str
    kind: MatchKind

    @property
    def flagged(self) -> bool:
        return self.kind is not MatchKind.EXACT


def hamming(a: str, b: str) -> int | None:
    """Differing positions of equal-length strings, else None."""
    if len(a) != len(b):
        return None
    return sum(x != y for x, y in zip(a, b))


def one_edit_apart(a: str, b: str) -> bool:
    """True if a and b differ by exactly one substitution, insertion or deletion."""
    if a == b:
        return False
    if len(a) == len(b):
        return hamming(a, b) == 1
    if abs(len(a) - len(b)) != 1:
        return False
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


def match_plate(
    plate: str,
    open_visits: Iterable[tuple[int, str]],
    char_conf: Sequence[float] | None = None,
    *,
    max_digits: int = 2,
    uncertain_char: float = 0.6,
) -> Match | None:
    """Pick the open visit (id, plate) this read most likely belongs to, or None."""
    candidates = list(open_visits)
    for visit_id, other in candidates:
        if other == plate:
            return Match(visit_id, other, MatchKind.EXACT)

    near = [(vid, other) for vid, other in candidates if one_edit_apart(plate, other)]
    if len(near) == 1:
        return Match(near[0][0], near[0][1], MatchKind.ONE_DIGIT)

    if char_conf is None or len(char_conf) != len(plate):
        return None
    scored: list[tuple[float, int, str]] = []
    for visit_id, other in candidates:
        if len(other) != len(plate):
            continue
        diffs = [i for i, (x, y) in enumerate(zip(plate, other)) if x != y]
        if not diffs or len(diffs) > max_digits:
            continue
        if all(char_conf[i] < uncertain_char for i in diffs):
            # cost = -log P(every differing digit was misread): lower is likelier
            scored.append((-sum(math.log1p(-char_conf[i]) for i in diffs), visit_id, other))
    if not scored:
        return None
    scored.sort()
    if len(scored) > 1 and scored[1][0] - scored[0][0] < 1e-9:
        return None  # two equally likely cars: a human decides
    return Match(scored[0][1], scored[0][2], MatchKind.CONFIDENCE)


def near_plates(plate: str, open_visits: Iterable[tuple[int, str]], *, max_digits: int = 2) -> list[tuple[int, str]]:
    """Every open visit (id, plate) an exit read of ``plate`` could match: nearest first.

    The pay station's candidates when no open visit has the typed plate: one
    digit dropped, added or changed, or up to ``max_digits`` changed (the
    exit's confidence rule, without confidences to narrow it). The driver
    picks their car; nothing is guessed.
    """
    found: list[tuple[int, int, str]] = []
    limit, size = max(1, max_digits), len(plate)
    for visit_id, other in open_visits:  # every car inside, on every quote: kept cheap (map, not a generator)
        if len(other) == size:
            distance = sum(map(ne, plate, other))
            if 0 < distance <= limit:
                found.append((distance, visit_id, other))
        elif abs(len(other) - size) == 1 and one_edit_apart(plate, other):
            found.append((1, visit_id, other))
    return [(visit_id, other) for _, visit_id, other in sorted(found)]
