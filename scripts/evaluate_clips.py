#!/usr/bin/env python
"""Per-car accuracy after voting: play test clips through `gate run` at the entry and score the visits.

    plategen clips data/cond_dev/ir --out data/clips_dev/ir          # one clip per condition folder
    python scripts/evaluate_clips.py data/clips_dev/* --json clips.json

Each clip folder holds clip.mp4 and truth.csv (`plategen clips`). The entry gate runs with the shipped
reader on a fresh SQLite ledger, exactly as at a lot; then each car counts as
- right: a visit opened under its plate;
- wrong: a visit opened under a plate that no car in the clip has (a visit under a wrong plate), counted
  apart when the visit is flagged for review (low confidence) and when it is not (nobody will look);
- missed: no visit under its plate (an unsure pass that went to review, or nothing read).
Runs `gate` as a subprocess so it measures the product's command, not a copy of its wiring.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def score_clip(folder: Path, extra: list[str]) -> dict:
    with open(folder / "truth.csv", newline="", encoding="utf-8") as f:
        truth = [r["plate"] for r in csv.DictReader(f)]
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/ledger.db"
        env = {**os.environ, "PLATEGATE_DB": db}
        t0 = time.perf_counter()
        run = subprocess.run([str(BIN / "gate"), "run", "--lane", "entry", "--source", str(folder / "clip.mp4"),
                              "--evidence-dir", f"{tmp}/evidence", "--db", db, *extra],
                             capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        if run.returncode != 0:
            raise SystemExit(f"{folder}: gate run exited {run.returncode}: {run.stderr.strip()[-400:]}")
        visits = subprocess.run([str(BIN / "gate"), "visits", "--format", "json", "--db", db],
                                capture_output=True, text=True, env=env)
        if visits.returncode != 0:
            raise SystemExit(f"{folder}: gate visits exited {visits.returncode}: {visits.stderr.strip()[-400:]}")
    opened = [(v["plate"].replace("-", ""), bool(v["flagged"])) for v in json.loads(visits.stdout)]
    plates = [p for p, _ in opened]
    right = sorted(set(truth) & set(plates))
    wrong = [p for p, _ in opened if p not in set(truth)]
    wrong_unflagged = [p for p, flagged in opened if p not in set(truth) and not flagged]
    missed = sorted(set(truth) - set(plates))
    return {"clip": folder.name, "cars": len(truth), "right": len(right), "wrong": len(wrong),
            "wrong_unflagged": len(wrong_unflagged), "missed": len(missed),
            "per_car": round(len(right) / max(1, len(truth)), 4), "wrong_plates": wrong,
            "wrong_unflagged_plates": wrong_unflagged, "missed_plates": missed,
            "visits": len(plates), "wall_s": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", type=Path, nargs="+", help="folders with clip.mp4 and truth.csv")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--gate-arg", action="append", default=[], help="extra argument for gate run (repeatable)")
    args = ap.parse_args()
    results = []
    for folder in args.clips:
        r = score_clip(folder, args.gate_arg)
        results.append(r)
        print(f"{r['clip']:<12} per car {r['per_car']:.1%} ({r['right']}/{r['cars']}), wrong visits {r['wrong']} "
              f"({r['wrong_unflagged']} not flagged), missed {r['missed']}  [{r['wall_s']} s]", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
