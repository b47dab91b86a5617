"""`plategen scenes|ocr|sheet`: deterministic synthetic data sets, one command each."""
from __future__ import annotations

import csv
import os
from functools import partial
from multiprocessing import Pool
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import typer
from tqdm import tqdm

if TYPE_CHECKING:
    from lpr.detector import PlateDetector

app = typer.Typer(add_completion=False, help="Synthetic Israeli plate data for the detector and the OCR.")


def _rng(seed: int, i: int) -> np.random.Generator:
    return np.random.default_rng([seed, i])  # per-sample stream: same output for any worker count


def _scene_job(i: int, seed: int, out: Path, car_scenes: str | None, split: str, max_side: int = 1024) -> None:
    from plategen.scenes import make_scene
    from plategen.yolo import label_lines

    cv2.setNumThreads(1)
    rng = _rng(seed, i)
    img, plates = make_scene(rng, car_scenes=car_scenes)
    h, w = img.shape[:2]
    if max(h, w) > max_side:  # the detector trains at ~416 px: larger files only cost disk and decode time
        img = cv2.resize(img, None, fx=max_side / max(h, w), fy=max_side / max(h, w), interpolation=cv2.INTER_AREA)
    name = f"{split}_{i:07d}"
    cv2.imwrite(str(out / split / "images" / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    (out / split / "labels" / f"{name}.txt").write_text("\n".join(label_lines([p.corners for p in plates], w, h)))


def _ocr_job(i: int, seed: int, out: Path, negatives: float = 0.0) -> tuple[str, str]:
    from plategen.ocr_crops import make_ocr_crop

    cv2.setNumThreads(1)
    negative = bool(negatives) and np.random.default_rng([seed, i, 1]).random() < negatives  # own stream: the
    crop, text = make_ocr_crop(_rng(seed, i), negative=negative)  # positives stay those of a run without negatives
    name = f"{i:07d}.png"
    cv2.imwrite(str(out / "images" / name), crop)
    return name, text


def _run(job, n: int, workers: int, desc: str):
    if workers <= 1:  # in-process: also safe inside a parent that already started torch/OpenMP threads
        return [job(i) for i in tqdm(range(n), desc=desc)]
    with Pool(workers) as pool:
        return list(tqdm(pool.imap(job, range(n), chunksize=16), total=n, desc=desc))


def _write_labels(out: Path, header: list[str], rows) -> None:
    """labels.csv written whole or not at all: a trainer never reads half a set."""
    tmp = out / "labels.csv.tmp"
    with open(tmp, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(header)
        wr.writerows(rows)
    tmp.replace(out / "labels.csv")


@app.command()
def scenes(out: Path = typer.Option(..., help="output folder"), n: int = 1000, seed: int = 0,
           val_fraction: float = 0.05, car_scenes: Path | None = typer.Option(None, help="../shared/car-scenes"),
           workers: int = typer.Option(os.cpu_count() or 2)):
    """Detector data set: images/, labels/ (YOLO pose, 4 corners) and data.yaml."""
    from plategen.yolo import write_data_yaml

    n_val = int(n * val_fraction)
    for split, count, s in (("train", n - n_val, seed), ("val", n_val, seed + 1_000_003)):
        (out / split / "images").mkdir(parents=True, exist_ok=True)
        (out / split / "labels").mkdir(parents=True, exist_ok=True)
        if count:
            _run(partial(_scene_job, seed=s, out=out, car_scenes=str(car_scenes) if car_scenes else None, split=split),
                 count, workers, f"scenes/{split}")
    typer.echo(f"wrote {n} scenes to {out} ({write_data_yaml(out)})")


@app.command()
def ocr(out: Path = typer.Option(...), n: int = 10000, seed: int = 0, workers: int = typer.Option(os.cpu_count() or 2),
        negatives: float = typer.Option(0.0, min=0.0, max=1.0,
                                        help="share of crops with no Israeli plate (letters, or none), labelled ''")):
    """OCR data set: rectified crops (the reader's own warp) in images/ and labels.csv (image, plate)."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = _run(partial(_ocr_job, seed=seed, out=out, negatives=negatives), n, workers, "ocr crops")
    _write_labels(out, ["image", "plate"], rows)
    typer.echo(f"wrote {n} crops to {out}")


_DETECTOR: PlateDetector | None = None  # one per worker process (`_reader_crops_job`)


def _reader_crops_job(i: int, seed: int, out: Path, car_scenes: str | None, severity: tuple[float, float],
                      passes: float = 0.0) -> list[tuple[str, str, str]]:
    from lpr.detector import PlateDetector
    from plategen.reader_crops import reader_crops

    global _DETECTOR
    cv2.setNumThreads(1)
    if _DETECTOR is None:  # one detector per worker process, one thread each
        _DETECTOR = PlateDetector(threads=1)
    rows = []
    for k, (crop, label, condition) in enumerate(reader_crops(_rng(seed, i), _DETECTOR, car_scenes, severity,
                                                                    passes=passes)):
        name = f"{i:07d}_{k}.png"
        cv2.imwrite(str(out / "images" / name), crop)
        rows.append((name, label, condition))
    return rows


@app.command("reader-crops")
def reader_crops_command(out: Path = typer.Option(...), n: int = 10000, seed: int = 0,
                 car_scenes: Path | None = typer.Option(None, help="../shared/car-scenes"),
                 severity: tuple[float, float] = typer.Option((0.6, 1.4), help="gate-condition severity range"),
                 passes: float = typer.Option(0.0, min=0.0, max=1.0,
                                              help="share of frames taken from a car's approach, as clips render it"),
                 workers: int = typer.Option(os.cpu_count() or 2)):
    """OCR data set cut by the shipped detector from n gate frames (one condition each), as the reader cuts.

    Same layout as `plategen ocr` (images/, labels.csv: image, plate) plus the condition of each crop; a
    detection over no plate is labelled "".
    """
    (out / "images").mkdir(parents=True, exist_ok=True)
    job = partial(_reader_crops_job, seed=seed, out=out, car_scenes=str(car_scenes) if car_scenes else None,
                  severity=severity, passes=passes)
    rows = [r for frame in _run(job, n, workers, "reader crops") for r in frame]
    _write_labels(out, ["image", "plate", "condition"], rows)
    plates = sum(1 for r in rows if r[1])
    typer.echo(f"wrote {len(rows)} crops from {n} frames to {out}: {plates} of plates, {len(rows) - plates} of none")


def _evalset_job(i: int, seed: int, out: Path, car_scenes: str | None) -> list[str]:
    from plategen.scenes import make_scene

    cv2.setNumThreads(1)
    rng = _rng(seed, i)
    while True:  # one plate per image: the evaluation format has one label per image
        img, plates = make_scene(rng, size=(1280, 720), car_scenes=car_scenes, p_empty=0.0, p_gate=0.0)
        if len(plates) == 1 and (plates[0].corners >= 0).all() and (plates[0].corners < [1280, 720]).all():
            break
    name = f"{i:06d}.jpg"
    cv2.imwrite(str(out / "images" / name), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return ([name, plates[0].text, "scene", "synthetic"] + [f"{v:.1f}" for v in plates[0].corners.reshape(-1)]
            + [f"{plates[0].covered:.2f}"])


@app.command()
def evalset(out: Path = typer.Option(...), n: int = 200, seed: int = 999, car_scenes: Path | None = None,
            workers: int = typer.Option(os.cpu_count() or 2)):
    """Held-out 1280x720 scenes in the evaluation format (images/, labels.csv with corners) for scripts/evaluate.py."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = _run(partial(_evalset_job, seed=seed, out=out, car_scenes=str(car_scenes) if car_scenes else None), n,
                workers, "eval scenes")
    with open(out / "labels.csv", "w", newline="") as f:
        wr = csv.writer(f)
        # covered: the share of the plate's width the generator hid under a cover (0.1 of the scenes; the label
        # keeps every digit, so no reader can get those plates exactly: the evaluation reports them apart)
        wr.writerow(["image", "plate", "kind", "source", "x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4", "covered"])
        wr.writerows(rows)
    typer.echo(f"wrote {n} evaluation scenes to {out}")


def _condition_job(row: dict[str, str], src: Path, out: Path, condition: str, seed: int) -> dict[str, str]:
    import zlib

    from plategen.conditions import apply

    cv2.setNumThreads(1)
    img = cv2.imread(str(src / "images" / row["image"]), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{src / 'images' / row['image']}: cannot decode image")
    # one stream per (image, condition): any worker count, any order, same output
    rng = np.random.default_rng([seed, zlib.crc32(row["image"].encode()), zlib.crc32(condition.encode())])
    new = apply(img, condition, rng, crop=row.get("kind") == "crop")
    sx, sy = new.shape[1] / img.shape[1], new.shape[0] / img.shape[0]
    row = dict(row)
    for k in ("x1", "x2", "x3", "x4"):
        if row.get(k):
            row[k] = f"{float(row[k]) * sx:.1f}"
    for k in ("y1", "y2", "y3", "y4"):
        if row.get(k):
            row[k] = f"{float(row[k]) * sy:.1f}"
    name = Path(row["image"]).with_suffix(".png" if condition != "small" else ".jpg").name
    if condition != "small":  # keep the condition's own compression, do not add another
        cv2.imwrite(str(out / "images" / name), new)
    else:
        cv2.imwrite(str(out / "images" / name), new, [cv2.IMWRITE_JPEG_QUALITY, 95])
    row["image"] = name
    return row


@app.command()
def conditions(src: Path = typer.Argument(..., help="labelled folder: images/ and labels.csv"),
               out: Path = typer.Option(..., help="one sub-folder per condition is written here"),
               only: list[str] = typer.Option([], help="conditions to make (default: all)"), seed: int = 7,
               workers: int = typer.Option(os.cpu_count() or 2)):
    """Gate-condition variants of a labelled folder (dusk, IR, motion, compression, small, rain, daylight).

    Each variant keeps the labels (corners scaled with the image) so `scripts/evaluate.py OUT/<condition>`
    measures the reader on it directly.
    """
    from plategen.conditions import Condition

    chosen = [Condition(c) for c in only] if only else list(Condition)
    with open(src / "labels.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        all_rows = [r for r in reader if r.get("image")]
    for c in chosen:
        # a tight crop is the plate at the frame's own resolution already: there is no smaller version of it
        rows = [r for r in all_rows if not (c is Condition.SMALL and r.get("kind") == "crop")]
        dst = out / c.value
        (dst / "images").mkdir(parents=True, exist_ok=True)
        job = partial(_condition_job, src=src, out=dst, condition=c.value, seed=seed)
        if workers <= 1:
            new_rows = [job(r) for r in tqdm(rows, desc=c.value)]
        else:
            with Pool(workers) as pool:
                new_rows = list(tqdm(pool.imap(job, rows, chunksize=4), total=len(rows), desc=c.value))
        with open(dst / "labels.csv", "w", newline="", encoding="utf-8") as f:
            wr = csv.DictWriter(f, fieldnames=fields)
            wr.writeheader()
            wr.writerows(new_rows)
        typer.echo(f"wrote {len(new_rows)} images to {dst}")


@app.command()
def clips(src: Path = typer.Argument(..., help="labelled folder: images/ and labels.csv (e.g. a condition variant)"),
          out: Path = typer.Option(..., help="writes clip.mp4 and truth.csv here"), seed: int = 3,
          fps: float = 10.0, pass_frames: int = 10, gap_frames: int = 25, limit: int | None = None,
          kind: str | None = typer.Option(None, help="only rows of this kind, e.g. scene (whole cars)")):
    """A test clip for `gate run`: each labelled photo drives through the frame once, empty lane between."""
    from plategen.clips import ClipSpec, render_clip

    path = render_clip(src, out, seed=seed, spec=ClipSpec(fps=fps, pass_frames=pass_frames, gap_frames=gap_frames),
                       limit=limit, kind=kind)
    typer.echo(f"wrote {path} and {out / 'truth.csv'}")


@app.command()
def sheet(out: Path = typer.Option(Path("contact_sheet.png")), n: int = 24, seed: int = 0,
          car_scenes: Path | None = None, cols: int = 6, tile: int = 320):
    """One PNG grid of scenes with corners drawn (TL red, TR green, BR blue, BL yellow) and OCR crops."""
    from plategen.ocr_crops import make_ocr_crop
    from plategen.scenes import make_scene

    tiles = []
    for i in range(n):
        img, plates = make_scene(_rng(seed, i), car_scenes=str(car_scenes) if car_scenes else None)
        for p in plates:
            for c, col in zip(p.corners, [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255)]):
                cv2.circle(img, (int(c[0]), int(c[1])), max(3, img.shape[1] // 250), col, -1)
        s = tile / max(img.shape[:2])
        t = np.zeros((tile, tile, 3), np.uint8)
        r = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
        t[: r.shape[0], : r.shape[1]] = r
        cv2.putText(t, " ".join(p.text for p in plates) or "no plate", (4, tile - 6), 0, 0.5, (255, 255, 255), 1)
        tiles.append(t)
    while len(tiles) % cols:
        tiles.append(np.zeros((tile, tile, 3), np.uint8))
    grid = np.vstack([np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)])
    crops = [make_ocr_crop(_rng(seed + 7, i))[0] for i in range(cols * 4)]
    cw = grid.shape[1] // cols
    crops = [cv2.resize(c, (cw, int(c.shape[0] * cw / c.shape[1]))) for c in crops]
    strip = np.vstack([np.hstack(crops[i : i + cols]) for i in range(0, len(crops), cols)])
    cv2.imwrite(str(out), np.vstack([grid, strip]))
    typer.echo(f"wrote {out}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
