"""CTC decoding in NumPy alone (no torch): one plate's read, and one read over a whole pass of frames.

Greedy decoding keeps, per character, the best probability of the frames that voted for it: the gate
uses those to match misreads. When the greedy read does not fit an Israeli layout (a digit invented out
of the IL strip or the frame, a separator missed), the best CTC path that does fit one is decoded
instead (Viterbi over the layout as a template of "any digit" and separator slots).

Over a pass, every frame's posterior scores every candidate plate by its full CTC likelihood (all
alignments, the forward algorithm), weighted by the frame's quality: a sharp, large frame is peaked and
decides, a blurred one is flat and barely moves the sum, so one sharp frame outvotes five blurred ones.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from lpr.config import ALPHABET, SEPARATOR
from lpr.plate_format import LAYOUTS, format_plate, is_valid_plate
from lpr.types import CtcPosterior, OcrResult

BLANK = 0  # CTC blank; class k+1 is ALPHABET[k]


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
    logp = _log(probs)
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


def labels_for(plate: str, alphabet: str = ALPHABET) -> list[int]:
    """A plate's digits as the class sequence a model with this alphabet emits (separators included)."""
    text = format_plate(plate).replace("-", SEPARATOR) if SEPARATOR in alphabet and is_valid_plate(plate) else plate
    return [alphabet.index(c) + 1 for c in text]


def ctc_log_likelihood(probs: np.ndarray, labels: Sequence[int]) -> float:
    """log P(labels | probs) summed over every CTC alignment (the forward algorithm, in log space)."""
    return float(ctc_log_likelihoods(probs, [labels])[0])


def ctc_log_likelihoods(probs: np.ndarray, label_seqs: Sequence[Sequence[int]]) -> np.ndarray:
    """`ctc_log_likelihood` of many label sequences on one frame at once (see `_forward_rows`)."""
    logp = _log(probs)
    return _forward_rows([(logp, seq) for seq in label_seqs])


def _log(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probs, 1e-12, 1.0))


def _forward_rows(rows: Sequence[tuple[np.ndarray, Sequence[int]]]) -> np.ndarray:
    """log P(labels | frame) for many (frame's log-probabilities (T, C), labels) rows in one forward recursion.

    The recursion runs on a (rows x slots) array, so a pass's every frame and candidate plate cost about what
    one pair did in a Python loop over the columns. The tracker's feed on the frames with plates of a 300-car clip
    (calibration daylight, 2,448 frames, quiet box, three runs each): p50 0.6-1.1 ms, p95 1.4-1.8 ms, max 4-5 ms;
    one pair at a time it was 1.5-1.6, 8.4-10.0 and 25-30 ms. Frames of different lengths T are run apart.
    """
    out = np.full(len(rows), -np.inf)
    by_t: dict[int, list[int]] = {}
    for i, (logp, _) in enumerate(rows):
        by_t.setdefault(logp.shape[0], []).append(i)
    for T, idx in by_t.items():
        lens = np.array([len(rows[i][1]) for i in idx])
        S = 2 * int(lens.max()) + 1
        ext = np.full((len(idx), S), BLANK)
        for k, i in enumerate(idx):
            ext[k, 1 : 2 * lens[k] : 2] = rows[i][1]
        # a label may follow the label two slots back when they differ; slots past a row's end never flow back
        skip = np.zeros_like(ext, bool)
        skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
        lp = np.stack([rows[i][0][:, ext[k]] for k, i in enumerate(idx)], 1)  # (T, rows, S)
        alpha = np.full(ext.shape, -np.inf)
        alpha[:, 0], alpha[:, 1] = lp[0, :, 0], lp[0, :, 1]
        neg = np.full((len(idx), 2), -np.inf)
        for t in range(1, T):
            prev1 = np.concatenate([neg[:, :1], alpha[:, :-1]], 1)
            prev2 = np.where(skip, np.concatenate([neg, alpha[:, :-2]], 1), -np.inf)
            alpha = np.logaddexp(np.logaddexp(alpha, prev1), prev2) + lp[t]
        k = np.arange(len(idx))
        ll = np.logaddexp(alpha[k, 2 * lens], alpha[k, 2 * lens - 1])
        out[idx] = np.where((lens <= T) & (lens > 0), ll, -np.inf)
    return out


def plate_log_likelihoods(posteriors: Sequence[CtcPosterior], plates: Sequence[str]) -> np.ndarray:
    """log P(plate | frame) for every frame and plate, (frames, plates); each pair is computed once and kept on its
    posterior (the gate re-decodes a pass at every new frame), the missing pairs in one forward recursion."""
    missing = [(post, p) for post in posteriors for p in dict.fromkeys(plates) if p not in post.likelihoods]
    if missing:
        logs = {id(post): _log(post.probs) for post, _ in missing}
        lls = _forward_rows([(logs[id(post)], labels_for(p, post.alphabet)) for post, p in missing])
        for (post, p), ll in zip(missing, lls):
            post.likelihoods[p] = float(ll)
    return np.array([[post.likelihoods[p] for p in plates] for post in posteriors]).reshape(len(posteriors), -1)


def decode_pass(posteriors: Sequence[CtcPosterior], weights: Sequence[float], candidates: Sequence[str]
                ) -> tuple[str, float]:
    """The candidate plate best supported by all frames of a pass, and its share of the evidence (0-1).

    score(c) = sum over frames of weight * log P(c | frame); the share is the softmax of the scores over
    the candidates, so it says how clearly the winner beat the runner-up, not how sure any one frame was.
    """
    plates = sorted({c for c in candidates if is_valid_plate(c)})
    if not plates or not posteriors:
        return "", 0.0
    ll = plate_log_likelihoods(posteriors, plates)  # (frames, plates)
    # one frame that cannot spell a candidate does not veto it
    scores = (np.asarray(weights, float)[:, None] * np.maximum(ll, -50.0)).sum(0)
    share = np.exp(scores - scores.max())
    share /= share.sum()
    best = int(np.argmax(scores))
    return plates[best], float(share[best])
