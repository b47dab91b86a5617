"""PNG pictures of an evaluation a person can scan: worst cases, per-digit confusion, latency.

Files written into the report folder:
  <engine>_worst.png      the failures with the most character errors: where, rectified plate, truth vs read
  <engine>_confusion.png  truth digit x read digit counts from the edit alignment (∅ = missing/extra)
  latency.png             per-image latency histogram per engine, and p50/p95 per stage
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")  # headless: files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lpr.evaluate import STAGES, EvalRun, ImageResult  # noqa: E402
from lpr.metrics import GAP, align  # noqa: E402

log = logging.getLogger(__name__)

SYMBOLS = list("0123456789") + [GAP]


def write_report(run: EvalRun, out_dir: str | Path, worst: int = 12) -> list[Path]:
    """Write all report PNGs into out_dir (created); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, results in run.results.items():
        paths.append(worst_gallery(results, out / f"{name}_worst.png", title=f"{name}: worst cases", n=worst))
        paths.append(confusion_plot(results, out / f"{name}_confusion.png", title=f"{name}: per-digit confusion"))
    paths.append(latency_plot(run, out / "latency.png"))
    for p in paths:
        log.info("wrote %s", p)
    return paths


def _rgb(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def worst_gallery(results: list[ImageResult], path: Path, title: str, n: int = 12) -> Path:
    """One row per failure, most character errors first: image region, rectified plate, text."""
    fails = sorted((r for r in results if not r.correct), key=lambda r: (-(r.error is not None), -r.edits, r.image))[:n]
    rows = max(1, len(fails))
    fig, axes = plt.subplots(rows, 3, figsize=(12, 2.2 * rows), gridspec_kw={"width_ratios": [2.2, 1.6, 2.2]},
                             squeeze=False)
    n_bad = sum(not r.correct for r in results)
    fig.suptitle(f"{title} ({n_bad} failures of {len(results)}); green = truth corners, red = read", fontsize=11)
    for ax in axes.ravel():
        ax.axis("off")
    if not fails:
        axes[0, 1].text(0.5, 0.5, "no failures", ha="center", va="center", fontsize=14)
    for i, r in enumerate(fails):
        a_img, a_crop, a_txt = axes[i]
        if r.region is not None:
            a_img.imshow(_rgb(r.region))
        else:
            a_img.text(0.5, 0.5, "image not loaded", ha="center", va="center", color="crimson")
        if r.crop is not None and r.crop.size:
            a_crop.imshow(_rgb(r.crop))
            a_crop.set_title("rectified plate", fontsize=8)
        else:
            a_crop.text(0.5, 0.5, "no plate crop", ha="center", va="center", color="grey")
        conf = "" if r.confidence is None else f" ({r.confidence:.2f})"
        lines = [r.image, f"kind: {r.kind}", f"truth: {r.truth}", f"read:  {r.read or '-'}{conf}", f"edits: {r.edits}"]
        if r.error:
            lines.append(f"error: {r.error[-60:]}")
        a_txt.text(0.0, 0.5, "\n".join(lines), va="center", ha="left", family="monospace", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def confusion_counts(results: list[ImageResult]) -> np.ndarray:
    """11x11 counts, rows = true digit (or ∅ for an extra read char), cols = read digit (or ∅ = missed)."""
    idx = {s: i for i, s in enumerate(SYMBOLS)}
    m = np.zeros((len(SYMBOLS), len(SYMBOLS)), dtype=np.int64)
    for r in results:
        for t, p in align(r.truth, r.read or ""):
            if t in idx and p in idx:
                m[idx[t], idx[p]] += 1
    return m


def confusion_plot(results: list[ImageResult], path: Path, title: str) -> Path:
    m = confusion_counts(results)
    rates = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                off = i != j
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                        color="crimson" if off else ("white" if rates[i, j] > 0.5 else "black"),
                        fontweight="bold" if off else "normal")
    ax.set_xticks(range(len(SYMBOLS)), SYMBOLS)
    ax.set_yticks(range(len(SYMBOLS)), SYMBOLS)
    ax.set_xlabel("read (∅ = digit missed)")
    ax.set_ylabel("truth (∅ = extra digit read)")
    ax.set_title(f"{title}\nred = confusions; colour = share of the truth row")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def latency_plot(run: EvalRun, path: Path) -> Path:
    fig, (a_hist, a_stage) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    all_t = [r.timings_ms["total"] for res in run.results.values() for r in res if "total" in r.timings_ms]
    lo = max(min(all_t), 0.1) if all_t else 0.1
    hi = max(max(all_t) * 1.05, lo * 2) if all_t else 1.0  # sub-0.1 ms images (decode errors) must not flip the bins
    bins = np.logspace(np.log10(lo), np.log10(hi), 30) if all_t else 10
    width = 0.8 / max(1, len(run.results))
    series = 0
    for k, (name, res) in enumerate(run.results.items()):
        c = colours[k % len(colours)]
        for kind, hatch in (("scene", None), ("crop", "//")):  # scenes and crops differ by orders of magnitude
            t = np.array([r.timings_ms["total"] for r in res if "total" in r.timings_ms and r.kind == kind])
            if not t.size:
                continue
            cs = colours[series % len(colours)]
            series += 1
            a_hist.hist(t, bins=bins, alpha=0.55, color=cs, hatch=hatch,
                        label=f"{name} {kind}s: p50 {np.percentile(t, 50):.0f} ms, p95 {np.percentile(t, 95):.0f} ms")
            for q, ls in ((50, "-"), (95, "--")):
                a_hist.axvline(np.percentile(t, q), color=cs, ls=ls, lw=1)
        for s_i, stage in enumerate(STAGES):
            v = [r.timings_ms[stage] for r in res if stage in r.timings_ms]
            if v:
                x = s_i + (k - (len(run.results) - 1) / 2) * width
                a_stage.bar(x, np.percentile(v, 95), width * 0.9, color=c, alpha=0.35)
                a_stage.bar(x, np.percentile(v, 50), width * 0.9, color=c, label=name if s_i == 0 else None)
    if all_t:
        a_hist.set_xscale("log")
    a_hist.set_xlabel("latency per image, ms (log); solid p50, dashed p95")
    a_hist.set_ylabel("images")
    a_hist.set_title("total latency per image")
    a_hist.legend(fontsize=8)
    a_stage.set_xticks(range(len(STAGES)), STAGES)
    a_stage.set_ylabel("ms")
    a_stage.set_yscale("symlog", linthresh=1)
    a_stage.set_title("per stage, scenes and crops together: solid p50, pale p95")
    a_stage.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
