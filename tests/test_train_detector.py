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


def _model(seed: int, nc: int = 1):
    ultralytics_offline()
    from ultralytics.nn.tasks import PoseModel

    torch.manual_seed(seed)
    model = PoseModel(str(SCRIPTS / "plate-pose.yaml"), nc=nc, verbose=False)
    for m in model.modules():  # BN statistics differ between the two, as a fine-tune's do
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
    return model


def _checkpoint(path: Path, seed: int, mid_run: bool = False):
    """A finished run's checkpoint keeps its weights as "model"; one saved mid-run as "ema", with "model" None."""
    model = _model(seed)
    torch.save({"model": None, "ema": model} if mid_run else {"model": model, "train_args": {"seed": seed}}, path)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _saved_state(path: Path) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    assert ckpt.get("ema") is None  # nothing that ultralytics would load instead of the average
    return ckpt["model"].state_dict()


@pytest.mark.parametrize("mid_run", [False, True])
def test_the_shipped_average_is_the_mean_of_every_weight_and_batch_statistic(tmp_path, mid_run):
    a = _checkpoint(tmp_path / "start.pt", 1)
    b = _checkpoint(tmp_path / "tuned.pt", 2, mid_run=mid_run)
    train_detector.average_checkpoints(tmp_path / "start.pt", tmp_path / "tuned.pt", tmp_path / "avg.pt")
    state = _saved_state(tmp_path / "avg.pt")
    floats = [k for k in state if state[k].is_floating_point()]
    assert any(k.endswith("running_mean") for k in floats) and len(floats) > 100
    for k in floats:
        assert torch.allclose(state[k], (a[k] + b[k]) / 2), k
    counts = [k for k in state if k.endswith("num_batches_tracked")]
    assert counts and all(torch.equal(state[k], a[k]) for k in counts)  # integers are kept, not averaged


def test_ultralytics_loads_the_average_itself(tmp_path):
    from ultralytics import YOLO

    a, b = _checkpoint(tmp_path / "start.pt", 1), _checkpoint(tmp_path / "tuned.pt", 2)
    train_detector.average_checkpoints(tmp_path / "start.pt", tmp_path / "tuned.pt", tmp_path / "avg.pt")
    loaded = YOLO(str(tmp_path / "avg.pt"), task="pose").model.state_dict()
    key = next(k for k in loaded if k.endswith("conv.weight"))
    assert torch.allclose(loaded[key], (a[key] + b[key]) / 2)


def test_weights_of_another_architecture_are_refused(tmp_path):
    _checkpoint(tmp_path / "start.pt", 1)
    torch.save({"model": _model(2, nc=2)}, tmp_path / "other.pt")
    with pytest.raises(SystemExit, match="start.pt: not the architecture of .*other.pt"):
        train_detector.average_checkpoints(tmp_path / "start.pt", tmp_path / "other.pt", tmp_path / "avg.pt")


def test_averaging_into_the_start_itself_is_refused(tmp_path):
    """A second --ship with --average-with at the output file would average the average again."""
    _checkpoint(tmp_path / "start.pt", 1)
    _checkpoint(tmp_path / "tuned.pt", 2)
    with pytest.raises(SystemExit, match="start.pt: the file being written"):
        train_detector.average_checkpoints(tmp_path / "start.pt", tmp_path / "tuned.pt", tmp_path / "start.pt")
