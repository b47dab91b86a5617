"""Spec of `lpr read`: one line per image, a bad file never stops the batch, exit 1 when any errored."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from lpr import cli
from lpr.types import PlateRead

CORNERS = np.array([[10, 10], [110, 10], [110, 40], [10, 40]], dtype=np.float32)


class FakeReader:
    """Bright images hold plate 12-345-67, dark ones no plate."""

    def read(self, image):
        if image.mean() < 128:
            return []
        return [PlateRead(text="1234567", confidence=0.97, char_conf=(0.97,) * 7, corners=CORNERS, box=(10, 10, 110, 40),
                          det_score=0.99, crop=np.full((32, 128, 3), 200, np.uint8), timings_ms={"detect": 3.0, "rectify": 0.5, "ocr": 1.5})]

    def read_crop(self, image):
        reads = self.read(image)
        return reads[0] if reads else None


@pytest.fixture
def files(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    monkeypatch.setattr(cli, "make_reader", lambda engine="lpr", ocr="crnn": FakeReader())
    paths = {"plate": tmp_path / "car.png", "empty": tmp_path / "road.png", "corrupt": tmp_path / "bad.jpg"}
    cv2.imwrite(str(paths["plate"]), np.full((60, 120, 3), 220, np.uint8))
    cv2.imwrite(str(paths["empty"]), np.full((60, 120, 3), 20, np.uint8))
    paths["corrupt"].write_bytes(b"GIF89a broken")
    return paths


def test_read_json_one_object_per_line_and_corrupt_file_reported(files, tmp_path):
    missing = tmp_path / "nope.jpg"
    args = ["read", "--json", str(files["plate"]), str(files["corrupt"]), str(files["empty"]), str(missing)]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [d["image"] for d in lines] == [str(files["plate"]), str(files["corrupt"]), str(files["empty"]), str(missing)]
    plate = lines[0]["plates"][0]
    assert plate["plate"] == "1234567" and plate["formatted"] == "12-345-67" and plate["valid"] is True
    assert plate["timings_ms"] == {"detect": 3.0, "rectify": 0.5, "ocr": 1.5} and len(plate["corners"]) == 4
    assert "cannot decode" in lines[1]["error"] and "plates" not in lines[1]
    assert lines[2] == {"image": str(files["empty"]), "plates": []}
    assert "no such file" in lines[3]["error"]


def test_read_text_lines_and_exit_0_when_all_processed(files):
    result = CliRunner().invoke(cli.app, ["read", str(files["plate"]), str(files["empty"])])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"{files['plate']}: 12-345-67 (0.97)", f"{files['empty']}: no plate"]


def test_read_text_error_line_does_not_repeat_the_path(files):
    result = CliRunner().invoke(cli.app, ["read", str(files["corrupt"])])
    assert result.exit_code == 1
    assert result.stdout.strip() == (f"{files['corrupt']}: error: cannot decode image (truncated, not an image file, "
                                     "or a kind whose size cannot be read before decoding)")


def test_read_save_crops_writes_rectified_plates(files, tmp_path):
    out = tmp_path / "crops"
    result = CliRunner().invoke(cli.app, ["read", "--save-crops", str(out), str(files["plate"]), str(files["empty"])])
    assert result.exit_code == 0
    assert [p.name for p in out.iterdir()] == ["car_0.png"]
    assert cv2.imread(str(out / "car_0.png")).shape == (32, 128, 3)


def test_save_crops_onto_a_file_is_one_line_not_a_traceback(files, tmp_path):
    taken = tmp_path / "crops"
    taken.write_text("not a folder")
    result = CliRunner().invoke(cli.app, ["read", "--save-crops", str(taken), str(files["plate"])])
    assert result.exit_code == 2 and "expected a folder to write to" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_crop_mode_reads_each_image_as_a_plate_crop(files, monkeypatch):
    calls = []
    fake = FakeReader()
    monkeypatch.setattr(fake, "read", lambda image: calls.append("read") or [])
    monkeypatch.setattr(fake, "read_crop", lambda image: calls.append("read_crop") or None)
    monkeypatch.setattr(cli, "make_reader", lambda engine="lpr", ocr="crnn": fake)
    result = CliRunner().invoke(cli.app, ["read", "--crop", str(files["plate"])])
    assert result.exit_code == 0 and calls == ["read_crop"]
    assert result.stdout.strip() == f"{files['plate']}: no plate"
