"""Pack a generated OCR set (images/ + labels.csv) into one zip of grayscale JPEGs, small enough to travel.

A lent GPU machine takes at most 64 MiB of files with the repository and cannot reach ../shared, so sets made here
with real car photos (`plategen reader-crops --car-scenes ...`) go over as this zip: 31,769 reader crops are 270 MB
of colour PNGs (noisy frames do not compress) and 41 MB as 128x32 grayscale JPEGs at quality 80, which is what the
OCR reads anyway (`scripts/train_ocr.py` loads crops as grayscale). Unpack there with
`python3 -m zipfile -e OUT.zip /tmp/` and pass /tmp/<name> as a --data set.

    python scripts/pack_ocr_set.py data/ocr_reader2 .gpu/ocr_reader2.zip
"""
from __future__ import annotations

import argparse
import csv
import io
import zipfile
from pathlib import Path

import cv2

from lpr.rectify import RECT_SIZE


def pack(src: Path, out: Path, quality: int) -> int:
    """Write ``out`` holding ``<src name>/labels.csv`` (image, plate) and its JPEGs; the number of crops."""
    w, h = RECT_SIZE
    name = src.name
    with open(src / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = io.StringIO()
    writer = csv.writer(labels)
    writer.writerow(["image", "plate"])
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:  # JPEGs do not deflate
        for r in rows:
            g = cv2.imread(str(src / "images" / r["image"]), cv2.IMREAD_GRAYSCALE)
            if g is None:
                raise SystemExit(f"{src / 'images' / r['image']}: cannot decode")
            if g.shape != (h, w):
                g = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA)
            ok, jpeg = cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise SystemExit(f"{src / 'images' / r['image']}: cannot encode as JPEG")
            image = Path(r["image"]).stem + ".jpg"
            z.writestr(f"{name}/images/{image}", jpeg.tobytes())
            writer.writerow([image, r["plate"]])
        z.writestr(f"{name}/labels.csv", labels.getvalue())
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="a generated set: images/ and labels.csv (image, plate, ...)")
    ap.add_argument("out", type=Path, help="the zip to write")
    ap.add_argument("--quality", type=int, default=80, help="JPEG quality (80: 31,769 crops in 41 MB)")
    args = ap.parse_args()
    n = pack(args.src, args.out, args.quality)
    print(f"{n} crops -> {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
