"""Stage 3: a small CRNN with CTC that reads the digits of a rectified plate (grayscale, 32x128).

Conv features collapse the height to one row of 32 columns, a 1-D conv head widens each column's
view to its neighbours (an LSTM read the same but cost twice the CPU time at batch 1) and CTC needs
no per-digit boxes. Greedy decoding keeps, per character, the best probability of the
frames that voted for it: the gate uses those to match misreads.

When the greedy read does not fit an Israeli layout (a digit invented out of the IL strip or the
frame, a separator missed), the best CTC path that does fit one is decoded instead (Viterbi over the
layout as a template of "any digit" and separator slots). Weights trained with separators read the
group gaps too, so a 7-digit plate with an extra digit at its edge no longer passes as 8 digits.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from lpr.config import ALPHABET, OCR_PT, SEPARATOR
from lpr.plate_format import LAYOUTS
from lpr.rectify import RECT_SIZE
from lpr.types import OcrResult

BLANK = 0  # CTC blank; class k+1 is ALPHABET[k]


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class CRNN(nn.Module):
    def __init__(self, n_classes: int = len(ALPHABET) + 1, height: int = RECT_SIZE[1], width: int = 16,
                 hidden: int = 128):
        super().__init__()
        c1, c2, c3, c4 = width, 2 * width, 4 * width, 6 * width
        self.features = nn.Sequential(
            *_block(1, c1), nn.MaxPool2d(2),  # (B, c1, H/2, W/2)
            *_block(c1, c2), nn.MaxPool2d(2),  # (B, c2, H/4, W/4)
            *_block(c2, c3), nn.MaxPool2d((2, 1)),  # (B, c3, H/8, W/4)
            *_block(c3, c4),
            nn.Conv2d(c4, c4, (height // 8, 1), bias=False), nn.BatchNorm2d(c4), nn.ReLU(inplace=True),  # H -> 1
        )
        self.head = nn.Sequential(
            nn.Conv1d(c4, hidden, 5, padding=2, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Conv1d(hidden, n_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).squeeze(2)  # (B, C, T=W/4)
        return self.head(f).transpose(1, 2)  # (B, T, n_classes) logits


def preprocess(crops: list[np.ndarray]) -> torch.Tensor:
    """BGR or grey crops -> (B, 1, H, W) float, each crop contrast-normalised (plates range from glare to night)."""
    w, h = RECT_SIZE
    out = np.empty((len(crops), 1, h, w), np.float32)
    for i, c in enumerate(crops):
        g = cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) if c.ndim == 3 else c
        if g.shape != (h, w):
            g = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA if g.shape[1] > w else cv2.INTER_LINEAR)
        g = g.astype(np.float32)
        out[i, 0] = (g - g.mean()) / (g.std() + 8.0)
    return torch.from_numpy(out)


def ctc_greedy(probs: np.ndarray, alphabet: str = ALPHABET) -> OcrResult:
    """(T, C) softmax -> text and per-character confidence (max prob over the frames of that character)."""
    best = probs.argmax(1)
    prev = np.r_[BLANK, best[:-1]]
    return _spell(probs, [(t, k, k != prev[t]) for t, k in enumerate(best) if k != BLANK], alphabet)


def _spell(probs: np.ndarray, frames: list[tuple[int, int, bool]], alphabet: str) -> OcrResult:
    """A path's label frames (frame, class, starts a new character) -> text and per-character confidence."""
    text, conf = [], []
    for t, k, new in frames:
        if new:
            text.append(alphabet[k - 1])
            conf.append(float(probs[t, k]))
        else:
            conf[-1] = max(conf[-1], float(probs[t, k]))
    return OcrResult("".join(text), tuple(conf))


@lru_cache(maxsize=None)
def layout_templates(alphabet: str = ALPHABET) -> tuple[str, ...]:
    """The shapes a read may take: 'D' is any digit; separators only where the alphabet has them."""
    sep = SEPARATOR if SEPARATOR in alphabet else ""
    return tuple(sep.join("D" * g for g in groups) for groups in LAYOUTS.values())


def ctc_constrained(probs: np.ndarray, template: str, alphabet: str = ALPHABET) -> tuple[OcrResult, float]:
    """Best CTC path whose labels spell `template` ('D' = any digit): (read, path log-probability).

    Viterbi over the usual extended sequence blank, l1, blank, l2, ..., blank, with the digit at each
    'D' slot free; two equal labels in a row need a blank between them, as in CTC itself.
    """
    T, C = probs.shape
    if T < len(template):
        return OcrResult("", ()), -np.inf
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    digits = np.array([alphabet.index(c) + 1 for c in "0123456789"])
    allowed = np.zeros((2 * len(template) + 1, C), bool)
    allowed[0::2, BLANK] = True
    for i, tok in enumerate(template):
        allowed[2 * i + 1, digits if tok == "D" else alphabet.index(tok) + 1] = True
    S = len(allowed)
    V = np.full((S, C), -np.inf)
    V[0, BLANK] = logp[0, BLANK]
    V[1, allowed[1]] = logp[0, allowed[1]]
    back = np.zeros((T, S, C, 2), np.int16)  # (previous slot, previous class)
    slots = np.arange(S)
    label = (slots % 2 == 1) & (slots >= 3)  # slots that may be reached by skipping a blank
    for t in range(1, T):
        best, arg_s, arg_k = V.copy(), np.repeat(slots[:, None], C, 1), np.tile(np.arange(C), (S, 1))  # stay
        k1 = V.argmax(1)  # from the slot before: its best class
        v1 = np.r_[-np.inf, V[slots[:-1], k1[:-1]]][:, None]
        better = v1 > best
        best = np.where(better, v1, best)
        arg_s = np.where(better, slots[:, None] - 1, arg_s)
        arg_k = np.where(better, np.r_[0, k1[:-1]][:, None], arg_k)
        # skip the blank between two labels: the best class of slot s-2 unless it equals this one
        prev = np.vstack([np.full((2, C), -np.inf), V[:-2]])
        order = np.argsort(-prev, 1)
        top1, top2 = order[:, 0], order[:, 1]
        kk = np.where(np.arange(C)[None, :] == top1[:, None], top2[:, None], top1[:, None])
        v2 = np.take_along_axis(prev, kk, 1)
        better = label[:, None] & (v2 > best)
        best = np.where(better, v2, best)
        arg_s = np.where(better, slots[:, None] - 2, arg_s)
        arg_k = np.where(better, kk, arg_k)
        V = np.where(allowed, best + logp[t], -np.inf)
        back[t, ..., 0], back[t, ..., 1] = arg_s, arg_k
    ends = [(V[S - 1, BLANK], S - 1, BLANK), (V[S - 2].max(), S - 2, int(np.argmax(V[S - 2])))]
    score, s, k = max(ends, key=lambda e: e[0])
    if not np.isfinite(score):
        return OcrResult("", ()), -np.inf
    path = [(s, k)]
    for t in range(T - 1, 0, -1):
        s, k = back[t, s, k]
        path.append((int(s), int(k)))
    path.reverse()
    frames = [(t, k, t == 0 or path[t - 1][0] != s) for t, (s, k) in enumerate(path) if s % 2 == 1]
    return _spell(probs, frames, alphabet), float(score)


def decode_plate(probs: np.ndarray, alphabet: str = ALPHABET) -> OcrResult:
    """Greedy read when it fits a layout, else the best layout-shaped path; digits only in the result."""
    raw = ctc_greedy(probs, alphabet)
    shape = "".join("D" if c.isdigit() else c for c in raw.text)
    templates = layout_templates(alphabet)
    n_digits = sum(c.isdigit() for c in raw.text)
    if shape not in templates and min(LAYOUTS) - 1 <= n_digits <= max(LAYOUTS) + 1:
        raw = max((ctc_constrained(probs, tpl, alphabet) for tpl in templates), key=lambda r: r[1])[0]
    keep = [i for i, c in enumerate(raw.text) if c.isdigit()]
    return OcrResult("".join(raw.text[i] for i in keep), tuple(raw.char_conf[i] for i in keep))


class CrnnOcr:
    """Inference wrapper: load weights once, read batches of rectified crops."""

    def __init__(self, weights: str | Path = OCR_PT, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        ckpt = torch.load(str(weights), map_location="cpu", weights_only=True)
        self.alphabet = ckpt.get("alphabet", ALPHABET)
        self.model = CRNN(**{"n_classes": len(self.alphabet) + 1, **ckpt.get("arch", {})})
        self.model.load_state_dict(ckpt["model"])
        self.model.eval()

    @torch.inference_mode()
    def read(self, crops: list[np.ndarray]) -> list[OcrResult]:
        if not crops:
            return []
        probs = self.model(preprocess(crops)).softmax(-1).numpy()
        return [decode_plate(p, self.alphabet) for p in probs]
