"""End-to-end spec of the offline evaluation on a tiny fixture the tests draw themselves."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from lpr import cli
from lpr import evaluate as ev
from lpr.types import PlateRead

ROOT = Path(__file__).resolve().parents[1]
TRUTH_CORNERS = np.array([[40, 30], [140, 30], [140, 60], [40, 60]], dtype=np.float32)  # 100 px wide plate


class FakeEngine:
    """Reads a plate chosen by the image's top-left grey level, so each fixture image has a known answer."""

    def __init__(self) -> None:
        self.calls = 0

    def _plate(self, text: str, corners: np.ndarray) -> PlateRead:
        x1, y1 = corners.min(axis=0)
        x2, y2 = corners.max(axis=0)
        return PlateRead(text=text, confidence=0.9, char_conf=(0.9,) * len(text), corners=corners,
                         box=(x1, y1, x2, y2), det_score=0.95, crop=np.zeros((20, 80, 3), np.uint8), timings_ms={"detect": 5.0, "rectify": 1.0, "ocr": 2.0})

    def read(self, image):
        self.calls += 1
        level = int(image[0, 0, 0])
        if level == 10:  # right plate, corners 5 px off horizontally, plus a junk read listed first
            return [self._plate("12", TRUTH_CORNERS + 200), self._plate("1234567", TRUTH_CORNERS + [5, 0])]
        if level == 30:  # the right text, far away from the labelled plate: read counts, detection does not
            return [self._plate("7654321", TRUTH_CORNERS + 150)]
        return []

    def read_crop(self, image):
        self.calls += 1
        level = int(image[0, 0, 0])
        if level == 20:
            return self._plate("12345670", np.array([[0, 0], [79, 0], [79, 19], [0, 19]], np.float32))
        return None


def _img(path: Path, level: int, size=(120, 200)) -> None:
    img = np.full((*size, 3), level, np.uint8)
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    _img(images / "good.png", 10)
    _img(images / "crop.png", 20, size=(20, 80))
    _img(images / "far.png", 30)
    _img(images / "none.png", 40)
    (images / "corrupt.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    (tmp_path / "labels.csv").write_text(
        "image,plate,kind,source,x1,y1,x2,y2,x3,y3,x4,y4\n"
        "good.png,1234567,scene,camA,40,30,140,30,140,60,40,60\n"
        "crop.png,12345678,crop,camB,,,,,,,,\n"
        "skipped.png,,scene,camA,,,,,,,,\n"
        "corrupt.jpg,7654321,scene,camA,,,,,,,,\n"
        "far.png,7654321,scene,camA,40,30,140,30,140,60,40,60\n"
        "none.png,11223344,scene,camB,,,,,,,,\n"
    )
    return tmp_path


def test_run_scores_each_image_and_survives_a_corrupt_one(dataset):
    run = ev.run_evaluation(dataset, {"fake": FakeEngine()})
    res = {r.image: r for r in run.results["fake"]}
    assert list(res) == ["good.png", "crop.png", "corrupt.jpg", "far.png", "none.png"]  # skipped.png unlabelled
    good = res["good.png"]
    assert good.correct and good.read == "1234567" and good.detected and good.n_reads == 2
    assert good.corner_error_pct == pytest.approx(5.0) and good.plate_width_px == pytest.approx(100.0)
    assert good.timings_ms["detect"] == 5.0 and good.timings_ms["total"] >= 0
    assert res["crop.png"].detected and res["crop.png"].read == "12345670" and not res["crop.png"].correct
    assert res["corrupt.jpg"].error and "cannot decode" in res["corrupt.jpg"].error
    assert res["far.png"].correct and not res["far.png"].detected and res["far.png"].corner_error_pct is None
    assert not res["none.png"].detected and res["none.png"].read is None
    assert res["none.png"].region is not None  # failures keep a picture for the report


def test_eval_cli_writes_json_and_report(dataset, tmp_path, monkeypatch):
    fake = FakeEngine()
    monkeypatch.setattr(ev, "make_engine", lambda name, **kw: fake)
    out_json, report = tmp_path / "eval.json", tmp_path / "report"
    result = CliRunner().invoke(cli.app, ["eval", str(dataset), "--engine", "easyocr", "--json", str(out_json),
                                          "--report", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text())
    assert list(data) == ["easyocr"]
    s = data["easyocr"]
    assert s["n"] == 5 and s["n_errors"] == 1
    assert s["plate_accuracy"] == pytest.approx(0.4)
    assert s["detection_recall"] == pytest.approx(0.4)
    assert 0 < s["char_accuracy"] < 1
    assert s["latency_ms"]["p50"] is not None and s["latency_ms"]["p95"] >= s["latency_ms"]["p50"]
    assert s["stages_ms"]["ocr"]["p50"] == 2.0
    assert s["corner_error_pct"] == {"mean": 5.0, "n": 1}
    assert set(s["by_kind"]) == {"scene", "crop"} and set(s["by_length"]) == {"7", "8"}
    assert set(s["by_source"]) == {"camA", "camB"}
    failures = {f["image"]: f for f in s["failures"]}
    assert set(failures) == {"crop.png", "corrupt.jpg", "none.png"}
    assert "cannot decode" in failures["corrupt.jpg"]["reason"]
    assert failures["crop.png"]["read"] == "12345670" and failures["crop.png"]["truth"] == "12345678"
    assert sorted(p.name for p in report.iterdir()) == ["easyocr_confusion.png", "easyocr_worst.png", "latency.png"]
    assert all(cv2.imread(str(p)) is not None for p in report.iterdir())
    assert "corrupt.jpg" in result.stdout  # failure list printed


def test_eval_all_runs_every_engine_on_the_same_images(dataset, tmp_path, monkeypatch):
    engines = {}
    monkeypatch.setattr(ev, "make_engine", lambda name, **kw: engines.setdefault(name, FakeEngine()))
    out_json = tmp_path / "all.json"
    result = CliRunner().invoke(cli.app, ["eval", str(dataset), "--engine", "all", "--limit", "2", "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text())
    assert list(data) == ["lpr", "easyocr", "fast-alpr"] and all(d["n"] == 2 for d in data.values())
    assert engines["lpr"].calls == engines["easyocr"].calls == engines["fast-alpr"].calls == 2 + 2  # 2 warm-up calls + 2 images each


def test_eval_reports_an_engine_that_cannot_start(dataset, monkeypatch):
    def broken(name, **kw):
        raise ImportError("No module named 'lpr.pipeline'")

    monkeypatch.setattr(ev, "make_engine", broken)
    result = CliRunner().invoke(cli.app, ["eval", str(dataset), "--engine", "lpr"])
    assert result.exit_code == 2 and "cannot start engine 'lpr'" in result.stderr


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "labels, expected",
    [
        (None, "labels.csv: no such file"),
        ("image,text\na.png,1234567\n", "labels.csv: row 1: missing column(s) plate"),
        ("image,plate\na.png,1234567\nb.png,12\n", "labels.csv: row 3: plate '12' is not an Israeli plate"),
        ("image,plate\na.png,12345678901234567890\n", "row 2: plate '12345678901234567890' is not an Israeli plate"),
        ("image,plate\na.png,12a4567\n", "row 2: plate '12a4567' is not an Israeli plate"),
        (b"image,plate\n\xe0\xe1.png,1234567\n", "labels.csv: not UTF-8 text"),
        ("image,plate,x1,y1,x2,y2,x3,y3,x4,y4\na.png,1234567,1,2,3,4,5,nan,7,8\n", "row 2: corners x1..y4 must be 8 finite"),
        ("image,plate\n/etc/passwd,1234567\n", "row 2: image '/etc/passwd' must be a file name inside images/"),
        ("image,plate\n../../secret.png,1234567\n", "row 2: image '../../secret.png' must be a file name inside"),
    ],
)
def test_script_bad_labels_exit_2_with_one_line(tmp_path, labels, expected):
    if isinstance(labels, bytes):
        (tmp_path / "labels.csv").write_bytes(labels)
    elif labels is not None:
        (tmp_path / "labels.csv").write_text(labels)
    p = _script(str(tmp_path), "--engine", "easyocr")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and str(tmp_path) in lines[0]
    assert p.stdout == ""


def test_labels_take_plates_in_any_digits_and_dashes_as_the_same_ascii_plate(tmp_path):
    (tmp_path / "labels.csv").write_text("image,plate\na.png,12-345-67\nb.png,１２３４５６７\nc.png,١٢٣٤٥٦٧٨\n",
                                         encoding="utf-8")
    assert [r.plate for r in ev.load_labels(tmp_path)] == ["1234567", "1234567", "12345678"]


# --- the EasyOCR peer's candidate choice (pure, no model needed) -------------------------------

def _box(x1, y1, x2, y2, text, conf):
    from lpr.easyocr_engine import _Text

    return _Text(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32), text, conf)


def test_peer_joins_adjacent_boxes_on_one_line_and_prefers_a_valid_plate():
    from lpr.easyocr_engine import candidates_from_texts

    texts = [_box(130, 10, 160, 40, "67", 0.8), _box(10, 10, 40, 40, "12", 0.9), _box(50, 10, 120, 40, "345", 0.7),
             _box(10, 200, 60, 230, "99", 0.99)]  # far below: never joined with the plate
    cands = candidates_from_texts(texts)
    assert cands[0].text == "1234567" and cands[0].conf == pytest.approx(0.7)
    assert cands[0].corners.tolist() == [[10, 10], [160, 10], [160, 40], [10, 40]]
    assert not any("99" in c.text and len(c.text) > 2 for c in cands)


def test_peer_without_a_valid_plate_prefers_the_nearest_length():
    from lpr.easyocr_engine import candidates_from_texts

    cands = candidates_from_texts([_box(0, 0, 10, 10, "7", 0.99), _box(100, 0, 160, 10, "123456", 0.3)])
    assert [c.text for c in cands][0] == "123456"
    assert candidates_from_texts([]) == [] and candidates_from_texts([_box(0, 0, 9, 9, "", 0.5)]) == []


class CrashingEngine:
    def read(self, image):
        raise RuntimeError("model file truncated")

    def read_crop(self, image):
        raise RuntimeError("model file truncated")


def test_a_crash_on_a_wide_plate_counts_as_a_miss_in_the_wide_plate_recall(dataset):
    """Plates the engine crashed on were not found: a crash must not drop out of the >= 60 px recall."""
    run = ev.run_evaluation(dataset, {"crashing": CrashingEngine()})
    s = ev.summarize(run.results["crashing"])
    assert s["n_errors"] == 5 and s["detection_recall"] == 0.0
    assert s["detection_recall_60px"] == 0.0  # good.png and far.png label 100-px plates


def test_scenes_with_a_partly_covered_plate_are_scored_apart(dataset):
    labels = (dataset / "labels.csv").read_text().splitlines()
    rows = [labels[0] + ",covered"] + [line + (",0.25" if line.startswith("far.png") else ",0.00") for line in labels[1:]]
    (dataset / "labels.csv").write_text("\n".join(rows) + "\n")
    summary = ev.summarize(ev.run_evaluation(dataset, {"fake": FakeEngine()}).results["fake"])
    assert summary["by_cover"]["partly covered"]["n"] == 1
    assert summary["by_cover"]["whole plate"]["n"] == 4


def test_a_covered_share_that_is_not_one_is_one_line_naming_it(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_text("image,plate,covered\na.png,1234567,lots\n")
    with pytest.raises(ev.LabelsError, match="row 2: covered 'lots' must be a share from 0 to 1"):
        ev.load_labels(tmp_path)
