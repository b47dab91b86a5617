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

The total ends with the operator's cost in attendant interventions, agreed on 2026-11-27 before it judged a
change: a car not put right costs 1 (it is stopped at the exit barrier), a wrong visit that went to review
--review-cost (0.25: a line in the review list), one that did not --unflagged-cost (1: nobody looks, and it can
let the wrong car out). A change that reads a few cars fewer but opens many fewer wrong visits can cost less.
--json writes {"clips": [one dict per clip], "total": {..., "cost"}} (a bare list of clips before 2026-11-27).
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
from typing import Sequence

BIN = Path(sys.executable).parent
REVIEW_COST = 0.25
UNFLAGGED_COST = 1.0


def truth_of(folder: Path) -> tuple[list[str], list[tuple[int, int]] | None]:
    """A clip's cars' plates in order, and their first and last frames where the truth file has them."""
    with open(folder / "truth.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    spans = None
    if rows and "first_frame" in rows[0] and "last_frame" in rows[0]:
        spans = [(int(r["first_frame"]), int(r["last_frame"])) for r in rows]
    return [r["plate"] for r in rows], spans


def covered_plates(folder: Path) -> list[str]:
    """The cars whose plate the generator partly covered (truth.csv `covered` > 0): no reader gets them exactly."""
    with open(folder / "truth.csv", newline="", encoding="utf-8") as f:
        return [r["plate"] for r in csv.DictReader(f) if float(r.get("covered") or 0) > 0]


def score_clip(folder: Path, extra: list[str]) -> dict:
    truth, _ = truth_of(folder)
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
    return {"clip": folder.name, **score_visits(truth, opened, covered_plates(folder)), "wall_s": round(wall, 1)}


def score_visits(truth: list[str], opened: list[tuple[str, bool]], covered: Sequence[str] = ()) -> dict:
    """Score the visits a clip opened, (plate, flagged) each, against the plates of its cars.

    right_flagged counts right visits that went to review: at an exit such a car waits for an attendant,
    so a change that flags many more of them costs the operator even when it opens no wrong visit.
    `covered` are the cars whose plate is partly hidden (`covered_plates`): counted, and right_whole is the
    right cars among the others, what a reader can reach."""
    cars = set(truth)
    plates = [p for p, _ in opened]
    right = sorted(cars & set(plates))
    right_flagged = sorted({p for p, flagged in opened if p in cars and flagged})
    wrong = [p for p, _ in opened if p not in cars]
    wrong_unflagged = [p for p, flagged in opened if p not in cars and not flagged]
    missed = sorted(cars - set(plates))
    return {"cars": len(truth), "right": len(right), "right_flagged": len(right_flagged), "wrong": len(wrong),
            "wrong_unflagged": len(wrong_unflagged), "missed": len(missed),
            "per_car": round(len(right) / max(1, len(truth)), 4), "wrong_plates": wrong,
            "wrong_unflagged_plates": wrong_unflagged, "missed_plates": missed, "visits": len(plates),
            "covered": len(cars & set(covered)), "right_whole": len(set(right) - set(covered))}


def totals(results: list[dict], review_cost: float = REVIEW_COST, unflagged_cost: float = UNFLAGGED_COST) -> dict:
    """Cars, right, wrong visits (not flagged), missed over all clips, and the cost in attendant interventions."""
    t = {k: sum(r[k] for r in results) for k in ("cars", "right", "wrong", "wrong_unflagged", "missed")}
    for k in ("right_flagged", "covered", "right_whole"):  # absent from results of before 2026-11-29
        t[k] = sum(r.get(k, 0) for r in results)
    flagged = t["wrong"] - t["wrong_unflagged"]
    t["cost"] = round((t["cars"] - t["right"]) + review_cost * flagged + unflagged_cost * t["wrong_unflagged"], 2)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", type=Path, nargs="+", help="folders with clip.mp4 and truth.csv")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--gate-arg", action="append", default=[], help="extra argument for gate run (repeatable)")
    ap.add_argument("--review-cost", type=float, default=REVIEW_COST, help="cost of a wrong visit sent to review")
    ap.add_argument("--unflagged-cost", type=float, default=UNFLAGGED_COST,
                    help="cost of a wrong visit nobody is asked to review")
    args = ap.parse_args()
    results = []
    for folder in args.clips:
        r = score_clip(folder, args.gate_arg)
        results.append(r)
        print(f"{r['clip']:<12} per car {r['per_car']:.1%} ({r['right']}/{r['cars']}, {r['right_flagged']} flagged), "
              f"wrong visits {r['wrong']} ({r['wrong_unflagged']} not flagged), missed {r['missed']}  "
              f"[{r['wall_s']} s]", flush=True)
    t = totals(results, args.review_cost, args.unflagged_cost)
    print(f"total        {t['right']}/{t['cars']} cars right ({t['right_flagged']} flagged), wrong visits {t['wrong']} "
          f"({t['wrong_unflagged']} not flagged), missed {t['missed']}; cost {t['cost']} attendant interventions")
    if t["covered"]:
        print(f"             {t['right_whole']}/{t['cars'] - t['covered']} of the cars whose plate is not partly "
              f"covered ({t['covered']} are: truth.csv covered)")
    if args.json:
        args.json.write_text(json.dumps({"clips": results, "total": t}, indent=2) + "\n")


if __name__ == "__main__":
    main()
