#!/usr/bin/env python
"""Export the OCR checkpoint to the ONNX file the gate runs, and check the two agree on generated crops.

    python scripts/export_ocr.py                      # lpr/weights/ocr.pt -> lpr/weights/ocr.onnx
    python scripts/export_ocr.py --weights runs/cond/ocr.pt --out runs/cond/ocr.onnx
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lpr.config import OCR_ONNX, OCR_PT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=OCR_PT)
    ap.add_argument("--out", type=Path, default=OCR_ONNX)
    ap.add_argument("--check", type=int, default=200, help="generated crops read by both (0: skip)")
    args = ap.parse_args()

    from lpr.crnn import export_onnx

    out = export_onnx(args.weights, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    if args.check:
        from lpr.ocr import CrnnOcr
        from plategen.ocr_crops import make_ocr_crop

        crops = [make_ocr_crop(np.random.default_rng([5, i]))[0] for i in range(args.check)]
        onnx_p = CrnnOcr(out).probs(crops)
        torch_p = CrnnOcr(args.weights, backend="torch").probs(crops)
        same = sum(a.text == b.text for a, b in zip(CrnnOcr(out).read(crops), CrnnOcr(args.weights).read(crops)))
        print(f"max |p_onnx - p_torch| = {np.abs(onnx_p - torch_p).max():.2e}; same text on {same}/{len(crops)} crops")


if __name__ == "__main__":
    main()
