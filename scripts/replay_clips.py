#!/usr/bin/env python
"""Per car after voting in seconds: record a clip's reads once, then replay the lane's voting on them.

    python scripts/replay_clips.py record data/cal/clip_* --out runs/reads/cal      # the reader on every frame
    python scripts/replay_clips.py replay runs/reads/cal                             # the voting as shipped
    python scripts/replay_clips.py replay runs/reads/cal --set sure_confidence=0.65 --sweep settle_votes=3,4,5
    python scripts/replay_clips.py losses runs/reads/cal     # per car: right, or lost by the voting or the reader

`scripts/evaluate_clips.py` plays a clip through `gate run` and takes ~13 minutes a 500-car clip on this box, almost
all of it the reader; a change to the voting (gate.lane.voting) reads the very same frames again. `record` plays each
clip through the lane as `gate run --lane entry --threads T` wires it (`build_process`: the shipped Reader, the
default PassConfig, a fresh SQLite ledger) and keeps every frame's reads: text, confidences, box, quality and the
OCR's posterior; the crop too with --crops (for a change that reads crops again; ~6 MB of reads a 300-car clip
without, ~40 MB with). `replay` feeds those reads, frame by frame at their stream times,
to a GateProcess with the PassConfig asked for, on a fresh ledger: tracker, decisions and score are the product's,
only the reader is replayed; the working tree's gate.lane.voting runs, so a new voting rule is judged too.

Both score the visits as `scripts/evaluate_clips.py` does (right, right flagged, wrong, unflagged, missed, cost);
`record` prints its own score, which `replay` with no --set gives back (a check that the recording is whole).
`losses` sorts the cars: right (or right and sent to review); read exactly in some frame yet no visit under the
plate (the voting's loss); and the reader's losses: valid reads but none of the plate, no valid read, nothing
detected (plategen clips' truth files give each car's frames). A reader change (weights, detector, cuts) still
needs `record` again.
"""
from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_clips import (  # noqa: E402
    REVIEW_COST,
    UNFLAGGED_COST,
    covered_plates,
    score_visits,
    totals,
    truth_of,
)

from gate.lane.process import GateProcess, build_process  # noqa: E402
from gate.lane.relay import RetryingRelay, make_relay  # noqa: E402
from gate.lane.sources import Frame, FrameSource  # noqa: E402
from gate.lane.voting import PassConfig, PassTracker  # noqa: E402
from gate.rules.codes import Lane  # noqa: E402
from gate.store.ledger import Ledger  # noqa: E402
from lpr.types import CtcPosterior, PlateRead  # noqa: E402

FORMAT = 1  # bump when what a recording holds changes
BLANK_IMAGE = np.zeros((1, 1, 3), np.uint8)  # replayed frames carry no pixels: the tracker only keeps them


@dataclass
class Recording:
    """One clip's reads: per frame (stream time, index, its reads), the cars' plates, and the recorded score."""

    clip: str
    truth: list[str]
    frames: list[tuple[float, int, list[PlateRead]]] = field(default_factory=list)
    score: dict[str, Any] = field(default_factory=dict)
    crops: bool = False  # the reads keep their crops
    spans: list[tuple[int, int]] | None = None  # each car's first and last frame (plategen clips' truth.csv)
    covered: list[str] = field(default_factory=list)  # cars whose plate is partly covered (truth.csv covered)

    def save(self, path: Path) -> None:
        frames = [(t, i, [kept(r, self.crops) for r in reads]) for t, i, reads in self.frames]
        data = {"format": FORMAT, "clip": self.clip, "truth": self.truth, "score": self.score, "frames": frames,
                "crops": self.crops, "spans": self.spans, "covered": self.covered}
        with open(path, "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, path: Path) -> "Recording":
        with open(path, "rb") as fh:
            data = pickle.load(fh)  # noqa: S301 - our own recordings (plain values and arrays), written by save
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SystemExit(f"{path}: not a recording of format {FORMAT}; record the clip again")
        frames = [(t, i, [restored(r) for r in reads]) for t, i, reads in data["frames"]]
        return cls(data["clip"], data["truth"], frames, data["score"], bool(data.get("crops")), data.get("spans"),
                   list(data.get("covered") or []))


READ_FIELDS = ("text", "confidence", "char_conf", "corners", "box", "det_score", "timings_ms", "quality")


def kept(read: PlateRead, crops: bool = False) -> dict[str, Any]:
    """A read as a recording keeps it: plain values (no class of this script in the file, so any script can load
    it), the crop only when asked (evidence, or a change that reads crops again: 12 KB a read), and the posterior's
    probabilities without the likelihoods a pass cached."""
    out: dict[str, Any] = {f: getattr(read, f) for f in READ_FIELDS}
    out["crop"] = read.crop if crops else None
    post = read.posterior
    out["posterior"] = None if post is None else (post.probs.astype(np.float32), post.alphabet)
    return out


def restored(read: dict[str, Any]) -> PlateRead:
    post = read["posterior"]
    fields_ = {f: read[f] for f in READ_FIELDS}
    return PlateRead(**fields_, crop=read.get("crop"),
                     posterior=None if post is None else CtcPosterior(post[0], post[1]))


class _TapSource:
    """The lane's own source, remembering the frame in hand for the reader's tap."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.frame: Frame | None = None

    def __getattr__(self, name: str) -> Any:  # dropped, reconnects, failure, stop, name, done, close
        return getattr(self.source, name)

    def read(self) -> Frame | None:
        self.frame = self.source.read()
        return self.frame


class _TapReader:
    """The lane's own reader, keeping what it made of each frame in the recording."""

    def __init__(self, reader: Any, source: _TapSource, recording: Recording) -> None:
        self.reader, self.source, self.recording = reader, source, recording

    def read(self, image: np.ndarray) -> list[PlateRead]:
        frame = self.source.frame
        assert frame is not None, "the process reads a frame before it reads plates in it"
        try:
            reads = list(self.reader.read(image))
        except Exception:
            self.recording.frames.append((frame.t, frame.index, []))  # the lane goes on with no reads, as here
            raise
        self.recording.frames.append((frame.t, frame.index, reads))
        return reads


class ReplaySource:
    """A FrameSource that plays a recording's frames back, blank, at their stream times."""

    def __init__(self, recording: Recording) -> None:
        self._frames = iter(recording.frames)
        self.reads: list[PlateRead] = []
        self.dropped = 0
        self.reconnects = 0
        self.failure: str | None = None
        self.stop = threading.Event()
        self.name = recording.clip

    def read(self) -> Frame | None:
        t, index, reads = next(self._frames, (None, 0, []))
        if t is None:
            return None
        self.reads = reads
        return Frame(t, BLANK_IMAGE, index)

    def done(self, frame: Frame, ok: bool) -> None:
        pass

    def close(self) -> None:
        pass


class ReplayReader:
    """The reader of a replay: the recorded reads of the frame the source just gave."""

    def __init__(self, source: ReplaySource) -> None:
        self.source = source

    def read(self, image: np.ndarray) -> Sequence[PlateRead]:
        return self.source.reads


def _opened(ledger: Ledger) -> list[tuple[str, bool]]:
    return [(v.plate.replace("-", ""), bool(v.flagged)) for v in ledger.visits()]


def record(folder: Path, threads: int = 1, crops: bool = False) -> Recording:
    """Play one clip through the lane as `gate run --lane entry` does, keeping every frame's reads."""
    truth, spans = truth_of(folder)
    rec = Recording(folder.name, truth, crops=crops, spans=spans, covered=covered_plates(folder))
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(f"sqlite:///{tmp}/ledger.db") as ledger:
        process = build_process(Lane.ENTRY, str(folder / "clip.mp4"), ledger, evidence_dir=None, threads=threads)
        source = _TapSource(process.source)
        process.source, process.reader = source, _TapReader(process.reader, source, rec)
        t0 = time.perf_counter()
        process.run()
        rec.score = {"clip": rec.clip, **score_visits(rec.truth, _opened(ledger), rec.covered),
                     "wall_s": round(time.perf_counter() - t0, 1)}
    return rec


def replay_visits(rec: Recording, config: PassConfig) -> list[tuple[str, bool]]:
    """The visits (plate, flagged) the lane opens from a recording's reads with this voting config."""
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(f"sqlite:///{tmp}/ledger.db") as ledger:
        source = ReplaySource(rec)
        process = GateProcess(Lane.ENTRY, source, ReplayReader(source), ledger, RetryingRelay(make_relay(None)),
                              PassTracker(config))
        process.run()
        return _opened(ledger)


def replay(rec: Recording, config: PassConfig) -> dict[str, Any]:
    """The visits the lane opens from a recording's reads with this voting config, scored."""
    return {"clip": rec.clip, **score_visits(rec.truth, replay_visits(rec, config), rec.covered)}


class Loss(StrEnum):
    """Where a car stands after its pass, from the lane's outcome back to the reader."""

    RIGHT = "right"
    RIGHT_FLAGGED = "right, sent to review"
    READ_NOT_OPENED = "read exactly in a frame, but no visit under it"
    NEVER_EXACT = "valid reads, none of its plate"
    NO_VALID_READ = "found, but no valid read"
    NOT_FOUND = "nothing detected"
    COVERED = "plate partly covered (its label keeps every digit)"


def losses(rec: Recording, config: PassConfig) -> list[Loss]:
    """Per car, where it was lost: the visits the voting opened, else what the reader made of its frames.

    A car that no frame of its pass reads exactly is put down to the reader: the voting can still spell its plate from
    several frames' digits (`lpr.ctc.decode_pass` scores the per-character vote too), but then it is right, and a
    right car is counted as right first (none of the 900 calibration cars was right that way)."""
    if rec.spans is None:
        raise SystemExit(f"{rec.clip}: the recording has no frame spans per car; record a plategen clip again")
    opened = replay_visits(rec, config)
    right, flagged = {p for p, _ in opened}, {p for p, f in opened if f}
    out = []
    for plate, (first, last) in zip(rec.truth, rec.spans):
        reads = [r for _, i, rs in rec.frames if first <= i <= last for r in rs]
        valid = [r.text for r in reads if r.valid]
        if plate in right:
            out.append(Loss.RIGHT_FLAGGED if plate in flagged else Loss.RIGHT)
        elif plate in rec.covered:
            out.append(Loss.COVERED)
        elif plate in valid:
            out.append(Loss.READ_NOT_OPENED)
        elif valid:
            out.append(Loss.NEVER_EXACT)
        else:
            out.append(Loss.NO_VALID_READ if reads else Loss.NOT_FOUND)
    return out


def pass_config(assignments: Sequence[str], base: PassConfig | None = None) -> PassConfig:
    """`key=value` pairs over PassConfig's fields, each converted to the field's type; a bad one says which."""
    kinds = {f.name: f.type for f in fields(PassConfig)}
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or key not in kinds:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(kinds)}")
        kind = str(getattr(kinds[key], "__name__", kinds[key]))  # "float", "int", "bool" (annotations are strings)
        try:
            if kind == "bool":
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                changes[key] = value.lower() in ("true", "1")
            else:
                changes[key] = {"int": int, "float": float}[kind](value)
        except (KeyError, ValueError):
            raise SystemExit(f"--set {item!r}: expected a {kind} value for {key}") from None
    return dataclasses.replace(base or PassConfig(), **changes)


def load(folder: Path) -> list[Recording]:
    files = sorted(folder.glob("*.pkl"))
    if not files:
        raise SystemExit(f"{folder}: no recordings (*.pkl), expected the --out folder of `record`")
    return [Recording.load(f) for f in files]


def _line(name: str, t: dict[str, Any]) -> str:
    whole = (f"; {t['right_whole']}/{t['cars'] - t['covered']} of plates not covered" if t.get("covered") else "")
    return (f"{name:<28} {t['right']}/{t['cars']} right ({t['right_flagged']} flagged), wrong visits {t['wrong']} "
            f"({t['wrong_unflagged']} not flagged), missed {t['missed']}; cost {t['cost']}{whole}")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="read every frame of clips once (slow: the reader)")
    r.add_argument("clips", type=Path, nargs="+", help="folders with clip.mp4 and truth.csv")
    r.add_argument("--out", type=Path, required=True, help="folder for one <clip>.pkl per clip")
    r.add_argument("--threads", type=int, default=1, help="reader threads, as gate run --threads (default 1)")
    r.add_argument("--crops", action="store_true", help="keep each read's crop too (~7x the file)")
    p = sub.add_parser("replay", help="vote and decide again on recorded reads (seconds)")
    p.add_argument("recordings", type=Path, nargs="+", help="folders written by record")
    p.add_argument("--set", dest="assign", action="append", default=[], metavar="KEY=VALUE",
                   help="a PassConfig field for every run (repeatable)")
    p.add_argument("--sweep", default=None, metavar="KEY=V1,V2,...", help="one run per value of one field")
    p.add_argument("--review-cost", type=float, default=REVIEW_COST)
    p.add_argument("--unflagged-cost", type=float, default=UNFLAGGED_COST)
    p.add_argument("--per-clip", action="store_true", help="a line per clip too")
    w = sub.add_parser("losses", help="per car, where it was lost: voting, or the reader (seconds)")
    w.add_argument("recordings", type=Path, nargs="+", help="folders written by record (of plategen clips)")
    w.add_argument("--set", dest="assign", action="append", default=[], metavar="KEY=VALUE",
                   help="a PassConfig field (repeatable)")
    args = ap.parse_args(argv)
    if args.cmd == "record":
        args.out.mkdir(parents=True, exist_ok=True)
        for folder in args.clips:
            rec = record(folder, args.threads, args.crops)
            rec.save(args.out / f"{rec.clip}.pkl")
            print(_line(rec.clip, totals([rec.score])) + f"  [{rec.score['wall_s']} s, {len(rec.frames)} frames]",
                  flush=True)
        return
    recs = [rec for folder in args.recordings for rec in load(folder)]
    base = pass_config(args.assign)
    if args.cmd == "losses":
        table = {rec.clip: Counter(losses(rec, base)) for rec in recs}
        table["all"] = sum(table.values(), Counter())
        print("| cars | " + " | ".join(table) + " |\n|---|" + "---|" * len(table))
        for loss in Loss:
            print(f"| {loss} | " + " | ".join(str(c[loss]) for c in table.values()) + " |")
        return
    runs: list[tuple[str, PassConfig]] = [(" ".join(args.assign) or "as shipped", base)]
    if args.sweep:
        key, _, values = args.sweep.partition("=")
        runs = [(f"{key}={v}", pass_config([f"{key}={v}"], base)) for v in values.split(",") if v]
    for name, config in runs:
        results = [replay(rec, config) for rec in recs]
        if args.per_clip:
            for res in results:
                print("  " + _line(res["clip"], totals([res], args.review_cost, args.unflagged_cost)))
        print(_line(name, totals(results, args.review_cost, args.unflagged_cost)), flush=True)


if __name__ == "__main__":
    main()
