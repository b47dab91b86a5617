"""Train the CRNN plate OCR on the generator's rectified crops, checkpointing every epoch.

Reproduce the shipped weights (on a GPU machine: scripts/train_ocr_gpu.sh does all of it in ~5 min):
    plategen ocr --out data/ocr --n 250000 --seed 1
    plategen ocr --out data/ocr_val --n 4000 --seed 2
    python scripts/train_ocr.py --data data/ocr --val data/ocr_val --separators --width 24 --epochs 14 \
        --batch 256 --workers 4 --device auto
Re-running the same command resumes from runs/ocr/<name>/last.pt. `--real` only reports accuracy on
the real crops each epoch (it never trains on them and does not pick the checkpoint).
"""
from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from lpr.config import ALPHABET, OCR_PT, SEPARATOR
from lpr.crnn import CRNN, preprocess
from lpr.crnn import load as load_ocr
from lpr.ctc import ctc_greedy
from lpr.image_io import ImageLoadError, load_image
from lpr.plate_format import format_plate
from lpr.rectify import RECT_SIZE, crop_as_plate


def load_set(root: Path) -> tuple[np.ndarray, list[str]]:
    """All crops of a generated set as one uint8 array (N, H, W) in memory: 60k crops are 250 MB."""
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    w, h = RECT_SIZE
    x = np.empty((len(rows), h, w), np.uint8)
    for i, r in enumerate(rows):
        g = cv2.imread(str(root / "images" / r["image"]), cv2.IMREAD_GRAYSCALE)
        if g is None:
            raise ValueError(f"{root / 'images' / r['image']}: cannot decode")
        x[i] = cv2.resize(g, (w, h)) if g.shape != (h, w) else g
    return x, [r["plate"] for r in rows]


def load_real_crops(root: Path) -> tuple[list[np.ndarray], list[str]]:
    """The held-out half's crops of a real folder, for the per-epoch report only."""
    from lpr.evaluate import dev_halves, load_labels

    rows = load_labels(root)
    halves = dev_halves(rows)
    crops, texts = [], []
    for r in rows:
        if r.kind == "crop" and halves[r.image] == "held-out":
            try:
                crops.append(crop_as_plate(load_image(root / "images" / r.image)))
                texts.append(r.plate)
            except ImageLoadError as e:
                print(f"skip: {e}")
    return crops, texts


def real_train_crops(root: Path, copies: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """The fixed training half of a real folder's crops (`lpr.evaluate.dev_halves`), `copies` each.

    Every copy but the first goes through a random gate condition (dusk, IR, blur, codec, rain) before
    the reader's own `crop_as_plate`, so 18 real crops teach the real-camera look under every condition
    without being memorised as they are.
    """
    from lpr.evaluate import dev_halves, load_labels
    from plategen.conditions import random_condition

    rows = load_labels(root)
    halves = dev_halves(rows)
    rng = np.random.default_rng(seed)
    w, h = RECT_SIZE
    out, texts = [], []
    for r in rows:
        if r.kind != "crop" or halves[r.image] != "train":
            continue
        img = load_image(root / "images" / r.image)
        for k in range(copies):
            src = img if k == 0 or rng.random() < 0.3 else random_condition(img, rng)
            g = cv2.cvtColor(crop_as_plate(src), cv2.COLOR_BGR2GRAY)
            out.append(cv2.resize(g, (w, h)) if g.shape != (h, w) else g)
            texts.append(r.plate)
    print(f"real training half: {len(texts) // max(1, copies)} crops x {copies} copies", flush=True)
    return np.stack(out) if out else np.empty((0, h, w), np.uint8), texts


def augment(g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small shifts, zooms and blur on top of the generator's own variety (cheap, per sample)."""
    h, w = g.shape
    s = rng.uniform(0.92, 1.08)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.normal(0, 1.0), s)
    m[:, 2] += rng.normal(0, [2.0, 1.0])
    g = cv2.warpAffine(g, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.2:
        g = cv2.GaussianBlur(g, (3, 3), rng.uniform(0.3, 1.0))
    return g


class AugmentedCrops(torch.utils.data.Dataset):
    """The in-memory crops, augmented in loader workers so a GPU is not left waiting on one CPU core."""

    def __init__(self, x: np.ndarray, texts: list[str]):
        self.x, self.texts, self.rng = x, texts, None

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        if self.rng is None:  # each worker draws from its own stream, seeded by the loader's generator
            info = torch.utils.data.get_worker_info()
            self.rng = np.random.default_rng(info.seed if info else torch.initial_seed())
        return augment(self.x[i], self.rng), self.texts[i]


def collate(items: list[tuple[np.ndarray, str]]) -> tuple[torch.Tensor, list[str]]:
    return preprocess([g for g, _ in items]), [t for _, t in items]


def encode(texts: list[str], alphabet: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits -> CTC targets; with separators in the alphabet the plate's group gaps are targets too. A crop
    labelled "" (no Israeli plate: `plategen ocr --negatives`) is an empty target: all blanks."""
    if SEPARATOR in alphabet:
        texts = [format_plate(t).replace("-", SEPARATOR) if t else "" for t in texts]
    targets = torch.tensor([alphabet.index(c) + 1 for t in texts for c in t], dtype=torch.long)
    return targets, torch.tensor([len(t) for t in texts], dtype=torch.long)


@torch.inference_mode()
def accuracy(model: nn.Module, crops, texts, alphabet: str = ALPHABET, batch: int = 256) -> float:
    model.eval()
    device = next(model.parameters()).device
    ok = 0
    for i in range(0, len(crops), batch):
        probs = model(preprocess(list(crops[i : i + batch])).to(device)).softmax(-1).cpu().numpy()
        reads = (ctc_greedy(p, alphabet).text.replace(SEPARATOR, "") for p in probs)
        ok += sum(r == t for r, t in zip(reads, texts[i : i + batch]))
    model.train()
    return ok / max(1, len(texts))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", default=[Path("data/ocr")],
                    help="one or more generated sets (plategen ocr / reader-crops), trained on together")
    ap.add_argument("--val", type=Path, default=Path("data/ocr_val"))
    ap.add_argument("--real", type=Path, default=None, help="real-plates folder: report held-out crop accuracy only")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--width", type=int, default=16, help="CRNN channel width (16: ~180k parameters)")
    ap.add_argument("--out", type=Path, default=Path("runs/ocr/crnn"))
    ap.add_argument("--device", default="cpu", help="cpu, cuda, or auto (cuda when there is one)")
    ap.add_argument("--workers", type=int, default=0,
                    help="loader processes that augment crops (0: augment in the training loop, as on a 2-core box)")
    ap.add_argument("--separators", action="store_true", help="also learn the gaps between digit groups")
    ap.add_argument("--ship", type=Path, default=OCR_PT, help="where each epoch's weights are written")
    ap.add_argument("--real-train", type=Path, default=None,
                    help="real-plates folder: add the crops of its fixed training half (never the held-out half)")
    ap.add_argument("--real-copies", type=int, default=40, help="augmented copies of each real training crop")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from these shipped weights (fine-tune; same width and alphabet) instead of scratch")
    ap.add_argument("--distill", type=Path, default=None,
                    help="teacher weights (usually --init's): on crops with a plate the model is also pulled towards "
                         "the teacher's per-column posterior, so a fine-tune that teaches something new (--negatives "
                         "crops) keeps what the teacher reads")
    ap.add_argument("--distill-weight", type=float, default=1.0, help="weight of that KL term against the CTC loss")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (after checkpointing) past this budget")
    return ap.parse_args()


def load_data(args: argparse.Namespace):
    """(train crops, texts), (val crops, texts), (real held-out crops, texts) as the arguments ask."""
    sets = [load_set(d) for d in args.data]
    x, texts = np.concatenate([s[0] for s in sets]), [t for s in sets for t in s[1]]
    vx, vtexts = load_set(args.val)
    real = load_real_crops(args.real) if args.real else ([], [])
    if args.real_train:
        rx, rtexts = real_train_crops(args.real_train, args.real_copies, args.seed)
        x, texts = np.concatenate([x, rx]), texts + rtexts
    print(f"train {len(texts)}  val {len(vtexts)}  real crops {len(real[1])}", flush=True)
    return (x, texts), (vx, vtexts), real


def start_or_resume(args: argparse.Namespace, model: nn.Module, opt, sched, device, rng: np.random.Generator,
                    alphabet: str):
    """Resume from OUT/last.pt when it exists, else start from --init or scratch: (first epoch, rng)."""
    last = args.out / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        print(f"resumed from {last} at epoch {ck['epoch'] + 1}", flush=True)
        return ck["epoch"] + 1, ck["rng"]
    if args.init:
        shipped = shipped_ocr(args.init, alphabet)
        if shipped.features[0].out_channels != args.width:
            raise SystemExit(f"{args.init}: width {shipped.features[0].out_channels} differs from this run's "
                             f"--width {args.width}")
        model.load_state_dict(shipped.state_dict())
        print(f"fine-tuning from {args.init}", flush=True)
    return 0, rng


def train_epoch(model: nn.Module, batches_, opt, sched, ctc: nn.CTCLoss, alphabet: str, device, epoch: int,
                steps_per_epoch: int, t0: float, teacher: nn.Module | None = None,
                distill_weight: float = 1.0) -> float:
    """One pass over the training crops; returns the mean loss (CTC, plus the teacher's KL term with --distill)."""
    model.train()
    tot, n = 0.0, 0
    for step, (inputs, batch_texts) in enumerate(batches_):
        x = inputs.to(device, non_blocking=True)
        logits = model(x)  # (B, T, C)
        logp = logits.log_softmax(-1).transpose(0, 1)  # (T, B, C) for CTCLoss
        targets, tlen = encode(batch_texts, alphabet)
        per = ctc(logp, targets.to(device), torch.full((len(batch_texts),), logp.shape[0], dtype=torch.long), tlen)
        # CTCLoss's "mean" divides each crop's loss by its target length, but by 1 for an empty target: a crop with
        # no plate then weighed ~30 plates (all-blank over 32 columns) and a fine-tune with 8 % such crops fell
        # from 84 % to 25 % on validation in an epoch. Those are divided by the columns instead.
        loss = (per / torch.where(tlen > 0, tlen, logp.shape[0]).to(per)).mean()
        if teacher is not None:
            loss = loss + distill_weight * distill_loss(teacher, x, logits, tlen.to(device))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        tot, n = tot + loss.item(), n + 1
        if step % 50 == 0:
            print(f"epoch {epoch} step {step}/{steps_per_epoch} loss {tot / n:.4f} "
                  f"({(time.time() - t0) / 60:.1f} min)", flush=True)
    return tot / max(n, 1)


def distill_loss(teacher: nn.Module, inputs: torch.Tensor, logits: torch.Tensor, tlen: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) per column, averaged over the columns and over the crops that hold a plate.

    Crops labelled "" (no plate) are left to the CTC loss: there the teacher reads digits, which is what the
    fine-tune unlearns."""
    with torch.no_grad():
        t = teacher(inputs).log_softmax(-1)
    kl = (t.exp() * (t - logits.log_softmax(-1))).sum(-1).mean(-1)  # (B,)
    plate = (tlen > 0).to(kl)
    return (kl * plate).sum() / plate.sum().clamp(min=1.0)


def shipped_ocr(path: Path, alphabet: str) -> CRNN:
    """A shipped OCR (`lpr.crnn.load`, eval mode, on the CPU) whose classes are this run's, for --init or --distill."""
    model, saved = load_ocr(path)
    if saved != alphabet:
        raise SystemExit(f"{path}: alphabet {saved!r} differs from this run's {alphabet!r}")
    return model


def save_checkpoint(args: argparse.Namespace, model: nn.Module, opt, sched, epoch: int, rng, val_acc: float) -> None:
    ck = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": epoch,
          "rng": rng, "args": vars(args), "val_acc": val_acc}
    torch.save(ck, args.out / "last.pt.tmp")
    (args.out / "last.pt.tmp").replace(args.out / "last.pt")  # a crash never leaves a half-written checkpoint


def main() -> None:
    args = parse_args()
    if args.distill and args.distill.resolve() == args.ship.resolve():
        # each epoch writes --ship: after a resume the teacher would be the student
        raise SystemExit(f"--distill {args.distill}: the same file as --ship; ship the fine-tune elsewhere")
    torch.set_num_threads(args.threads)
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(auto if args.device == "auto" else args.device)
    torch.manual_seed(args.seed)
    (x, texts), (vx, vtexts), real = load_data(args)

    alphabet = ALPHABET + (SEPARATOR if args.separators else "")
    arch = {"width": args.width, "n_classes": len(alphabet) + 1}
    model = CRNN(**arch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(texts) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True, reduction="none")
    args.out.mkdir(parents=True, exist_ok=True)
    start_epoch, rng = start_or_resume(args, model, opt, sched, device, np.random.default_rng(args.seed),
                                        alphabet)
    teacher = None
    if args.distill:
        teacher = shipped_ocr(args.distill, alphabet).to(device).requires_grad_(False)  # any width

    t0 = time.time()
    for epoch in range(start_epoch, args.epochs):
        loss = train_epoch(model, batches(x, texts, args, rng, epoch), opt, sched, ctc, alphabet, device, epoch,
                           steps_per_epoch, t0, teacher, args.distill_weight)
        val_acc = accuracy(model, list(vx), vtexts, alphabet)
        real_acc = accuracy(model, real[0], real[1], alphabet) if real[1] else float("nan")
        print(f"== epoch {epoch} loss {loss:.4f} synthetic-val exact {val_acc:.4f} "
              f"real-crops exact {real_acc:.4f}", flush=True)
        save_checkpoint(args, model, opt, sched, epoch, rng, val_acc)
        ship(model, args.ship, arch, alphabet,
             {"epoch": epoch, "synthetic_val_exact": val_acc, "real_crops_exact": real_acc})
        if args.max_minutes and (time.time() - t0) / 60 > args.max_minutes:
            print("time budget reached; re-run the same command to resume", flush=True)
            break


def batches(x: np.ndarray, texts: list[str], args, rng: np.random.Generator, epoch: int):
    """One epoch of (inputs, texts): in this process with `rng` when --workers is 0, else from loader workers."""
    if args.workers == 0:
        order = rng.permutation(len(texts))
        for step in range(math.ceil(len(texts) / args.batch)):
            idx = order[step * args.batch : (step + 1) * args.batch]
            yield preprocess([augment(x[i], rng) for i in idx]), [texts[i] for i in idx]
        return
    gen = torch.Generator().manual_seed(args.seed * 1000 + epoch)
    yield from torch.utils.data.DataLoader(AugmentedCrops(x, texts), batch_size=args.batch, shuffle=True,
                                           num_workers=args.workers, collate_fn=collate, generator=gen,
                                           pin_memory=torch.cuda.is_available())


def ship(model: nn.Module, path: Path, arch: dict, alphabet: str, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    weights = {k: v.cpu() for k, v in model.state_dict().items()}  # loadable on a machine without a GPU
    torch.save({"model": weights, "arch": arch, "alphabet": alphabet, "meta": meta}, tmp)
    tmp.replace(path)


if __name__ == "__main__":
    main()
