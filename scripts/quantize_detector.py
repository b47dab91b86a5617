#!/usr/bin/env python
"""INT8 quantisation of the plate detector (ONNX Runtime), measured before anything ships.

  python scripts/quantize_detector.py                         # -> runs/service/detector_int8.onnx + report
  python scripts/quantize_detector.py --eval ../shared/real-plates --eval data/eval_syn --n-speed 50
  python scripts/quantize_detector.py --mode static --out runs/service/detector_int8_static.onnx

--mode dynamic (default): weights to INT8, activations quantised at run time (ConvInteger). --mode static:
QDQ with activation ranges calibrated on --calibration N fresh synthetic scenes (plategen, seed 4242: not
the training seeds 1-2 nor the held-out set's 999), at the gate's input size (384).

Writes the quantised model under runs/ only, never into lpr/weights: it may replace detector.onnx only if
plate accuracy does not drop on ANY evaluation set (the verdict line says which set dropped). Speed is the
detector alone on the same 1280x720 frames, float and int8 alternating frame by frame in one process (the
machine's load changes both alike); accuracy is the whole reader (lpr.evaluate) with each detector, on
the same images side by side. The report goes to --json (default runs/service/quantize.json).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Literal

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL = [ROOT.parent / "shared" / "real-plates", ROOT / "data" / "eval_syn",
                *sorted((ROOT / "data" / "cond_dev").glob("*")), *sorted((ROOT / "data" / "cond_syn").glob("*"))]


def quantize(src: Path, dst: Path, weight_type: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp.onnx")
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8 if weight_type == "qint8" else QuantType.QUInt8)
    os.replace(tmp, dst)  # a crash never leaves a half-written model under the final name


HEAD = "/model.23/"  # the YOLO pose head's nodes in the exported graph


def quantize_static(src: Path, dst: Path, n: int, seed: int = 4242) -> None:
    """QDQ INT8 (weights per channel) with activation ranges from ``n`` synthetic gate frames."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from lpr.config import INFER_IMGSZ
    from lpr.detector import letterbox
    from plategen.scenes import make_scene

    rng = np.random.default_rng(seed)
    inputs = []
    for _ in range(n):
        img, _plates = make_scene(rng, size=(1280, 720))
        lb = letterbox(img, INFER_IMGSZ)[0]
        inputs.append(np.ascontiguousarray(lb[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0)

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(inputs)

        def get_next(self) -> dict | None:
            x = next(self.it, None)
            return None if x is None else {"images": x}

    import onnx

    # The head's decoding (boxes in pixels and scores 0-1 concatenated into one output) stays float: quantised
    # with one scale, the scores lost every plate (0 % on the held-out synthetic scenes). Its convolutions are
    # quantised like the rest.
    head = [n.name for n in onnx.load(str(src)).graph.node if n.name.startswith(HEAD) and n.op_type != "Conv"]
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp.onnx")
    quantize_static(str(src), str(tmp), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=head)
    os.replace(tmp, dst)


def speed(models: dict[str, Path], frames: list[np.ndarray], threads: int, warmup: int = 5) -> dict[str, dict]:
    """Detector latency per model on the same frames, interleaved frame by frame."""
    from lpr.detector import PlateDetector
    from lpr.metrics import percentiles

    detectors = {name: PlateDetector(weights=path, threads=threads) for name, path in models.items()}
    for det in detectors.values():
        for img in frames[:warmup]:
            det.detect(img)
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for img in frames:
        for name, det in detectors.items():
            t0 = time.perf_counter()
            det.detect(img)
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: {k: round(v, 2) for k, v in percentiles(t).items()} for name, t in times.items()}


def frames_from(folder: Path, n: int) -> list[np.ndarray]:
    """1280x720 scenes of an evaluation folder (the synthetic evalset is exactly that)."""
    from lpr.image_io import load_image

    paths = sorted((folder / "images").iterdir())[:n]
    return [load_image(p) for p in paths]


def accuracy(models: dict[str, Path], folders: list[Path], threads: int,
             stage: Literal["detector_weights", "ocr_weights"] = "detector_weights") -> dict[str, dict]:
    """The whole reader's plate accuracy on each folder with each model as its `stage` (quantize_ocr.py too)."""
    from lpr import evaluate as ev

    engines = {name: ev.make_engine("lpr", threads=threads, **{stage: path}) for name, path in models.items()}
    for engine in engines.values():
        ev.warm_up(engine)
    out = {}
    for folder in folders:
        if not (folder / "labels.csv").is_file():
            print(f"skipping {folder}: no labels.csv", file=sys.stderr)
            continue
        run = ev.run_evaluation(folder, engines)
        summaries = {name: ev.summarize(res, with_failures=False, with_breakdown=False)
                     for name, res in run.results.items()}
        key = str(folder.relative_to(ROOT.parent)) if folder.is_relative_to(ROOT.parent) else str(folder)
        out[key] = {name: {"n": s["n"], "plate_accuracy": s["plate_accuracy"],
                           "detection_recall": s["detection_recall"],
                           "detect_p50_ms": s["stages_ms"]["detect"].get("p50")} for name, s in summaries.items()}
        row = out[key]
        print(f"{key:<40} " + "  ".join(f"{n} {r['plate_accuracy']:.1%} (recall {r['detection_recall']:.1%})"
                                        for n, r in row.items()), file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "lpr" / "weights" / "detector.onnx")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "service" / "detector_int8.onnx")
    ap.add_argument("--weight-type", choices=["qint8", "quint8"], default="qint8", help="--mode dynamic")
    ap.add_argument("--mode", choices=["dynamic", "static"], default="dynamic")
    ap.add_argument("--calibration", type=int, default=100, help="--mode static: synthetic frames to calibrate on")
    ap.add_argument("--eval", type=Path, action="append", help="labelled folder (repeat); default: the dev set, "
                    "held-out synthetic scenes and every gate-condition variant of both that exists")
    ap.add_argument("--speed-frames", type=Path, default=ROOT / "data" / "eval_syn")
    ap.add_argument("--n-speed", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="measure an --out written before instead of quantising")
    ap.add_argument("--skip-speed", action="store_true", help="accuracy only (speed means little on a busy box)")
    ap.add_argument("--json", type=Path, default=ROOT / "runs" / "service" / "quantize.json")
    args = ap.parse_args()
    if ROOT / "lpr" / "weights" in args.out.resolve().parents:
        ap.error("--out: the quantised model is written under runs/, never into lpr/weights")

    if args.reuse and args.out.is_file():
        pass
    elif args.mode == "static":
        quantize_static(args.model, args.out, args.calibration)
    else:
        quantize(args.model, args.out, args.weight_type)
    models = {"float": args.model, "int8": args.out}
    report: dict = {"mode": args.mode, "model_mb": {n: round(p.stat().st_size / 2**20, 2) for n, p in models.items()},
                    "load": os.getloadavg()}
    print(f"quantised {args.model.name} ({report['model_mb']['float']} MB) -> {args.out} "
          f"({report['model_mb']['int8']} MB)", file=sys.stderr)
    if not args.skip_speed:
        report["detect_ms"] = speed(models, frames_from(args.speed_frames, args.n_speed), args.threads)
        for name, p in report["detect_ms"].items():
            print(f"detector {name:<6} p50 {p['p50']:.1f} ms  p95 {p['p95']:.1f} ms", file=sys.stderr)
    acc = None
    if not args.skip_accuracy:
        acc = accuracy(models, args.eval or [f for f in DEFAULT_EVAL if f.is_dir()], args.threads)
    finish(report, acc, args.json)


def finish(report: dict, acc: dict[str, dict] | None, path: Path) -> None:
    """The verdict (int8 may replace the float model only if it drops on no set), the load, the report file."""
    if acc is not None:
        dropped = [k for k, r in acc.items() if r["int8"]["plate_accuracy"] < r["float"]["plate_accuracy"]]
        report.update(accuracy=acc, dropped_on=dropped, verdict="keep float: int8 drops on " + ", ".join(dropped)
                      if dropped else "int8 does not drop on any set")
        print(report["verdict"], file=sys.stderr)
    report["load_after"] = os.getloadavg()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
