"""Gate conditions: each keeps a frame usable as a labelled sample and changes it the way its name says."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from plategen import cli as plategen_cli
from plategen.conditions import Condition, apply, random_condition
from plategen.render import render_plate


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    img = np.full((360, 640, 3), (90, 110, 120), np.uint8)
    plate = render_plate(np.random.default_rng(0), "1234567", px_per_mm=0.5).image
    y, x = 200, 250
    img[y : y + plate.shape[0], x : x + plate.shape[1]] = plate
    return img


@pytest.mark.parametrize("condition", list(Condition))
def test_every_condition_returns_an_8_bit_colour_image_and_is_deterministic(frame, condition):
    a = apply(frame, condition, np.random.default_rng(5))
    b = apply(frame, condition, np.random.default_rng(5))
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert np.array_equal(a, b)
    assert not np.array_equal(a[: frame.shape[0], : frame.shape[1]], frame)


def test_ir_is_greyscale_and_dusk_is_darker_than_day(frame):
    ir = apply(frame, Condition.IR, np.random.default_rng(1)).astype(int)
    assert np.abs(ir[:, :, 0] - ir[:, :, 1]).max() <= 1 and np.abs(ir[:, :, 1] - ir[:, :, 2]).max() <= 1
    darker = [apply(frame, Condition.DUSK, np.random.default_rng(s)).mean() < frame.mean() for s in range(8)]
    assert sum(darker) >= 6  # headlights may brighten a frame now and then, but dusk is dark


def test_ir_keeps_the_yellow_plate_brighter_than_its_digits(frame):
    """Retro-reflective plates glow under IR: the plate must stay readable, not turn into one grey."""
    ir = cv2.cvtColor(apply(frame, Condition.IR, np.random.default_rng(2)), cv2.COLOR_BGR2GRAY)
    plate = ir[200:200 + 55, 250:250 + 260]
    assert np.percentile(plate, 90) - np.percentile(plate, 10) > 40


def test_small_shrinks_the_frame_and_motion_keeps_its_size(frame):
    s = apply(frame, Condition.SMALL, np.random.default_rng(3))
    assert s.shape[0] < frame.shape[0] * 0.6 and s.shape[1] < frame.shape[1] * 0.6
    assert apply(frame, Condition.MOTION, np.random.default_rng(3)).shape == frame.shape


def test_random_condition_covers_several_conditions(frame):
    outs = {random_condition(frame, np.random.default_rng(s)).tobytes()[:4096] for s in range(6)}
    assert len(outs) == 6


def test_conditions_command_writes_one_labelled_folder_per_condition_with_scaled_corners(frame, tmp_path):
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    cv2.imwrite(str(src / "images" / "a.jpg"), frame)
    (src / "labels.csv").write_text("image,plate,kind,x1,y1,x2,y2,x3,y3,x4,y4\n"
                                    "a.jpg,1234567,scene,250,200,510,200,510,255,250,255\n")
    out = tmp_path / "out"
    r = CliRunner().invoke(plategen_cli.app, ["conditions", str(src), "--out", str(out), "--only", "ir",
                                              "--only", "small", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["ir", "small"]
    for cond in ("ir", "small"):
        rows = list(csv.DictReader(open(out / cond / "labels.csv")))
        assert rows[0]["plate"] == "1234567"
        img = cv2.imread(str(out / cond / "images" / rows[0]["image"]))
        assert img is not None
        scale = img.shape[1] / frame.shape[1]
        assert float(rows[0]["x2"]) == pytest.approx(510 * scale, abs=0.1)


def test_clips_command_writes_one_pass_per_car_with_gaps_and_a_truth_file(frame, tmp_path):
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    for name, level in (("a.jpg", 0), ("b.jpg", 40)):
        cv2.imwrite(str(src / "images" / name), np.clip(frame.astype(int) + level, 0, 255).astype(np.uint8))
    (src / "labels.csv").write_text("image,plate\na.jpg,1234567\nb.jpg,12345678\n")
    out = tmp_path / "clip"
    r = CliRunner().invoke(plategen_cli.app, ["clips", str(src), "--out", str(out), "--pass-frames", "5",
                                              "--gap-frames", "3"])
    assert r.exit_code == 0, r.output
    truth = list(csv.DictReader(open(out / "truth.csv")))
    assert [(t["plate"], int(t["first_frame"]), int(t["last_frame"])) for t in truth] == [
        ("1234567", 3, 7), ("12345678", 11, 15)]
    assert [t["covered"] for t in truth] == ["", ""]  # the source labels do not say
    cap = cv2.VideoCapture(str(out / "clip.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 3 + 5 + 3 + 5 + 3


def test_a_tight_crop_is_degraded_as_a_crop_and_never_shrunk(tmp_path):
    crop = render_plate(np.random.default_rng(4), "1234567", px_per_mm=0.3).image  # ~30 px high, as real crops
    out = apply(crop, Condition.COMPRESSION, np.random.default_rng(0), crop=True)
    assert out.shape == crop.shape
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    cv2.imwrite(str(src / "images" / "c.png"), crop)
    (src / "labels.csv").write_text("image,plate,kind\nc.png,1234567,crop\n")
    r = CliRunner().invoke(plategen_cli.app, ["conditions", str(src), "--out", str(tmp_path / "o"), "--only", "small",
                                              "--only", "dusk", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert len(list(csv.DictReader(open(tmp_path / "o" / "small" / "labels.csv")))) == 0
    assert len(list(csv.DictReader(open(tmp_path / "o" / "dusk" / "labels.csv")))) == 1


def test_evaluation_scenes_carry_the_covered_share_into_conditions_and_clips(tmp_path):
    src, cond = tmp_path / "syn", tmp_path / "cond"
    r = CliRunner().invoke(plategen_cli.app, ["evalset", "--out", str(src), "--n", "24", "--seed", "3", "--workers",
                                              "1"])
    assert r.exit_code == 0, r.output
    labels = list(csv.DictReader(open(src / "labels.csv")))
    covered = {row["image"]: float(row["covered"]) for row in labels}
    assert any(v > 0 for v in covered.values()) and any(v == 0 for v in covered.values())
    r = CliRunner().invoke(plategen_cli.app, ["conditions", str(src), "--out", str(cond), "--only", "dusk",
                                              "--workers", "1"])
    assert r.exit_code == 0, r.output
    dusk = {Path(row["image"]).stem: float(row["covered"]) for row in csv.DictReader(open(cond / "dusk" / "labels.csv"))}
    assert dusk == {Path(k).stem: v for k, v in covered.items()}
    r = CliRunner().invoke(plategen_cli.app, ["clips", str(cond / "dusk"), "--out", str(tmp_path / "clip"),
                                              "--pass-frames", "2", "--gap-frames", "1", "--limit", "6"])
    assert r.exit_code == 0, r.output
    truth = list(csv.DictReader(open(tmp_path / "clip" / "truth.csv")))
    assert [float(t["covered"]) for t in truth] == [dusk[Path(t["image"]).stem] for t in truth]
