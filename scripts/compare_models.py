#!/usr/bin/env python
"""Per-frame counts of the shipped reader and candidate weights on every evaluation set, side by side.

    python scripts/compare_models.py --ocr cand=runs/ocr_new/ocr.onnx
    python scripts/compare_models.py --detector det2=runs/det2/detector.onnx --json runs/compare.json

The sets are the ones the shipping rules in lpr/weights/MODEL_CARD.md name (each made as the README's
"gate conditions" commands make them; a missing one is skipped with a line saying so):
- dev: ../shared/real-plates, all 64, and its held-out half (`lpr.evaluate.dev_halves`), never trained on;
- real held-out: that half plus the same half of each condition variant in data/cond_dev (238 images);
- synthetic held-out: data/eval_syn and each condition variant in data/cond_syn (1,600);
- daylight: the daylight variants of both (232).
Every model reads the same decoded image in one process, so a count differs only by the weights. Counts, not
percentages, because the rules compare images gained and lost; --json keeps each set's wrong reads too.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lpr.evaluate import DevHalf

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "real-plates"


@dataclass(frozen=True)
class EvalSet:
    name: str  # "dev", "dev held-out", "cond_dev/dusk", "eval_syn", "cond_syn/ir" ...
    folder: Path
    half: DevHalf | None  # "held-out": only the dev split's held-out half


def default_sets(data: Path = ROOT / "data", dev: Path = DEV) -> list[EvalSet]:
    sets = [EvalSet("dev", dev, None), EvalSet("dev held-out", dev, "held-out"),
            EvalSet("eval_syn", data / "eval_syn", None)]
    sets += [EvalSet(f"cond_dev/{p.name}", p, "held-out") for p in sorted((data / "cond_dev").glob("*"))]
    sets += [EvalSet(f"cond_syn/{p.name}", p, None) for p in sorted((data / "cond_syn").glob("*"))]
    return sets


def totals(counts: dict[str, int]) -> dict[str, int]:
    """The rules' totals from per-set counts of right reads (a set that was not there adds nothing)."""
    def total(prefix: str) -> int:
        return sum(v for k, v in counts.items() if k.startswith(prefix))

    return {"dev": counts.get("dev", 0), "dev held-out": counts.get("dev held-out", 0),
            "real held-out": counts.get("dev held-out", 0) + total("cond_dev/"),
            "synthetic held-out": counts.get("eval_syn", 0) + total("cond_syn/"),
            "daylight": counts.get("cond_dev/daylight", 0) + counts.get("cond_syn/daylight", 0)}


def named_path(text: str) -> tuple[str, Path]:
    """NAME=PATH of a candidate's weights file, checked before any model loads."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PATH, e.g. cand=runs/ocr/ocr.onnx")
    if name == "shipped":
        raise argparse.ArgumentTypeError(f"{text!r}: 'shipped' is the shipped weights' column; name it otherwise")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"{text!r}: no file {path}")
    return name, Path(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ocr", type=named_path, action="append", default=[], help="NAME=ocr.onnx (repeatable)")
    ap.add_argument("--detector", type=named_path, action="append", default=[], help="NAME=detector.onnx")
    ap.add_argument("--data", type=Path, default=ROOT / "data", help="where eval_syn, cond_dev, cond_syn are")
    ap.add_argument("--dev", type=Path, default=DEV, help="the labelled real dev set")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    names = [n for n, _ in args.ocr + args.detector]
    if len(set(names)) != len(names):
        ap.error(f"--ocr/--detector: each name once, got {', '.join(names)}")

    from lpr import evaluate as ev

    engines = {"shipped": ev.make_engine("lpr", threads=args.threads)}
    engines |= {n: ev.make_engine("lpr", threads=args.threads, ocr_weights=p) for n, p in args.ocr}
    engines |= {n: ev.make_engine("lpr", threads=args.threads, detector_weights=p) for n, p in args.detector}
    for engine in engines.values():
        ev.warm_up(engine)
    counts: dict[str, dict[str, int]] = {n: {} for n in engines}
    wrong: dict[str, dict[str, dict[str, str | None]]] = {n: {} for n in engines}
    print(f"| set | n | {' | '.join(engines)} |\n|---|---|{'---|' * len(engines)}")
    for s in default_sets(args.data, args.dev):
        if not (s.folder / "labels.csv").is_file():
            print(f"skipping {s.name}: no {s.folder / 'labels.csv'}", file=sys.stderr)
            continue
        rows = ev.load_labels(s.folder)
        if s.half:
            rows = ev.in_half(rows, s.half)
        run = ev.run_evaluation(s.folder, engines, labels=rows)
        for n, results in run.results.items():
            counts[n][s.name] = sum(r.correct for r in results)
            wrong[n][s.name] = {r.image: r.read for r in results if not r.correct}
        print(f"| {s.name} | {len(rows)} | {' | '.join(str(counts[n][s.name]) for n in engines)} |", flush=True)
    sums = {n: totals(c) for n, c in counts.items()}
    for key in sums["shipped"]:
        print(f"| **{key}** | | {' | '.join(str(sums[n][key]) for n in engines)} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"counts": counts, "totals": sums, "wrong": wrong}, indent=1) + "\n")


if __name__ == "__main__":
    main()
