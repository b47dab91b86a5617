#!/usr/bin/env python
"""Static INT8 quantisation of the OCR (ONNX Runtime), measured before anything ships.

  python scripts/quantize_ocr.py                                   # -> runs/service/ocr_int8.onnx + report
  python scripts/quantize_ocr.py --keep-float first,head --out runs/service/ocr_int8_first_head.onnx
  python scripts/quantize_ocr.py --calibration generated --skip-accuracy   # on a box without data/

QDQ (per-channel int8 weights, uint8 activations), activation ranges by --method from --n crops of
--calibration (default the packed reader training crops data/ocr_reader2, rng --seed; 'generated': plategen
OCR crops, seed --seed). --keep-float leaves node groups in float: `first` (the first conv block) and `head`
(the 1-D conv head, transpose and softmax).

Three measures, float and int8 side by side: text agreement and exact reads on validation crop folders
(--val), OCR time per plate on those crops interleaved crop by crop (the machine's load changes both alike),
and the whole reader's plate accuracy with each OCR on every evaluation set (as quantize_detector.py). The
quantised model is written under runs/ only: it may replace ocr.onnx only if plate accuracy does not drop on
ANY set (the verdict line says which dropped). Measured 2026-11-28 (model card, "INT8 OCR"): both variants
tried read the crops about as the float model does but lost a dev photo and synthetic reads: not shipped.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from quantize_detector import DEFAULT_EVAL, accuracy, finish  # noqa: E402

FLOAT_GROUPS = ("first", "head")
DEFAULT_VAL = [ROOT / "data" / "ocr_reader_val", ROOT / "data" / "ocr_neg_val"]


def float_nodes(model: Path, groups: list[str]) -> list[str]:
    """Names of the nodes in the chosen groups of the exported CRNN graph (`lpr.crnn.export_onnx`)."""
    import onnx

    nodes = list(onnx.load(str(model)).graph.node)
    convs = [i for i, n in enumerate(nodes) if n.op_type == "Conv"]
    heads = [i for i, n in enumerate(nodes) if "/head/" in n.name]
    keep: list[str] = []
    if "first" in groups:  # conv, relu, pool up to the second conv
        if len(convs) < 2:
            raise ValueError(f"{model}: {len(convs)} Conv node(s), expected the CRNN's (group 'first')")
        keep += [n.name for n in nodes[:convs[1]]]
    if "head" in groups:
        if not heads:
            raise ValueError(f"{model}: no '/head/' node, expected the CRNN's export (group 'head')")
        keep += [n.name for n in nodes[heads[0]:]]
    return keep


def read_crops(folder: Path) -> list[tuple[np.ndarray, str]]:
    """A crop folder (images/ + labels.csv with image, plate): the crops and their plates without dashes."""
    from lpr.image_io import load_image

    with open(folder / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(load_image(folder / "images" / r["image"]), r["plate"].replace("-", "")) for r in rows]


def calibration_crops(source: str, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if source == "generated":
        from plategen.ocr_crops import make_ocr_crop

        return [make_ocr_crop(rng)[0] for _ in range(n)]
    from lpr.image_io import load_image

    folder = Path(source)
    with open(folder / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    pick = rng.choice(len(rows), min(n, len(rows)), replace=False)
    return [load_image(folder / "images" / rows[i]["image"]) for i in pick]


def quantize_static(src: Path, dst: Path, crops: list[np.ndarray], method: str, keep_float: list[str]) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from lpr.ocr import preprocess

    batches = [{"crops": preprocess(crops[i:i + 16])} for i in range(0, len(crops), 16)]

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp.onnx")
    # the alphabet in the metadata survives quantisation
    quantize_static(str(src), str(tmp), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                    calibrate_method=methods[method], nodes_to_exclude=float_nodes(src, keep_float))
    os.replace(tmp, dst)  # a crash never leaves a half-written model under the final name


def agreement(models: dict[str, Path], folders: list[Path]) -> dict[str, dict]:
    """Per crop folder: exact reads of each model, int8 text equal to float, and ms a plate (interleaved)."""
    from lpr.ocr import CrnnOcr

    ocrs = {name: CrnnOcr(path, threads=1) for name, path in models.items()}
    out: dict[str, dict] = {}
    for folder in folders:
        if not (folder / "labels.csv").is_file():
            print(f"skipping {folder}: no labels.csv", file=sys.stderr)
            continue
        crops = read_crops(folder)
        texts: dict[str, list[str]] = {name: [] for name in ocrs}
        times: dict[str, list[float]] = {name: [] for name in ocrs}
        for crop, _ in crops:
            for name, ocr in ocrs.items():
                t0 = time.perf_counter()
                texts[name].append(ocr.read([crop])[0].text)
                times[name].append((time.perf_counter() - t0) * 1e3)
        exact = {name: sum(t == plate for t, (_, plate) in zip(texts[name], crops)) for name in ocrs}
        ms = {name: round(float(np.median(times[name])), 2) for name in ocrs}
        same = sum(a == b for a, b in zip(texts["float"], texts["int8"]))
        out[folder.name] = {"n": len(crops), "same_text": same, "exact": exact, "ms_p50": ms}
        print(f"{folder.name:<16} n {len(crops)}  same text {same}  exact float {exact['float']} int8 {exact['int8']}  "
              f"ms a plate {ms['float']} / {ms['int8']}", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "lpr" / "weights" / "ocr.onnx")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "service" / "ocr_int8.onnx")
    ap.add_argument("--calibration", default=str(ROOT / "data" / "ocr_reader2"),
                    help="crop folder (images/ + labels.csv) or 'generated'")
    ap.add_argument("--n", type=int, default=800, help="calibration crops (at most the folder's)")
    ap.add_argument("--seed", type=int, default=606)
    ap.add_argument("--method", choices=["minmax", "entropy", "percentile"], default="percentile")
    ap.add_argument("--keep-float", default="", help=f"comma-separated groups left in float: {FLOAT_GROUPS}")
    ap.add_argument("--val", type=Path, action="append", help="crop folder (repeat); default data/ocr_reader_val "
                    "and data/ocr_neg_val where they exist")
    ap.add_argument("--eval", type=Path, action="append", help="labelled folder (repeat); default: the dev set, "
                    "held-out synthetic scenes and every gate-condition variant of both that exists")
    ap.add_argument("--threads", type=int, default=2, help="the whole reader's threads (crop timing uses one)")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--json", type=Path, default=ROOT / "runs" / "service" / "quantize_ocr.json")
    args = ap.parse_args()
    if ROOT / "lpr" / "weights" in args.out.resolve().parents:
        ap.error("--out: the quantised model is written under runs/, never into lpr/weights")
    groups = [g for g in args.keep_float.split(",") if g]
    if unknown := [g for g in groups if g not in FLOAT_GROUPS]:
        ap.error(f"--keep-float {','.join(unknown)}: expected a comma-separated subset of {','.join(FLOAT_GROUPS)}")
    if args.calibration != "generated" and not (Path(args.calibration) / "labels.csv").is_file():
        ap.error(f"--calibration {args.calibration}: expected a crop folder with labels.csv, or 'generated'")
    if args.n < 1:
        ap.error(f"--n {args.n}: expected 1 or more calibration crops")
    if args.seed < 0:
        ap.error(f"--seed {args.seed}: expected 0 or more")
    if not args.model.is_file():
        ap.error(f"--model {args.model}: expected an exported OCR (.onnx file)")

    crops = calibration_crops(args.calibration, args.n, args.seed)
    quantize_static(args.model, args.out, crops, args.method, groups)
    models = {"float": args.model, "int8": args.out}
    mb = {k: round(p.stat().st_size / 2**20, 2) for k, p in models.items()}
    report: dict = {"method": args.method, "keep_float": groups, "calibration": args.calibration,
                                 "n": len(crops), "seed": args.seed, "model_mb": mb, "load": os.getloadavg()}
    print(f"quantised {args.model.name} ({mb['float']} MB) -> {args.out} ({mb['int8']} MB), float: {groups or 'none'}",
          file=sys.stderr)
    report["crops"] = agreement(models, args.val or [f for f in DEFAULT_VAL if f.is_dir()])
    acc = None
    if not args.skip_accuracy:
        acc = accuracy(models, args.eval or [f for f in DEFAULT_EVAL if f.is_dir()], args.threads, "ocr_weights")
    finish(report, acc, args.json)


if __name__ == "__main__":
    main()
