"""`gate run` with a fake reader, for the subprocess tests (run as a script, never imported).

    fake_gate_run.py --plate 12-345-67 --lane entry --source DIR --db FILE --evidence-dir DIR [--max-fps N]

Builds the lane exactly as `gate run` does (gate.lane.process.build_process,
the same logging, signal handlers and stats on exit) but injects
FixedPlateReader, so no model weights are needed.
"""
from __future__ import annotations

import argparse
import sys

from lane_fakes import FixedPlateReader

from gate.lane.process import build_process, log_to_stderr
from gate.rules.codes import Lane
from gate.store.ledger import Ledger


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plate", required=True)
    ap.add_argument("--lane", type=Lane, required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--evidence-dir", required=True)
    ap.add_argument("--max-fps", type=float)
    args = ap.parse_args()
    log_to_stderr()
    with Ledger.open(args.db) as ledger:
        process = build_process(args.lane, args.source, ledger, reader=FixedPlateReader(args.plate.replace("-", "")),
                                evidence_dir=args.evidence_dir, max_fps=args.max_fps)
        process.install_signal_handlers()
        stats = process.run()
    print(stats.summary(), file=sys.stderr)


if __name__ == "__main__":
    main()
