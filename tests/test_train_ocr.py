"""The OCR trainer's distillation term: what keeps a fine-tune reading what its teacher read."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="training needs the train extra")

from lpr.crnn import CRNN  # noqa: E402

_spec = importlib.util.spec_from_file_location("train_ocr", Path(__file__).parents[1] / "scripts" / "train_ocr.py")
train_ocr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_ocr)


def _model(seed: int) -> CRNN:
    torch.manual_seed(seed)
    return CRNN(n_classes=12, width=8).eval()


def test_a_student_equal_to_its_teacher_pays_nothing():
    teacher, x = _model(1), torch.rand(3, 1, 32, 128)
    loss = train_ocr.distill_loss(teacher, x, teacher(x), torch.tensor([7, 8, 7]))
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def _reads_ones(logits: torch.Tensor) -> torch.Tensor:
    """The same logits, but every column sure of the digit 1."""
    shifted = logits.detach().clone()
    shifted[..., 2] += 10.0
    return shifted


def test_a_student_that_reads_otherwise_is_pulled_back():
    teacher, x = _model(1), torch.rand(3, 1, 32, 128)
    assert train_ocr.distill_loss(teacher, x, _reads_ones(teacher(x)), torch.tensor([7, 8, 7])).item() > 1.0


def test_crops_without_a_plate_are_left_to_the_ctc_loss():
    teacher, x = _model(1), torch.rand(2, 1, 32, 128)
    with torch.no_grad():
        same = teacher(x)
    logits = torch.cat([same[:1], _reads_ones(same[1:])])  # the second crop is read otherwise, but holds no plate
    assert train_ocr.distill_loss(teacher, x, logits, torch.tensor([7, 0])).item() == pytest.approx(0.0, abs=1e-6)
    assert train_ocr.distill_loss(teacher, x, _reads_ones(same), torch.tensor([0, 0])).item() == 0.0


def _write_set(root: Path, labels: list[str]) -> Path:
    import csv

    import cv2
    import numpy as np

    (root / "images").mkdir(parents=True)
    with open(root / "labels.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["image", "plate"])
        for i, label in enumerate(labels):
            cv2.imwrite(str(root / "images" / f"{i}.png"), np.full((32, 128), 40 * i, np.uint8))
            wr.writerow([f"{i}.png", label])
    return root


def test_several_generated_sets_are_trained_on_together(tmp_path, monkeypatch):
    a = _write_set(tmp_path / "ocr", ["1234567", "12345678"])
    b = _write_set(tmp_path / "reader", [""])
    monkeypatch.setattr("sys.argv", ["train_ocr.py", "--data", str(a), str(b), "--val", str(b)])
    args = train_ocr.parse_args()
    (x, texts), (vx, vtexts), _ = train_ocr.load_data(args)
    assert texts == ["1234567", "12345678", ""] and x.shape == (3, 32, 128)
    assert vtexts == [""]
