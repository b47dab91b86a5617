"""The detector trainer's weight average: what ships a fine-tune averaged with the weights it started from."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="training needs the train extra")
pytest.importorskip("ultralytics", reason="training needs the train extra")

from lpr.config import ultralytics_offline  # noqa: E402

SCRIPTS = Path(__file__).parents[1] / "scripts"
_spec = importlib.util.spec_from_file_location("train_detector", SCRIPTS / "train_detector.py")
train_detector = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_detector)


def _checkpoint(path: Path, seed: int, yaml: str = "plate-pose.yaml"):
    ultralytics_offline()
    from ultralytics.nn.tasks import PoseModel

    torch.manual_seed(seed)
    model = PoseModel(str(SCRIPTS / yaml), verbose=False)
    for m in model.modules():  # BN statistics differ between the two, as a fine-tune's do
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
    torch.save({"model": model, "train_args": {"seed": seed}}, path)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_the_shipped_average_is_the_mean_of_both_weights_and_batch_statistics(tmp_path):
    a, b = _checkpoint(tmp_path / "start.pt", 1), _checkpoint(tmp_path / "tuned.pt", 2)
    train_detector.average_checkpoints(tmp_path / "start.pt", tmp_path / "tuned.pt", tmp_path / "avg.pt")
    got = torch.load(tmp_path / "avg.pt", map_location="cpu", weights_only=False)
    state = got["model"].state_dict()
    conv = next(k for k in state if k.endswith("conv.weight"))
    mean = next(k for k in state if k.endswith("running_mean"))
    for key in (conv, mean):
        assert torch.allclose(state[key], (a[key] + b[key]) / 2)
        assert not torch.equal(state[key], a[key])
    counts = next(k for k in state if k.endswith("num_batches_tracked"))
    assert torch.equal(state[counts], a[counts])  # integers are kept, not averaged
    assert got["train_args"] == {"seed": 1}  # the start's metadata


def test_weights_of_another_architecture_are_refused(tmp_path):
    _checkpoint(tmp_path / "start.pt", 1)
    ultralytics_offline()
    from ultralytics.nn.tasks import PoseModel

    other = PoseModel(str(SCRIPTS / "plate-pose.yaml"), nc=2, verbose=False)
    torch.save({"model": other}, tmp_path / "other.pt")
    with pytest.raises(SystemExit, match="start.pt: not the architecture of .*other.pt"):
        train_detector.average_checkpoints(tmp_path / "start.pt", tmp_path / "other.pt", tmp_path / "avg.pt")
