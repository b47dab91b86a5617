"""CTC greedy decoding, the CRNN's shapes, and Israeli plate format rules."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lpr.ocr import BLANK, CRNN, ctc_greedy, preprocess
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


def test_crnn_gives_one_frame_per_four_columns_and_no_nan():
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
