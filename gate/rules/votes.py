"""A pass's votes and a gate's id: the values a read carries besides its plate, checked in one place.

Why keep the votes: a decision on "12-345-67" taken from 9 of 12 frames is
not the same evidence as one taken from 3 of 5 with "12-345-61" close
behind; the review page and an attendant need to see which it was. Why gate
ids are a short safe word: they name a barrier in listings, in the command
queue of ``gate run``, and in URLs (``/api/decisions?gate=north-exit``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from gate.rules.errors import InvalidInput
from lpr.plate_format import normalize_plate

GATE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
GATE_ID_HELP = "1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_VOTES = 20  # candidates kept per pass: the rest are noise
MAX_FRAMES = 100_000


def gate_id(value: str) -> str:
    """A gate id (``north-exit``), else InvalidInput naming it."""
    if not isinstance(value, str) or not GATE_ID.fullmatch(value):  # fullmatch: '$' lets a newline end it
        raise InvalidInput(f"gate {value!r:.40}: expected {GATE_ID_HELP}")
    return value


@dataclass(frozen=True)
class PlateVote:
    """One candidate plate of a pass: how many frames read it and its share of the pass's confidence (0-1)."""

    plate: str
    frames: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"plate": self.plate, "frames": self.frames, "score": self.score}

    @classmethod
    def parse(cls, value: Mapping[str, Any] | "PlateVote") -> "PlateVote":
        """A vote from JSON or a PlateVote, checked: plate normalised, frames 1.., score 0..1."""
        plate: Any
        frames: Any
        score: Any
        if isinstance(value, PlateVote):
            plate, frames, score = value.plate, value.frames, value.score
        elif isinstance(value, Mapping):
            plate, frames, score = value.get("plate"), value.get("frames"), value.get("score")
        else:
            raise InvalidInput(f"votes: {value!r:.40} is not a vote: expected {{plate, frames, score}}")
        if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
            raise InvalidInput(f"votes: frames {frames!r}: expected a whole number from 1 to {MAX_FRAMES}")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not (
            math.isfinite(score) and -1e-6 <= score <= 1 + 1e-6
        ):
            raise InvalidInput(f"votes: score {score!r}: expected a number from 0 to 1")
        return cls(normalize_plate(str(plate)), frames, round(min(1.0, max(0.0, float(score))), 4))


def parse_votes(votes: Sequence[Mapping[str, Any] | PlateVote] | None) -> list[PlateVote] | None:
    """Votes as the ledger stores them (most frames first), or None when the read had none (a manual read)."""
    if votes is None:
        return None
    given: object = votes
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise InvalidInput("votes: expected a list of {plate, frames, score}")
    if len(votes) > MAX_VOTES:
        raise InvalidInput(f"votes: {len(votes)} candidates: expected at most {MAX_VOTES}")
    parsed = [PlateVote.parse(v) for v in votes]
    return sorted(parsed, key=lambda v: (-v.frames, -v.score, v.plate))


def tally(reads: Sequence[tuple[str, float]]) -> list[PlateVote]:
    """The votes of a pass from its reads (text, confidence): frames per text and each text's share."""
    total = sum(max(0.0, c) for _t, c in reads) or 1.0
    frames: dict[str, int] = {}
    score: dict[str, float] = {}
    for text, conf in reads:
        frames[text] = frames.get(text, 0) + 1
        score[text] = score.get(text, 0.0) + max(0.0, conf)
    votes = [PlateVote(t, frames[t], round(score[t] / total, 4)) for t in frames]
    return sorted(votes, key=lambda v: (-v.frames, -v.score, v.plate))[:MAX_VOTES]
