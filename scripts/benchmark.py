#!/usr/bin/env python
"""Warm per-frame latency of the whole pipeline on 1280x720 frames with one plate, vs the EasyOCR peer.

Each engine runs in its own fresh subprocess on the very same frames (written once to a temp folder),
so its peak RSS is its own and not the sum of both models; inside that process it is single-process,
warm (--warmup untimed frames first) and limited to --threads threads (torch and OpenCV).

  python scripts/benchmark.py                       # synthetic frames if plategen imports, else the dev set
  python scripts/benchmark.py --frames ../shared/real-plates --n 30 --engine all --json bench.json
  python scripts/benchmark.py --engine lpr --baseline da7665d    # also an older commit's reader, same frames
  python scripts/benchmark.py --engine lpr --baseline da7665d --rounds 5   # the two taking turns, 5 rounds each

Machines of one kind differ up to 3x in speed, so a latency target is checked against a baseline reader run
on the same frames in the same invocation (--baseline REV: that commit's lpr/, unpacked with git archive).
A shared box also drifts within minutes (one run put this reader 12 % behind its baseline, the next two 1.4x
ahead), so --rounds R runs the engines in turns, R times each, and reports p50/p95 over all their frames and
the median of the per-round p50 ratios: a slow spell then falls on both readers.

--json writes {"lpr": {"p50_ms", "p95_ms", "peak_rss_mb", "stages_ms", ...}, "easyocr": {...}}.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FRAME_W, FRAME_H = 1280, 720
STAGES = ("detect", "rectify", "ocr")
DEFAULT_DEV_SET = Path(__file__).resolve().parents[2] / "shared" / "real-plates"  # ../shared beside the checkout


def letterbox(img: np.ndarray, w: int = FRAME_W, h: int = FRAME_H) -> np.ndarray:
    """Fit into w x h keeping the aspect ratio, pad with black: what a fixed gate camera frame looks like."""
    import cv2

    s = min(w / img.shape[1], h / img.shape[0])
    nw, nh = max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))
    resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - nh) // 2, (w - nw) // 2
    out[y : y + nh, x : x + nw] = resized
    return out


def synthetic_frames(n: int, seed: int) -> list[tuple[np.ndarray, str]]:
    from plategen.scenes import make_scene

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n * 20):  # the generator sometimes draws empty or multi-plate frames: keep one-plate ones
        img, plates = make_scene(rng, size=(FRAME_W, FRAME_H))
        if len(plates) == 1 and img.shape[:2] == (FRAME_H, FRAME_W):
            frames.append((img, plates[0].text))
            if len(frames) == n:
                return frames
    raise SystemExit(f"error: plategen made only {len(frames)} one-plate 1280x720 frames in {n * 20} tries")


def dev_set_frames(folder: Path, n: int) -> list[tuple[np.ndarray, str]]:
    """Labelled scenes of a dev-set folder (images/ + labels.csv), letterboxed, repeated to n if fewer."""
    from lpr.evaluate import load_labels
    from lpr.image_io import ImageLoadError, load_image

    rows = [r for r in load_labels(folder) if r.kind == "scene"]
    frames = []
    for r in rows:
        try:
            frames.append((letterbox(load_image(folder / "images" / r.image)), r.plate))
        except ImageLoadError as e:
            print(f"skipping {e}", file=sys.stderr)
        if len(frames) == n:
            break
    if not frames:
        raise SystemExit(f"error: {folder}: no usable labelled scenes (kind=scene) in labels.csv")
    return [frames[i % len(frames)] for i in range(n)]


def worker(args: argparse.Namespace) -> None:
    """Time one engine on the saved frames; print one JSON line on stdout."""
    import resource

    import cv2
    from tqdm import tqdm

    try:  # the gate box has no torch; an older reader (or --ocr on torch) may need it
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    cv2.setNumThreads(args.threads)
    from lpr.evaluate import best_read, make_engine
    from lpr.metrics import percentiles

    folder = Path(args.worker_frames)
    truths = json.loads((folder / "truth.json").read_text())
    paths = [folder / f"{i:04d}.npy" for i in range(len(truths))]
    t_load = time.perf_counter()
    engine = make_engine(args.worker.split("@")[0], ocr=args.ocr, threads=args.threads)
    load_s = time.perf_counter() - t_load
    for i in range(args.warmup):
        engine.read(np.load(paths[i % len(paths)]))
    totals, stages, correct, found = [], {s: [] for s in STAGES}, 0, 0
    for path, truth in tqdm(list(zip(paths, truths)), desc=args.worker, file=sys.stderr, leave=False):
        frame = np.load(path)  # loading is not part of the timed pipeline
        t0 = time.perf_counter()
        reads = engine.read(frame)
        totals.append((time.perf_counter() - t0) * 1e3)
        best = best_read(reads)
        if best is not None:
            found += 1
            correct += best.text == truth
            for s in STAGES:
                if s in best.timings_ms:
                    stages[s].append(float(best.timings_ms[s]))
    total = percentiles(totals)
    result = {
        "n": len(totals),
        "p50_ms": total["p50"],
        "p95_ms": total["p95"],
        "mean_ms": total["mean"],
        "totals_ms": [round(v, 3) for v in totals],
        "stages_ms": {s: {k: percentiles(v)[k] for k in ("p50", "p95")} for s, v in stages.items() if v},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # Linux: KiB
        "model_load_s": round(load_s, 2),
        "plates_found": found,
        "plates_correct": correct,
        "threads": args.threads,
    }
    print(json.dumps(result))


def run_engine(name: str, frames_dir: Path, args: argparse.Namespace, tree: Path | None = None) -> dict:
    """One engine in a fresh process; `tree` puts an unpacked older checkout first on the import path."""
    cmd = [sys.executable, __file__, "--worker", name, "--worker-frames", str(frames_dir),
           "--warmup", str(args.warmup), "--threads", str(args.threads), "--ocr", args.ocr]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), str(tree / "datasets"), env.get("PYTHONPATH", "")])
    # stderr (progress bar, errors) passes through
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
    if proc.returncode != 0:
        raise SystemExit(f"error: {name} benchmark failed (exit {proc.returncode}); see the messages above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pooled(runs: list[dict]) -> dict:
    """One engine's rounds as one result: percentiles over all their frames, counts summed, the peak RSS and model
    load of the worst round; the per-stage percentiles are the first round's (the workers report no stage samples)."""
    if len(runs) == 1:
        return runs[0]
    from lpr.metrics import percentiles

    total = percentiles([v for r in runs for v in r["totals_ms"]])
    return {**runs[0], "n": sum(r["n"] for r in runs), "p50_ms": total["p50"], "p95_ms": total["p95"],
            "mean_ms": total["mean"], "totals_ms": [v for r in runs for v in r["totals_ms"]],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "model_load_s": max(r["model_load_s"] for r in runs),
            "plates_found": sum(r["plates_found"] for r in runs),
            "plates_correct": sum(r["plates_correct"] for r in runs),
            "rounds_p50_ms": [r["p50_ms"] for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="auto",
                    help="'synthetic', a dev-set folder (images/ + labels.csv), or 'auto': synthetic if plategen "
                         "imports, else --dev-set")
    ap.add_argument("--dev-set", default=DEFAULT_DEV_SET, help="folder used by --frames auto without plategen")
    ap.add_argument("--n", type=int, default=50, help="timed frames per engine")
    ap.add_argument("--warmup", type=int, default=5, help="untimed frames first")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads and cv2.setNumThreads")
    ap.add_argument("--engine", choices=["lpr", "easyocr", "all"], default="all")
    ap.add_argument("--ocr", choices=["crnn", "easyocr"], default="crnn", help="recogniser of the lpr engine")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write per-engine p50_ms/p95_ms/peak_rss_mb/... here")
    ap.add_argument("--baseline", help="also time the reader of this git revision on the same frames")
    ap.add_argument("--rounds", type=int, default=1, help="run the engines in turns this many times each")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-frames", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.n < 1 or args.warmup < 0 or args.threads < 1 or args.rounds < 1:
        ap.error("--n, --threads and --rounds must be >= 1, --warmup >= 0")

    source = args.frames
    if source == "auto":
        try:
            import plategen.scenes  # noqa: F401

            source = "synthetic"
        except ImportError:
            source = args.dev_set
    print(f"frames: {source}, n={args.n}, warmup={args.warmup}, threads={args.threads}", file=sys.stderr)
    frames = synthetic_frames(args.n, args.seed) if source == "synthetic" else dev_set_frames(Path(source), args.n)

    names = ["lpr", "easyocr"] if args.engine == "all" else [args.engine]
    rounds: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="lpr-bench-") as tmp:
        tmp = Path(tmp)
        for i, (img, _) in enumerate(frames):
            np.save(tmp / f"{i:04d}.npy", np.ascontiguousarray(img))
        (tmp / "truth.json").write_text(json.dumps([t for _, t in frames]))
        del frames
        trees: dict[str, Path | None] = {name: None for name in names}
        if args.baseline:
            tree = tmp / "baseline"
            tree.mkdir()
            archive = subprocess.run(["git", "archive", args.baseline, "lpr", "datasets"], capture_output=True,
                                     cwd=Path(__file__).resolve().parents[1], check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            trees[f"lpr@{args.baseline}"] = tree
        for _ in range(args.rounds):
            for name, tree in trees.items():
                rounds.setdefault(name, []).append(run_engine(name, tmp, args, tree))
    results = {name: pooled(runs) for name, runs in rounds.items()}

    width = max(8, *(len(n) for n in results))
    print(f"\n{'engine':<{width}} {'p50 ms':>9} {'p95 ms':>9} {'detect p50':>11} {'rectify p50':>12} {'ocr p50':>9} "
          f"{'peak RSS MB':>12} {'correct':>9}")
    for name, r in results.items():
        st = {s: r["stages_ms"].get(s, {}).get("p50") for s in STAGES}
        cell = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        print(f"{name:<{width}} {r['p50_ms']:>9.1f} {r['p95_ms']:>9.1f} {cell(st['detect']):>11} "
              f"{cell(st['rectify']):>12} {cell(st['ocr']):>9} {r['peak_rss_mb']:>12.0f} "
              f"{r['plates_correct']:>4}/{r['n']:<4}")
    if f"lpr@{args.baseline}" in results and "lpr" in results:
        old, new = results[f"lpr@{args.baseline}"]["p50_ms"], results["lpr"]["p50_ms"]
        print(f"\nlpr vs lpr@{args.baseline}: p50 {new:.1f} vs {old:.1f} ms ({(new / old - 1) * 100:+.0f} %)")
        if args.rounds > 1:
            speedups = [b["p50_ms"] / a["p50_ms"] for a, b in zip(rounds["lpr"], rounds[f"lpr@{args.baseline}"])]
            print(f"per round, lpr@{args.baseline} p50 / lpr p50: {' '.join(f'{r:.2f}' for r in speedups)} "
                  f"(median {float(np.median(speedups)):.2f}x)")
            results["lpr"]["baseline_p50_ratio_rounds"] = [round(r, 3) for r in speedups]
    if "easyocr" in results and "lpr" in results:
        ratio = results["easyocr"]["p50_ms"] / results["lpr"]["p50_ms"]
        ratio95 = results["easyocr"]["p95_ms"] / results["lpr"]["p95_ms"]
        print(f"\neasyocr / lpr latency: {ratio:.1f}x at p50, {ratio95:.1f}x at p95 (each engine in its own process; "
              f"peak RSS is that process's maximum resident set)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
