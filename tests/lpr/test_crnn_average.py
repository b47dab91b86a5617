"""Averaging OCR checkpoints: the mean of their weights, refused across architectures."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="averaging checkpoints needs the train extra")

from lpr.crnn import CRNN, average_checkpoints, load  # noqa: E402


def _checkpoint(path, seed: int, width: int = 8, alphabet: str = "0123456789-"):
    torch.manual_seed(seed)
    model = CRNN(n_classes=len(alphabet) + 1, width=width)
    torch.save({"model": model.state_dict(), "arch": {"width": width, "n_classes": len(alphabet) + 1},
                "alphabet": alphabet, "meta": {}}, path)
    return model.state_dict()


def test_average_is_the_mean_of_the_weights(tmp_path):
    a, b = _checkpoint(tmp_path / "a.pt", 1), _checkpoint(tmp_path / "b.pt", 2)
    model, alphabet = load(average_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "avg.pt"))
    got = model.state_dict()
    key = "features.0.weight"
    assert torch.allclose(got[key], (a[key] + b[key]) / 2)
    assert not torch.equal(got[key], a[key])
    assert alphabet == "0123456789-"


def test_checkpoints_of_different_widths_are_refused(tmp_path):
    _checkpoint(tmp_path / "a.pt", 1, width=8)
    _checkpoint(tmp_path / "b.pt", 2, width=16)
    with pytest.raises(ValueError, match="b.pt: arch"):
        average_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "avg.pt")


def test_one_checkpoint_is_not_an_average(tmp_path):
    _checkpoint(tmp_path / "a.pt", 1)
    with pytest.raises(ValueError, match="two or more"):
        average_checkpoints([tmp_path / "a.pt"], tmp_path / "avg.pt")
