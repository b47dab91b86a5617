"""CTC greedy decoding, the CRNN's shapes, and Israeli plate format rules."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lpr.ctc import BLANK, ctc_constrained, ctc_greedy, decode_plate
from lpr.plate_format import PlateFormatError, format_plate, is_valid_plate, normalize_plate
from lpr.rectify import RECT_SIZE


def _probs(seq: list[int], n_classes: int = 11, p: float = 0.9) -> np.ndarray:
    out = np.full((len(seq), n_classes), (1 - p) / (n_classes - 1), np.float32)
    out[np.arange(len(seq)), seq] = p
    return out


def test_ctc_collapses_repeats_and_drops_blanks():
    # "1", "1", blank, "1", "2" -> "112"  (class k+1 is digit k)
    r = ctc_greedy(_probs([2, 2, BLANK, 2, 3, BLANK]))
    assert r.text == "112"
    assert len(r.char_conf) == 3


def test_ctc_char_confidence_is_the_best_frame_of_each_character():
    probs = _probs([5, 5, BLANK])
    probs[1, 5] = 0.99
    r = ctc_greedy(probs)
    assert r.text == "4" and r.char_conf == (pytest.approx(0.99),)


def test_ctc_on_all_blank_reads_nothing():
    r = ctc_greedy(_probs([BLANK] * 8))
    assert r.text == "" and r.confidence == 0.0


SEP_ALPHABET = "0123456789-"


def _cls(c: str, alphabet: str = SEP_ALPHABET) -> int:
    return alphabet.index(c) + 1


def test_a_digit_invented_out_of_the_il_strip_is_dropped_to_fit_a_layout():
    # greedy reads 1-52080601 (9 digits); the leading "1" is the least sure frame
    seq = [2, BLANK] + [_cls(c, "0123456789") for c in "52080601" for _ in (0,)] + [BLANK] * 14
    probs = _probs(seq)
    probs[0, 2], probs[0, BLANK] = 0.5, 0.45
    assert ctc_greedy(probs).text == "152080601"
    r = decode_plate(probs)
    assert r.text == "52080601" and len(r.char_conf) == 8


def test_separators_tell_a_7_digit_plate_from_an_8_digit_misread():
    # 73-786-68 with a faint "9" after the last group: 8 digits, but not in the 3-2-3 shape
    seq = [_cls(c) for c in "73-786-689"] + [BLANK] * 22
    probs = _probs(seq, n_classes=12)
    probs[9, _cls("9")], probs[9, BLANK] = 0.4, 0.35
    assert ctc_greedy(probs, SEP_ALPHABET).text == "73-786-689"
    r = decode_plate(probs, SEP_ALPHABET)
    assert r.text == "7378668" and len(r.char_conf) == 7


def test_a_read_that_fits_a_layout_is_kept_as_read():
    probs = _probs([_cls(c) for c in "12-345-67"] + [BLANK] * 23, n_classes=12)
    assert decode_plate(probs, SEP_ALPHABET).text == "1234567"


def test_a_read_far_from_any_layout_is_left_for_the_format_check_to_flag():
    r = decode_plate(_probs([2, BLANK, 3, BLANK, 4, BLANK] + [BLANK] * 26))
    assert r.text == "123" and not is_valid_plate(r.text)


def _brute_force(probs: np.ndarray, length: int) -> tuple[float, str]:
    best = (-np.inf, "")
    for path in itertools.product(range(probs.shape[1]), repeat=len(probs)):
        text, prev = [], BLANK
        for k in path:
            if k != BLANK and k != prev:
                text.append(str(k - 1))
            prev = k
        if len(text) == length:
            lp = float(sum(np.log(probs[t, k]) for t, k in enumerate(path)))
            best = max(best, (lp, "".join(text)))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_layout_decoding_finds_the_most_probable_path_of_that_length(seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(4, 0.5), size=6)  # blank and the digits 0, 1, 2 over six frames
    score, text = _brute_force(probs, 3)
    padded = np.hstack([probs, np.full((6, 7), 1e-12)])
    r, s = ctc_constrained(padded / padded.sum(1, keepdims=True), "DDD")
    assert r.text == text and s == pytest.approx(score, abs=1e-6)


def test_crnn_gives_one_frame_per_four_columns_and_no_nan():
    torch = pytest.importorskip("torch", reason="the network needs the train extra")
    from lpr.crnn import CRNN, preprocess

    m = CRNN().eval()
    crops = [np.random.default_rng(0).integers(0, 255, (RECT_SIZE[1], RECT_SIZE[0], 3), dtype=np.uint8)] * 2
    with torch.inference_mode():
        out = m(preprocess(crops))
    assert out.shape == (2, RECT_SIZE[0] // 4, 11)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("raw,digits", [("12-345-67", "1234567"), ("123-45-678", "12345678"), (" 1234567 ", "1234567")])
def test_plates_are_accepted_with_or_without_dashes(raw, digits):
    assert normalize_plate(raw) == digits
    assert is_valid_plate(digits)


@pytest.mark.parametrize("raw", ["123456", "123456789", "12a4567", "", "--"])
def test_non_plates_are_rejected_with_the_value_named(raw):
    with pytest.raises(PlateFormatError, match="expected 7 or 8 digits"):
        normalize_plate(raw)


def test_plates_are_formatted_in_the_israeli_layouts():
    assert format_plate("1234567") == "12-345-67"
    assert format_plate("12345678") == "123-45-678"
