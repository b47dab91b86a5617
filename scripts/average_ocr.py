#!/usr/bin/env python
"""Average OCR checkpoints of one architecture into one (a "model soup"), then export and check it as usual.

    python scripts/average_ocr.py a.pt b.pt --out runs/soup/ocr.pt
    python scripts/export_ocr.py --weights runs/soup/ocr.pt --out runs/soup/ocr.onnx
"""
from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path, nargs="+", help="two or more OCR checkpoints (.pt)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    from lpr.crnn import average_checkpoints

    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"wrote {average_checkpoints(args.weights, args.out)}")


if __name__ == "__main__":
    main()
