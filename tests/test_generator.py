"""The synthetic generator: corners on the plate in TL, TR, BR, BL order, valid labels, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from lpr.rectify import RECT_SIZE
from plategen.ocr_crops import make_ocr_crop
from plategen.render import render_plate
from plategen.scenes import make_scene, paste, project_rect
from plategen.yolo import FLIP_IDX, label_lines


def _is_ordered(c: np.ndarray) -> bool:
    """TL/TR on top, left/right consistent: the order a reader's warp relies on."""
    tl, tr, br, bl = c
    return tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (60, 0, 0), (-60, 30, 15), (45, -30, -15), (-30, 20, 10)])
def test_projected_corners_keep_tl_tr_br_bl_order(yaw, pitch, roll):
    c = project_rect(300, 4.7, (640, 360), yaw, pitch, roll)
    assert c.shape == (4, 2)
    assert _is_ordered(c)


def test_corners_lie_on_the_pasted_plate():
    rng = np.random.default_rng(3)
    for _ in range(5):
        scene = np.zeros((400, 600, 3), np.uint8)
        c = project_rect(rng.uniform(150, 350), 4.7, (300, 200), rng.uniform(-60, 60), rng.uniform(-30, 30),
                         rng.uniform(-15, 15))
        paste(scene, np.full((110, 520, 3), 255, np.uint8), c)
        center = c.mean(0)
        for p in c:
            inside = p + (center - p) * 0.06
            outside = p - (center - p) * 0.06
            assert scene[int(inside[1]), int(inside[0])].min() > 200
            assert scene[int(outside[1]), int(outside[0])].max() < 50


def test_horizontal_flip_with_flip_idx_keeps_corner_order():
    c = project_rect(300, 4.7, (640, 360), 30, 10, 5)
    flipped = c.copy()
    flipped[:, 0] = 1280 - flipped[:, 0]
    assert not _is_ordered(flipped)
    assert _is_ordered(flipped[FLIP_IDX])


def test_both_layouts_appear_with_seven_and_eight_digits():
    rng = np.random.default_rng(0)
    lengths = {len(render_plate(rng, px_per_mm=0.5).text) for _ in range(30)}
    assert lengths == {7, 8}


def test_scene_is_deterministic_for_a_seed():
    a, pa = make_scene(np.random.default_rng([5, 1]), size=(640, 360))
    b, pb = make_scene(np.random.default_rng([5, 1]), size=(640, 360))
    assert np.array_equal(a, b)
    assert [p.text for p in pa] == [p.text for p in pb]


def test_no_plate_frame_has_empty_label_file(tmp_path):
    img, plates = make_scene(np.random.default_rng(1), size=(640, 360), p_empty=1.0)
    assert plates == []
    assert label_lines([p.corners for p in plates], 640, 360) == []


def test_corner_off_the_frame_is_marked_invisible():
    c = np.array([[-20, 10], [100, 10], [100, 40], [-20, 40]], np.float32)
    (line,) = label_lines([c], 200, 100)
    vals = line.split()
    assert vals[0] == "0" and len(vals) == 5 + 12
    assert vals[7] == "0" and vals[16] == "0"  # TL and BL invisible
    assert vals[10] == "2" and vals[13] == "2"


def test_generated_dataset_parses_with_ultralytics_loader(tmp_path):
    from typer.testing import CliRunner

    from lpr.config import ultralytics_offline
    from plategen.cli import app

    res = CliRunner().invoke(app, ["scenes", "--out", str(tmp_path), "--n", "8", "--seed", "2", "--workers", "1",
                                   "--val-fraction", "0.25"])
    assert res.exit_code == 0, res.output
    ultralytics_offline(tmp_path / "yolo")
    from ultralytics.data.utils import verify_image_label

    images = sorted((tmp_path / "train" / "images").glob("*.jpg"))
    assert len(images) == 6
    n_plates = 0
    for im in images:
        lb = tmp_path / "train" / "labels" / (im.stem + ".txt")
        out = verify_image_label((str(im), str(lb), "", True, 1, 4, 3, False))
        im_file, labels, shape, segments, keypoints, nm, nf, ne, nc, msg = out
        assert nc == 0, msg
        assert keypoints is not None and keypoints.shape[1:] == (4, 3)
        n_plates += len(labels)
    assert n_plates >= 1
    assert "kpt_shape: [4, 3]" in (tmp_path / "data.yaml").read_text()


def test_ocr_crop_has_the_reader_size_and_a_plate_label():
    crop, text = make_ocr_crop(np.random.default_rng(4))
    assert crop.shape == (RECT_SIZE[1], RECT_SIZE[0], 3)
    assert text.isdigit() and len(text) in (7, 8)


def test_negative_ocr_crops_show_letters_or_no_plate_and_are_labelled_empty():
    from plategen.render import LETTERS, random_letter_text

    rng = np.random.default_rng(8)
    for _ in range(8):
        crop, text = make_ocr_crop(rng, negative=True)
        assert crop.shape == (RECT_SIZE[1], RECT_SIZE[0], 3) and text == ""
    letters = random_letter_text(np.random.default_rng(3))
    assert len(letters) in (7, 8) and 2 <= sum(c in LETTERS for c in letters) <= 4


def test_asking_for_negatives_leaves_the_plate_crops_as_they_were(tmp_path):
    from plategen.cli import _ocr_job

    (tmp_path / "a" / "images").mkdir(parents=True)
    (tmp_path / "b" / "images").mkdir(parents=True)
    plain = [_ocr_job(i, 5, tmp_path / "a") for i in range(12)]
    mixed = [_ocr_job(i, 5, tmp_path / "b", negatives=0.5) for i in range(12)]
    assert any(t == "" for _, t in mixed) and all(t for _, t in plain)
    for (name, text), (_, mixed_text) in zip(plain, mixed):
        if mixed_text:
            assert mixed_text == text
            assert (tmp_path / "a" / "images" / name).read_bytes() == (tmp_path / "b" / "images" / name).read_bytes()


def test_a_covered_plate_says_how_much_of_its_width_is_hidden_and_others_say_none():
    shares = []
    for i in range(12):
        _, plates = make_scene(np.random.default_rng([7, i]), size=(640, 360), p_empty=0.0, p_occlude=1.0)
        shares.append(max(p.covered for p in plates))
        assert sum(p.covered > 0 for p in plates) == 1  # one plate of the scene is covered
    assert all(0.08 <= s <= 0.3 for s in shares)
    _, plates = make_scene(np.random.default_rng([7, 0]), size=(640, 360), p_empty=0.0, p_occlude=0.0)
    assert all(p.covered == 0 for p in plates)
