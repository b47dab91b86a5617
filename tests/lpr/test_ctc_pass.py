"""Decoding a whole pass: CTC likelihoods over all alignments, frames weighed by what they can see."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lpr.ctc import BLANK, ctc_log_likelihood, ctc_log_likelihoods, decode_pass, labels_for
from lpr.types import CtcPosterior

ALPHA = "0123456789-"


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out = [k for i, k in enumerate(path) if k != BLANK and (i == 0 or path[i - 1] != k)]
    return tuple(out)


@pytest.mark.parametrize("labels", [(1,), (1, 1), (2, 3), (3, 3, 2)])
def test_forward_likelihood_equals_the_sum_over_every_alignment(labels):
    rng = np.random.default_rng(len(labels))
    T, C = 5, 4
    probs = rng.dirichlet(np.ones(C), T)
    brute = sum(np.prod([probs[t, k] for t, k in enumerate(p)])
                for p in itertools.product(range(C), repeat=T) if _collapse(p) == labels)
    assert ctc_log_likelihood(probs, labels) == pytest.approx(np.log(brute), rel=1e-6)


def test_the_batched_likelihoods_equal_one_at_a_time_for_any_lengths_and_repeats():
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(12) * 0.3, 32)
    seqs = [list(rng.integers(1, 12, n)) for n in (1, 7, 9, 15)] + [[3] * 20, [5] * 40, [2, 2, 11, 2]]
    batched = ctc_log_likelihoods(probs, seqs)
    one = np.array([ctc_log_likelihood(probs, s) for s in seqs])
    assert np.array_equal(np.isfinite(batched), np.isfinite(one)) and np.isneginf(batched[5])
    assert batched[np.isfinite(one)] == pytest.approx(one[np.isfinite(one)], rel=1e-9)


def _posterior(plate: str, sharpness: float, rng: np.random.Generator, T: int = 32) -> CtcPosterior:
    """A frame reading `plate`: each label on two columns, blanks between; low sharpness flattens it."""
    labels = labels_for(plate, ALPHA)
    logits = np.zeros((T, len(ALPHA) + 1))
    logits[:, BLANK] = 2.0
    for i, k in enumerate(labels):
        logits[2 + 2 * i : 4 + 2 * i, k] += 6.0
    logits = logits * sharpness + rng.normal(0, 0.1, logits.shape)
    p = np.exp(logits - logits.max(1, keepdims=True))
    return CtcPosterior(p / p.sum(1, keepdims=True), ALPHA)


def test_one_sharp_frame_outvotes_five_blurred_ones():
    rng = np.random.default_rng(0)
    blurred = [_posterior("1234567", 0.25, rng) for _ in range(5)]  # a smeared digit, read 3 for 8
    sharp = _posterior("1284567", 1.0, rng)
    posts = blurred + [sharp]
    weights = [0.2] * 5 + [1.0]
    text, share = decode_pass(posts, weights, ["1234567", "1284567"])
    assert text == "1284567" and share > 0.9
    # a plain majority of texts would have chosen the blurred frames' reading
    assert max({"1234567": 5, "1284567": 1}.items(), key=lambda kv: kv[1])[0] == "1234567"


def test_equal_frames_that_disagree_leave_the_pass_unsure():
    rng = np.random.default_rng(1)
    posts = [_posterior("1234567", 1.0, rng), _posterior("1234587", 1.0, rng)]
    text, share = decode_pass(posts, [1.0, 1.0], ["1234567", "1234587"])
    assert text in {"1234567", "1234587"} and share < 0.8


def test_candidates_that_are_not_plates_are_never_returned():
    rng = np.random.default_rng(2)
    assert decode_pass([_posterior("1234567", 1.0, rng)], [1.0], ["123", "12a4567"]) == ("", 0.0)
