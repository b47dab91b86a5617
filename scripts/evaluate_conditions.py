#!/usr/bin/env python
"""Per-frame accuracy in gate conditions, side by side: one row per condition, one column per engine.

    plategen conditions ../shared/real-plates --out data/cond_dev     # and data/eval_syn -> data/cond_syn
    python scripts/evaluate_conditions.py data/cond_dev --engine lpr --engine fast-alpr --half held-out

Takes a folder of condition variants (each sub-folder a labelled folder, as `plategen conditions` writes
them) and prints a Markdown table of exact-plate accuracy and detection recall per condition; `--json`
keeps every summary. `--half` keeps one half of the fixed dev split (lpr.evaluate.dev_halves); candidate
weights are measured with --detector-weights / --ocr-weights before they ship.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from lpr import evaluate as ev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="folder of condition sub-folders (images/ + labels.csv each)")
    ap.add_argument("--engine", action="append", choices=ev.ENGINES, help="repeatable; default lpr and fast-alpr")
    ap.add_argument("--half", choices=("train", "held-out"), default=None)
    ap.add_argument("--detector-weights", type=Path, default=None)
    ap.add_argument("--ocr-weights", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", action="append", help="condition sub-folders to run (default: all)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    names = args.engine or ["lpr", "fast-alpr"]
    engines = {n: ev.make_engine(n, threads=args.threads, detector_weights=args.detector_weights,
                                 ocr_weights=args.ocr_weights) for n in names}
    for e in engines.values():
        ev.warm_up(e)
    folders = sorted(p for p in args.root.iterdir() if (p / "labels.csv").is_file())
    if args.only:
        folders = [p for p in folders if p.name in args.only]
    table: dict[str, dict[str, dict]] = {}
    print(f"| condition | n | {' | '.join(f'{n} exact / found' for n in names)} |")
    print(f"|---|---|{'---|' * len(names)}")
    for folder in folders:
        labels = ev.load_labels(folder)
        if args.half:
            labels = ev.in_half(labels, args.half)
        run = ev.run_evaluation(folder, engines, labels=labels)
        table[folder.name] = {n: ev.summarize(res, with_failures=True, with_breakdown=True)
                              for n, res in run.results.items()}
        cells = [f"{s['plate_accuracy']:.1%} / {s['detection_recall']:.0%}" for s in table[folder.name].values()]
        print(f"| {folder.name} | {len(labels)} | {' | '.join(cells)} |", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
