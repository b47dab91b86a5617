"""End-to-end demo: entry camera -> pay station -> exit camera, then the admin log.

    python -m gate.demo [--fake-reader] [--db demo.db] [--keep DIR]

Runs the entry lane's camera process on the bundled gate/demo/entry.mp4,
pays for every entered visit but one, runs the exit lane on exit.mp4 and
prints who entered, who paid, who was let out and who was denied. The ledger
is a fresh SQLite file. The clips' own timestamps plus a fixed morning
offset are the clock, so fees are realistic (about 2.5 h parked) and the run
is repeatable.

``--fake-reader`` replays each clip's sidecar truth (with a misread digit in
the smeared frames) instead of the real lpr.Reader: for trying the demo
before the weights exist, and for tests. The default is the real reader.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from gate.lane.process import Outcome, ReaderLike, build_process
from gate.rules.codes import Action, Lane
from gate.store.ledger import Ledger
from gate.text_table import format_table
from lpr.plate_format import format_plate
from lpr.types import PlateRead

DEMO_DIR = Path(__file__).resolve().parent / "demo"
ISRAEL = timezone(timedelta(hours=2))
ENTRY_START = datetime(2025, 3, 2, 8, 30, tzinfo=ISRAEL)
PAY_AT = datetime(2025, 3, 2, 10, 55, tzinfo=ISRAEL)
EXIT_START = datetime(2025, 3, 2, 11, 0, tzinfo=ISRAEL)
UNPAID = "6640271"  # the car whose driver skips the pay station (when it was read at the entry)


@dataclass
class ScriptedReader:
    """Replays a clip's sidecar truth, frame by frame, as the reader would return it.

    Frames of a recording are read in order, so the n-th call is the n-th
    frame. A smeared digit is misread (a different digit, low confidence),
    as a real reader might in that frame.
    """

    frames: list[list[dict[str, Any]]]
    calls: int = 0

    @classmethod
    def for_clip(cls, clip: Path) -> "ScriptedReader":
        return cls(json.loads(clip.with_suffix(".json").read_text())["frames"])

    def read(self, image: np.ndarray) -> list[PlateRead]:
        truth = self.frames[self.calls] if self.calls < len(self.frames) else []
        self.calls += 1
        out = []
        for item in truth:
            text, conf = item["text"], [0.97] * len(item["text"])
            k = item.get("smeared_digit")
            if k is not None:
                text = text[:k] + str((int(text[k]) + 3) % 10) + text[k + 1 :]
                conf[k] = 0.35
            x1, y1, x2, y2 = item["box"]
            corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
            h, w = image.shape[:2]
            crop = image[max(0, int(y1)) : min(h, int(y2)), max(0, int(x1)) : min(w, int(x2))].copy()
            out.append(PlateRead(text=text, confidence=min(conf), char_conf=tuple(conf), corners=corners,
                                 box=(x1, y1, x2, y2), det_score=0.97, crop=crop,
                                 timings_ms={"detect": 0.0, "rectify": 0.0, "ocr": 0.0}))
        return out


@dataclass
class DemoResult:
    entered: list[str] = field(default_factory=list)
    paid: list[str] = field(default_factory=list)
    let_out: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    entry: list[Outcome] = field(default_factory=list)
    exit: list[Outcome] = field(default_factory=list)


def _clip(name: str) -> Path:
    for ext in (".mp4", ".avi"):
        if (DEMO_DIR / f"{name}{ext}").exists():
            return DEMO_DIR / f"{name}{ext}"
    raise FileNotFoundError(f"no bundled clip {name}.* in {DEMO_DIR} (scripts/make_demo_clips.py makes them)")


def run_demo(db_url: str, workdir: Path, fake_reader: bool = False, reader: ReaderLike | None = None) -> DemoResult:
    """The whole scenario on one fresh ledger; returns who did what."""
    result = DemoResult()
    entry_clip, exit_clip = _clip("entry"), _clip("exit")
    if reader is None and not fake_reader:
        from lpr import Reader

        reader = Reader()
    with Ledger.open(db_url) as ledger:
        lane_reader = ScriptedReader.for_clip(entry_clip) if fake_reader else reader
        entry = build_process(Lane.ENTRY, str(entry_clip), ledger, reader=lane_reader,
                              evidence_dir=workdir / "evidence", start_at=ENTRY_START)
        entry.run()
        result.entry = list(entry.outcomes)
        result.entered = [o.decision.plate for o in entry.outcomes if o.decision.opens]

        inside = [v.plate for v in ledger.visits(inside=True)]
        unpaid = UNPAID if UNPAID in inside else (inside[-1] if inside else None)
        for plate in inside:
            if plate != unpaid:
                ledger.pay(plate, at=PAY_AT, payment_id=f"demo-{plate}")
                result.paid.append(plate)

        lane_reader = ScriptedReader.for_clip(exit_clip) if fake_reader else reader
        exit_ = build_process(Lane.EXIT, str(exit_clip), ledger, reader=lane_reader, evidence_dir=workdir / "evidence",
                              start_at=EXIT_START)
        exit_.run()
        result.exit = list(exit_.outcomes)
        for o in exit_.outcomes:
            bucket = {Action.OPEN: result.let_out, Action.DENY: result.denied}.get(o.decision.action, result.review)
            bucket.append(o.decision.plate)
        _print_log(ledger, result)
    return result


def _fmt(plates: list[str]) -> str:
    return ", ".join(format_plate(p) for p in plates) or "-"


def _print_log(ledger: Ledger, result: DemoResult) -> None:
    """The admin log (like `gate visits --format table`) plus the exit lane's decisions."""
    def local(t: datetime | None) -> str:
        return t.astimezone(ISRAEL).strftime("%H:%M:%S") if t else "-"

    print("\nAdmin log: visits")
    cols = ["visit", "plate", "entered", "exited", "state", "fee", "paid", "flagged"]
    rows = [[str(v.id), format_plate(v.plate), local(v.entry_at), local(v.exit_at), v.state,
             "-" if v.fee_agorot is None else f"{v.fee_agorot / 100:.2f}", f"{v.paid_agorot / 100:.2f}",
             "yes" if v.flagged else ""] for v in ledger.visits()]
    print(format_table(cols, rows))
    print("\nAdmin log: exit lane decisions")
    cols = ["time", "plate read", "action", "reason", "visit", "due", "votes"]
    rows = [[local(o.at), format_plate(o.decision.plate), o.decision.action, o.decision.reason,
             str(o.decision.visit_id or "-"), f"{float(o.decision.amount_due):.2f}",
             f"{o.passed.vote.agree}/{o.passed.vote.reads}"] for o in result.exit]
    print(format_table(cols, rows))
    print(f"\nentered: {_fmt(result.entered)}")
    print(f"paid:    {_fmt(result.paid)}")
    print(f"let out: {_fmt(result.let_out)}")
    print(f"denied:  {_fmt(result.denied)}")
    print(f"review:  {_fmt(result.review)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gate.demo", description="End-to-end gate demo on the bundled clips.")
    ap.add_argument("--fake-reader", action="store_true", help="replay the clips' truth instead of the real reader")
    ap.add_argument("--db", help="SQLite file to (re)create; default a temporary one")
    ap.add_argument("--keep", type=Path, help="keep evidence crops here (default: a temporary folder)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no per-decision log lines")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("gate.store.ledger").setLevel(logging.WARNING)  # gate.lane.process logs one line per decision
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="plategate-demo-"))
    try:
        if args.db:
            for suffix in ("", "-wal", "-shm"):
                Path(args.db + suffix).unlink(missing_ok=True)
        db = args.db or str(tmp / "demo.db")
        workdir = args.keep or tmp
        print(f"plategate demo: ledger {db}; clips in {DEMO_DIR}"
              f"{' (fake reader: clip truth replayed)' if args.fake_reader else ''}")
        run_demo(db, workdir, fake_reader=args.fake_reader)
    except Exception as exc:  # noqa: BLE001 - a CLI: one line, not a traceback, for missing weights etc.
        print(f"demo failed: {exc}", file=sys.stderr)
        if not args.fake_reader:
            print("(without reader weights in lpr/weights/, try: python -m gate.demo --fake-reader)", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
