#!/usr/bin/env python
"""N lanes on one box: N `gate run` processes at once, each on its own clip paced at --fps, for a bounded time.

  python scripts/benchmark_lanes.py                          # 4 lanes, 10 fps, 60 s; plain, then --motion-skip
  python scripts/benchmark_lanes.py --lanes 4 --seconds 120 --variant plain --ledger shared
  python scripts/benchmark_lanes.py --ledger postgresql+psycopg://user@127.0.0.1/plategate_bench

Each lane is a real `gate run --loop --max-fps FPS --threads T` (the reader on ONNX Runtime, its ledger,
evidence and relay 'sim'); timing starts once every lane said READY=1 (reader loaded, first frame read)
and stops with SIGTERM after --seconds. Per lane it reports achieved fps and decisions (from the lane's own
stats on exit), CPU % of one core (from /proc/PID/stat over the window) and the reader's p50/p95 latency per
frame it read; for the box, all CPUs' busy share and the load average. --motion-skip variants also give the
share of frames the reader skipped.

Clips: data/clips/*/clip.mp4 (`plategen clips`: 10 fps, 2.5 s of empty lane between cars) when there, else
gate/demo/entry.mp4 and exit.mp4. --ledger: 'each' (a SQLite file per lane), 'shared' (one SQLite file for
all lanes) or a PostgreSQL URL (lanes share it). Results go to --json (runs/service/benchmark_lanes.json).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from lane_procs import Lane, load, parse_summary, sample, system_cpu, wait_ready

from gate.lane.redact import redact

ROOT = Path(__file__).resolve().parents[1]
CLIP_DIRS = ("dev_daylight", "dev_dusk", "dev_ir", "syn_daylight", "syn_dusk", "syn_ir")


def default_clips() -> list[Path]:
    clips = [ROOT / "data" / "clips" / d / "clip.mp4" for d in CLIP_DIRS]
    clips = [c for c in clips if c.is_file()]
    return clips or [ROOT / "gate" / "demo" / "entry.mp4", ROOT / "gate" / "demo" / "exit.mp4"]


def run_variant(name: str, clips: list[Path], args: argparse.Namespace, workdir: Path) -> dict:
    lanes = []
    for i in range(args.lanes):
        clip = clips[i % len(clips)]
        kind = "exit" if clip.stem == "exit" else "entry"
        lane_dir = workdir / f"{name}-lane{i}"
        db = (str(lane_dir / "ledger.db") if args.ledger == "each"
              else str(workdir / f"{name}-shared.db") if args.ledger == "shared" else args.ledger)
        cmd = ["--lane", kind, "--gate", f"{kind}-{i}", "--source", str(clip), "--loop", "--max-fps", str(args.fps),
               "--db", db, "--evidence-dir", str(lane_dir / "evidence"), "--threads", str(args.threads)]
        if name == "motion":
            cmd.append("--motion-skip")
        lanes.append(Lane(f"lane{i}", cmd, lane_dir))
        if args.ledger != "each" and i == 0:
            wait_ready(lanes, 120)  # the first lane creates the shared ledger; the others open it
    wait_ready(lanes, 120)
    load_before = load()
    t0, cpu0 = time.monotonic(), system_cpu()
    starts = {lane.name: sample(lane.proc.pid) for lane in lanes}
    while time.monotonic() - t0 < args.seconds:
        time.sleep(0.5)
        if any(lane.proc.poll() is not None for lane in lanes):
            break
    ends = {lane.name: sample(lane.proc.pid) for lane in lanes if lane.proc.poll() is None}
    cpu1, t1 = system_cpu(), time.monotonic()
    load_after = load()
    rows = []
    for lane, clip in zip(lanes, [clips[i % len(clips)] for i in range(args.lanes)]):
        code = lane.stop()
        stats = parse_summary(lane.output())
        a, b = starts[lane.name], ends.get(lane.name)
        read = stats["stages"].get("read", {})
        rows.append({
            "lane": lane.name, "clip": str(clip.relative_to(ROOT)) if clip.is_relative_to(ROOT) else str(clip),
            "exit_code": code, "fps": stats["fps"], "frames": stats["frames"], "skipped": stats["skipped"],
            "decisions": stats["decisions"], "failed_decisions": stats["failed"],
            "cpu_pct": round((b.cpu_s - a.cpu_s) / (b.t - a.t) * 100, 1) if b else None,
            "rss_mb": round(b.rss_mb, 1) if b else None,
            "read_p50_ms": read.get("p50"), "read_p95_ms": read.get("p95"),
        })
    busy = (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1]) * 100
    return {"variant": name, "lanes": rows, "window_s": round(t1 - t0, 1), "box_cpu_busy_pct": round(busy, 1),
            "load_before": load_before, "load_after": load_after}


def print_variant(result: dict, fps: float) -> None:
    print(f"\n{result['variant']}: {len(result['lanes'])} lanes at {fps:g} fps for {result['window_s']} s; "
          f"box CPU busy {result['box_cpu_busy_pct']:.0f} %; {result['load_before']} -> {result['load_after']}")
    print(f"{'lane':<6} {'clip':<34} {'fps':>5} {'frames':>7} {'skipped':>8} {'decisions':>9} {'CPU %':>6} "
          f"{'read p50':>9} {'read p95':>9} {'RSS MB':>7}")
    cell = lambda v, f="{:.1f}": "-" if v is None else f.format(v)  # noqa: E731
    for r in result["lanes"]:
        print(f"{r['lane']:<6} {r['clip'][-34:]:<34} {r['fps']:>5.1f} {r['frames']:>7} {r['skipped']:>8} "
              f"{r['decisions']:>9} {cell(r['cpu_pct']):>6} {cell(r['read_p50_ms']):>9} {cell(r['read_p95_ms']):>9} "
              f"{cell(r['rss_mb'], '{:.0f}'):>7}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--fps", type=float, default=10.0, help="gate run --max-fps of each lane")
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window per variant, after all are ready")
    ap.add_argument("--clips", type=Path, nargs="+", help="video files, used in turn (default: see above)")
    ap.add_argument("--variant", choices=["plain", "motion"], action="append",
                    help="plain and/or motion (--motion-skip); default both")
    ap.add_argument("--threads", type=int, default=1,
                    help="gate run --threads of each lane (default 1: 4 lanes of 2 threads oversubscribe 2 cores)")
    ap.add_argument("--ledger", default="each", help="'each', 'shared' or a PostgreSQL URL")
    ap.add_argument("--json", type=Path, default=ROOT / "runs" / "service" / "benchmark_lanes.json")
    args = ap.parse_args()
    if args.lanes < 1 or args.fps <= 0 or args.seconds <= 0 or args.threads < 1:
        ap.error("--lanes, --fps, --seconds and --threads must be positive")
    clips = [c.resolve() for c in args.clips or default_clips()]  # each lane runs in its own folder
    missing = [c for c in clips if not c.is_file()]
    if missing:
        ap.error(f"--clips: no such file {missing[0]}")
    print(f"{args.lanes} lanes, {args.fps:g} fps, {args.threads} reader thread(s) each, {args.seconds:g} s; "
          f"clips {', '.join(c.name for c in clips)} "
          f"({', '.join(c.parent.name for c in clips)}); ledger {redact(args.ledger)}; {load()}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="plategate-lanes-") as tmp:
        for variant in args.variant or ["plain", "motion"]:
            result = run_variant(variant, clips, args, Path(tmp))
            print_variant(result, args.fps)
            results.append(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"lanes": args.lanes, "fps": args.fps, "threads": args.threads,
                                     "seconds": args.seconds,
                                     "ledger": args.ledger, "variants": results}, indent=2) + "\n")
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
