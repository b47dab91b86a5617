#!/usr/bin/env python
"""Soak test: one `gate run` on a looped clip for a long time; memory and file descriptors must not grow.

  python scripts/soak.py                                  # 30 min on gate/demo/entry.mp4 at 10 fps
  python scripts/soak.py --duration 120 --interval 10 --warmup 20 --clip data/clips/dev_ir/clip.mp4

The lane is a real `gate run --loop --max-fps FPS` (reader, SQLite ledger, evidence, relay 'sim'). From its
READY=1 on, RSS and the open fd count are read from /proc every --interval seconds. The baseline is the
first sample after --warmup seconds (ONNX Runtime's arenas and the ledger's caches fill during the first
frames: growth there is not a leak); growth is baseline -> end. Afterwards the lane's own stats give
frames, decisions and source restarts (each loop of the clip reopens it and counts as one; restarts beyond
the loops are the camera's). Exit 1 when RSS or fds grew more than --max-growth % (default 5), or the lane
died; the samples and summary go to --json (runs/service/soak.json).

The ledger's own fds are judged apart: SQLAlchemy's pool opens a SQLite connection (the database file and
its WAL) the first time two of the lane's threads (the frame loop and the manual-open poller) use the ledger
at once, which may happen any time in a soak; the 30-minute run of 2026-11-26 went from 10 to 12 fds that
way. So growth is measured on the other fds, and the ledger may hold at most LEDGER_THREADS connections.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from lane_procs import Lane, fd_targets, load, parse_summary, sample, wait_ready

ROOT = Path(__file__).resolve().parents[1]
LEDGER_THREADS = 2  # gate run's frame loop and its CommandPoller; more SQLite connections than this is a leak


def split_ledger(targets: list[str], db: Path) -> tuple[int, list[str]]:
    """(the ledger's open connections, every other fd): a connection is one fd on the database file."""
    own = {str(db), f"{db}-wal", f"{db}-shm", f"{db}-journal"}
    return sum(t == str(db) for t in targets), [t for t in targets if t not in own]


def growth(a: float, b: float) -> float:
    return (b - a) / a * 100 if a else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=1800.0, help="seconds after READY (default 30 min)")
    ap.add_argument("--clip", type=Path, default=ROOT / "gate" / "demo" / "entry.mp4")
    ap.add_argument("--lane", choices=["entry", "exit"], default="entry")
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline sample")
    ap.add_argument("--max-growth", type=float, default=5.0, help="percent of RSS or fds, baseline to end")
    ap.add_argument("--motion-skip", action="store_true")
    ap.add_argument("--json", type=Path, default=ROOT / "runs" / "service" / "soak.json")
    args = ap.parse_args()
    if not args.clip.is_file():
        ap.error(f"--clip: no such file {args.clip}")
    if args.duration <= 0 or args.interval <= 0 or not 0 <= args.warmup < args.duration:
        ap.error("--duration and --interval must be positive, --warmup from 0 to below --duration")

    start_load = load()
    print(f"soak: {args.clip} looped at {args.fps:g} fps for {args.duration:g} s; {start_load}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="plategate-soak-") as tmp:
        db = Path(tmp).resolve() / "ledger.db"
        cmd = ["--lane", args.lane, "--source", str(args.clip.resolve()), "--loop", "--max-fps", str(args.fps),
               "--db", str(db), "--evidence-dir", str(Path(tmp) / "evidence")]
        if args.motion_skip:
            cmd.append("--motion-skip")
        lane = Lane("soak", cmd, Path(tmp) / "lane")
        wait_ready([lane], 120)
        t0 = time.monotonic()
        samples = [sample(lane.proc.pid)]
        baseline = samples[0] if args.warmup == 0 else None
        fds_at_baseline = fd_targets(lane.proc.pid) if baseline is not None else []
        schedule = sorted({args.warmup, *(k * args.interval for k in range(1, int(args.duration / args.interval) + 1))}
                          - {0.0})
        died = False
        for at in [a for a in schedule if a < args.duration]:
            while time.monotonic() - t0 < at and lane.proc.poll() is None:
                time.sleep(min(0.5, max(0.01, at - (time.monotonic() - t0))))
            if lane.proc.poll() is not None:
                died = True
                break
            s = sample(lane.proc.pid)
            samples.append(s)
            if baseline is None and at >= args.warmup:
                baseline = s
                fds_at_baseline = fd_targets(lane.proc.pid)
            print(f"  {s.t - t0:7.0f} s  RSS {s.rss_mb:7.1f} MB  fds {s.fds:4d}  CPU {s.cpu_s:7.1f} s", file=sys.stderr)
        while not died and time.monotonic() - t0 < args.duration:
            if lane.proc.poll() is not None:
                died = True
            time.sleep(min(0.5, max(0.01, args.duration - (time.monotonic() - t0))))
        fds_at_end: list[str] = []
        if not died:
            samples.append(sample(lane.proc.pid))
            fds_at_end = fd_targets(lane.proc.pid)
        end_load = load()
        code = lane.stop()
        output = lane.output()
    try:
        stats = parse_summary(output)
    except ValueError:
        stats = None
    first, end = samples[0], samples[-1]
    base = baseline or first
    wall = end.t - t0
    (conns_base, other_base), (conns_end, other_end) = split_ledger(fds_at_baseline, db), split_ledger(fds_at_end, db)
    report = {
        "clip": str(args.clip), "fps_target": args.fps, "duration_s": round(wall, 1), "exit_code": code,
        "died": died, "load_start_end": [start_load, end_load],
        "rss_mb": {"ready": round(first.rss_mb, 1), "baseline": round(base.rss_mb, 1), "end": round(end.rss_mb, 1),
                   "growth_pct": round(growth(base.rss_mb, end.rss_mb), 2)},
        "fds": {"ready": first.fds, "baseline": base.fds, "end": end.fds,
                "growth_pct": round(growth(base.fds, end.fds), 2)},
        "fds_besides_ledger": {"baseline": len(other_base), "end": len(other_end),
                               "growth_pct": round(growth(len(other_base), len(other_end)), 2)},
        "ledger_connections": {"baseline": conns_base, "end": conns_end, "max": LEDGER_THREADS},
        "fds_opened_since_baseline": sorted((Counter(fds_at_end) - Counter(fds_at_baseline)).elements()),
        "fds_closed_since_baseline": sorted((Counter(fds_at_baseline) - Counter(fds_at_end)).elements()) if fds_at_end
        else [],
        "cpu_pct_of_one_core": round((end.cpu_s - first.cpu_s) / wall * 100, 1) if wall > 0 else None,
        "samples": [{"t": round(s.t - t0, 1), "rss_mb": round(s.rss_mb, 1), "fds": s.fds} for s in samples],
        "stats": stats,
    }
    grew = [k for k in ("rss_mb", "fds_besides_ledger") if report[k]["growth_pct"] > args.max_growth]
    if conns_end > LEDGER_THREADS:
        grew.append(f"ledger connections ({conns_end} > {LEDGER_THREADS})")
    ok = not died and not grew and stats is not None and code == 0
    print(f"\nsoak {'passed' if ok else 'FAILED'}: {wall:.0f} s; RSS {base.rss_mb:.1f} -> {end.rss_mb:.1f} MB "
          f"({report['rss_mb']['growth_pct']:+.1f} %, {first.rss_mb:.1f} MB at READY); fds {base.fds} -> {end.fds}, "
          f"besides the ledger's {len(other_base)} -> {len(other_end)} "
          f"({report['fds_besides_ledger']['growth_pct']:+.1f} %), ledger connections {conns_base} -> {conns_end}; "
          f"CPU {report['cpu_pct_of_one_core']} % of one core")
    if stats is not None:
        restarts = stats["reconnects"] - stats["loops"]
        read = stats["stages"].get("read", {})
        print(f"frames {stats['frames']} ({stats['fps']:.1f} fps), decisions {stats['decisions']} "
              f"(failed {stats['failed']}), clip loops {stats['loops']}, camera restarts beyond the loops {restarts}; "
              f"read p50 {read.get('p50')} ms, p95 {read.get('p95')} ms")
    print(f"{start_load} at start, {end_load} at end")
    if died:
        print(f"the lane died (exit {code}): {output[-1500:]}")
    elif grew:
        print(f"grew more than {args.max_growth:g} %: {', '.join(grew)}")
    if report["fds_opened_since_baseline"]:
        print("fds opened since the baseline and still open: " + ", ".join(report["fds_opened_since_baseline"]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
