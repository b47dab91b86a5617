"""`lpr` command line: read plates from image files, and evaluate engines on a labelled folder.

Exit codes
  lpr read: 0 every file was processed (with or without a plate), 1 at least one file errored,
            2 the engine could not start (missing weights or module).
  lpr eval: 0 evaluation ran (failed reads are results, not errors), 2 bad labels.csv / unusable engine.
"""
from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import cv2
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lpr import evaluate as ev
from lpr.image_io import ImageLoadError, load_image

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Israeli licence plate reader.")
out = Console(highlight=False, width=None if sys.stdout.isatty() else 140)  # piped to a file: don't squeeze to 80
err = Console(stderr=True, highlight=False)


class Ocr(str, Enum):
    crnn = "crnn"
    easyocr = "easyocr"


class EngineChoice(str, Enum):
    lpr = "lpr"
    easyocr = "easyocr"
    fast_alpr = "fast-alpr"
    all = "all"


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_time=False, show_path=False)],
        force=True,
    )


def make_reader(engine: str = "lpr", ocr: str = "crnn") -> ev.Engine:
    """The engine `lpr read` uses; a seam so tests can inject a fake reader."""
    return ev.make_engine(engine, ocr=ocr)


def _reason(e: Exception, path: str) -> str:
    msg = str(e) or type(e).__name__
    return msg[len(path) + 2 :] if msg.startswith(f"{path}: ") else msg  # the line already starts with the path


def _describe(reads) -> str:
    if not reads:
        return "no plate"
    return ", ".join(f"{r.formatted} ({r.confidence:.2f})" for r in reads)


@app.command("read")
def read_cmd(
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG, ...).", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of text.")] = False,
    save_crops: Annotated[Optional[Path],
                          typer.Option(help="Write each rectified plate as DIR/<stem>_<i>.png.")] = None,
    ocr: Annotated[Ocr, typer.Option(help="Recogniser used by the lpr reader.")] = Ocr.crnn,
    engine: Annotated[EngineChoice, typer.Option(help="lpr (ours) or easyocr (the peer).")] = EngineChoice.lpr,
    crop: Annotated[bool,
                    typer.Option("--crop", help="Each image is a plate photo cropped round the plate: lpr reads it "
                                 "whole and where the detector finds the plate in it; the peers, whole.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Read plates: one line per image, `path: 12-345-67 (0.97)`, `path: no plate` or `path: error: <reason>`.

    A bad file never stops the batch. Exit code 0 if every file was processed, 1 if any errored.
    """
    _setup_logging(verbose)
    if engine == EngineChoice.all:
        raise typer.BadParameter("read takes one engine: lpr, easyocr or fast-alpr", param_hint="--engine")
    try:
        reader = make_reader(engine.value, ocr.value)
    except Exception as e:  # missing weights / module: nothing can be read, say so once
        err.print(f"error: cannot start engine {engine.value!r}: {e}")
        raise typer.Exit(2) from None
    if save_crops is not None:
        try:
            save_crops.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a file of that name, no permission: one line, not a traceback
            err.print(f"error: --save-crops {str(save_crops)!r}: {e.strerror or e}, expected a folder to write to")
            raise typer.Exit(2) from None
    failed = 0
    for path in images:
        name = str(path)
        try:
            image = load_image(path)
            reads = [r for r in [reader.read_crop(image)] if r is not None] if crop else list(reader.read(image))
        except Exception as e:  # ImageLoadError or an engine crash: report this file and go on
            failed += 1
            if not isinstance(e, ImageLoadError):
                logging.getLogger(__name__).debug("reader failed on %s", name, exc_info=True)
            reason = _reason(e, name)
            typer.echo(json.dumps({"image": name, "error": reason}) if as_json else f"{name}: error: {reason}")
            continue
        if save_crops is not None:
            for i, r in enumerate(reads):
                if r.crop is not None and r.crop.size and not cv2.imwrite(str(save_crops / f"{path.stem}_{i}.png"),
                                                                           r.crop):
                    failed += 1
                    typer.echo(f"{name}: error: could not write its crop to {save_crops}", err=True)
        if as_json:
            typer.echo(json.dumps({"image": name, "plates": [r.to_dict() for r in reads]}))
        else:
            typer.echo(f"{name}: {_describe(reads)}")
    raise typer.Exit(1 if failed else 0)


def _fmt(v, pct: bool = False, unit: str = "") -> str:
    if v is None:
        return "-"
    return f"{v * 100:.1f}%" if pct else f"{v:.0f}{unit}" if isinstance(v, (int, float)) else str(v)


def _summary_table(summaries: dict[str, dict]) -> Table:
    """Engines side by side, one metric per row."""
    t = Table(title="evaluation", show_lines=False)
    t.add_column("metric")
    for name in summaries:
        t.add_column(name, justify="right")

    def row(label: str, get) -> None:
        t.add_row(label, *[get(s) for s in summaries.values()])

    row("images (decode errors)", lambda s: f"{s['n']} ({s['n_errors']})")
    row("plate accuracy", lambda s: _fmt(s["plate_accuracy"], pct=True))
    row("char accuracy (1-CER)", lambda s: _fmt(s["char_accuracy"], pct=True))
    row("detection recall", lambda s: _fmt(s["detection_recall"], pct=True))
    row(f"  plates >= {ev.WIDE_PLATE_PX} px wide", lambda s: _fmt(s.get("detection_recall_60px"), pct=True))
    def corner(s: dict) -> str:
        c = s["corner_error_pct"]
        return "-" if c["mean"] is None else f"{c['mean']:.1f} (n={c['n']})"

    row("corner error, % width", corner)
    row("latency p50 / p95", lambda s: f"{_fmt(s['latency_ms']['p50'])} / {_fmt(s['latency_ms']['p95'])} ms")
    for stage in ev.STAGES:
        row(f"  {stage} p50 / p95",
            lambda s, st=stage: f"{_fmt(s['stages_ms'][st]['p50'])} / {_fmt(s['stages_ms'][st]['p95'])} ms")
    t.add_section()
    row("split: plate / char / det", lambda s: "")
    for group, label in (("by_kind", "kind"), ("by_length", "digits"), ("by_cover", "plate"), ("by_source", "source")):
        keys = sorted({k for s in summaries.values() for k in s.get(group, {})})
        for k in keys:
            def cell(s, g=group, k=k) -> str:
                sub = s.get(g, {}).get(k)
                if sub is None:
                    return "-"
                return (f"{_fmt(sub['plate_accuracy'], pct=True)} / {_fmt(sub['char_accuracy'], pct=True)} / "
                        f"{_fmt(sub['detection_recall'], pct=True)}  n={sub['n']}")
            row(f"{label}={k.rsplit('/', 1)[-1][:28]}", cell)
    return t


def _failure_table(name: str, failures: list[dict]) -> Table:
    t = Table(title=f"{name}: {len(failures)} failures")
    for c in ("image", "kind", "truth", "read", "reason"):
        t.add_column(c)
    for f in failures:
        t.add_row(f["image"], f["kind"], f["truth"], f["read"] or "-", f["reason"])
    return t


def eval_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder with images/ and labels.csv.", show_default=False)],
    engine: Annotated[EngineChoice, typer.Option(
        help="lpr, easyocr, fast-alpr, or all (side by side on the same images).")] = EngineChoice.lpr,
    ocr: Annotated[Ocr, typer.Option(help="Recogniser for the lpr engine.")] = Ocr.crnn,
    half: Annotated[Optional[str], typer.Option(
        help="Only this half of the fixed dev split: train or held-out "
             "(a model fine-tuned on the train half is measured on held-out).")] = None,
    detector_weights: Annotated[Optional[Path], typer.Option(help="lpr: a candidate detector (.onnx/.pt).")] = None,
    ocr_weights: Annotated[Optional[Path], typer.Option(help="lpr: a candidate OCR (.pt).")] = None,
    json_path: Annotated[Optional[Path],
                         typer.Option("--json", help="Write per-engine metrics and failures as JSON.")] = None,
    report: Annotated[Optional[Path], typer.Option(help="Write PNGs: worst cases, digit confusion, latency.")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Only the first N labelled images.")] = None,
    failures: Annotated[bool, typer.Option(help="Print the failure list.")] = True,
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Evaluate engines on a labelled folder: accuracy, recall, corner error, latency, failures.

    Exit code 2 with a one-line message for a missing/malformed labels.csv or an engine that cannot start.
    """
    _setup_logging(verbose)
    try:
        labels = ev.load_labels(folder)
    except ev.LabelsError as e:
        err.print(f"error: {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    if half is not None:
        if half not in ("train", "held-out"):
            err.print(f"error: --half {half!r}: expected train or held-out")
            raise typer.Exit(2)
        labels = ev.in_half(labels, half)
    if limit is not None:
        labels = labels[:limit]
    names = list(ev.ENGINES) if engine == EngineChoice.all else [engine.value]
    engines = {}
    for name in names:
        try:
            with err.status(f"loading {name} and warming it up"):
                engines[name] = ev.make_engine(name, ocr=ocr.value, detector_weights=detector_weights,
                                               ocr_weights=ocr_weights)
                ev.warm_up(engines[name])
        except Exception as e:
            err.print(f"error: cannot start engine {name!r}: {type(e).__name__}: {e}", soft_wrap=True)
            raise typer.Exit(2) from None
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err, transient=True,
    )
    with progress:
        task = progress.add_task(f"{'+'.join(names)} on {folder.name}", total=len(labels))
        run = ev.run_evaluation(folder, engines, labels=labels, on_image=lambda _: progress.advance(task))
    summaries = {name: ev.summarize(res) for name, res in run.results.items()}
    out.print(_summary_table(summaries))
    if failures:
        for name, s in summaries.items():
            out.print(_failure_table(name, s["failures"]))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(summaries, indent=2) + "\n")
        err.print(f"wrote {json_path}")
    if report is not None:
        from lpr.report import write_report

        for p in write_report(run, report):
            err.print(f"wrote {p}")


app.command("eval")(eval_cmd)


def main() -> None:
    app()
