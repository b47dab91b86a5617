"""scripts/replay_clips.py: a clip's reads recorded once give back the lane's visits when replayed, and a voting
change replayed on them changes the visits as the lane would."""
from __future__ import annotations

import csv
import json
import pickle
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import replay_clips as rc  # noqa: E402

from gate.lane.voting import PassConfig  # noqa: E402
from lpr.types import PlateRead  # noqa: E402

DEMO = ROOT / "gate" / "demo"
FRAMES = 100  # the demo entry clip's first three cars (of five): 8 s at 8 fps


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped reader's reads of the start of the demo's entry clip, recorded once into a folder."""
    clip = tmp_path_factory.mktemp("clip") / "demo"
    clip.mkdir()
    cap = cv2.VideoCapture(str(DEMO / "entry.mp4"))
    out = cv2.VideoWriter(str(clip / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS),
                          (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))))
    for _ in range(FRAMES):
        ok, frame = cap.read()
        assert ok
        out.write(frame)
    out.release()
    shown = json.loads((DEMO / "entry.json").read_text())["frames"][:FRAMES]
    cars = list(dict.fromkeys(p["text"] for f in shown for p in f))
    seen = {c: [i for i, f in enumerate(shown) if any(p["text"] == c for p in f)] for c in cars}
    with open(clip / "truth.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["plate", "first_frame", "last_frame"], *[[c, seen[c][0], seen[c][-1]] for c in cars]])
    folder = tmp_path_factory.mktemp("reads")
    rc.main(["record", str(clip), "--out", str(folder), "--crops"])
    return folder


@pytest.fixture
def recorded(recordings: Path) -> rc.Recording:
    """That recording loaded from disk afresh (a replay fills the likelihood caches of the reads it votes on)."""
    (rec,) = rc.load(recordings)
    return rec


@pytest.mark.slow
def test_replaying_a_recording_as_shipped_opens_the_visits_the_lane_opened(recorded: rc.Recording):
    assert len(recorded.frames) == FRAMES and recorded.truth
    assert recorded.score["right"] >= 2, recorded.score  # the shipped reader reads the demo's cars
    again = rc.replay(recorded, PassConfig())
    keys = ("right", "right_flagged", "wrong", "wrong_unflagged", "missed", "visits")
    assert {k: again[k] for k in keys} == {k: recorded.score[k] for k in keys}


@pytest.mark.slow
def test_a_vote_no_pass_can_reach_sends_every_visit_to_review(recorded: rc.Recording):
    strict = rc.replay(recorded, rc.pass_config(["sure_confidence=1.01"]))
    assert strict["right"] == recorded.score["right"] and strict["right_flagged"] == strict["right"]


@pytest.mark.slow
def test_a_pass_needing_more_reads_than_a_car_gives_opens_nothing(recorded: rc.Recording):
    strict = rc.replay(recorded, rc.pass_config(["min_reads=1000", "settle_votes=1000"]))
    assert strict["visits"] == 0 and strict["missed"] == len(recorded.truth)


@pytest.mark.slow
def test_a_recording_keeps_the_crops_asked_for_and_no_cached_likelihood(recorded: rc.Recording):
    reads = [r for _, _, rs in recorded.frames for r in rs]
    assert reads and recorded.crops and all(r.crop is not None and r.crop.shape == (32, 128, 3) for r in reads)
    assert all(r.posterior is not None and not r.posterior.likelihoods for r in reads)


def test_a_read_is_kept_without_its_crop_unless_asked():
    crop = np.zeros((32, 128, 3), np.uint8)
    read = PlateRead(text="1234567", confidence=0.9, char_conf=(0.9,) * 7, corners=np.zeros((4, 2), np.float32),
                     box=(0.0, 0.0, 10.0, 5.0), det_score=0.9, crop=crop)
    assert rc.kept(read)["crop"] is None and rc.kept(read, crops=True)["crop"] is crop
    assert rc.restored(rc.kept(read)).text == "1234567" and rc.restored(rc.kept(read)).crop is None


@pytest.mark.slow
def test_losses_count_the_right_cars_and_blame_the_reader_or_the_voting_for_the_rest(recorded: rc.Recording):
    assert recorded.spans is not None and len(recorded.spans) == len(recorded.truth)
    shipped = rc.losses(recorded, PassConfig())
    assert sum(x in (rc.Loss.RIGHT, rc.Loss.RIGHT_FLAGGED) for x in shipped) == recorded.score["right"]
    # a voting that opens nothing: every car the reader read exactly is now the voting's loss, the rest unchanged
    none = rc.losses(recorded, rc.pass_config(["min_reads=1000", "settle_votes=1000"]))
    assert rc.Loss.RIGHT not in none and rc.Loss.RIGHT_FLAGGED not in none
    assert [x is rc.Loss.READ_NOT_OPENED for x in none] == [x in (rc.Loss.RIGHT, rc.Loss.RIGHT_FLAGGED,
                                                                  rc.Loss.READ_NOT_OPENED) for x in shipped]


def test_a_car_lost_with_its_plate_partly_covered_is_put_down_to_the_cover(recorded: rc.Recording):
    nothing_opens = rc.pass_config(["min_reads=1000", "settle_votes=1000"])
    before = rc.losses(recorded, nothing_opens)
    recorded.covered = [recorded.truth[0]]
    after = rc.losses(recorded, nothing_opens)
    assert after[0] is rc.Loss.COVERED and after[1:] == before[1:]
    assert rc.replay(recorded, PassConfig())["covered"] == 1


def test_losses_need_each_cars_frames():
    with pytest.raises(SystemExit, match="no frame spans"):
        rc.losses(rc.Recording("x", ["1234567"]), PassConfig())


def test_settings_convert_to_the_fields_types():
    c = rc.pass_config(["sure_confidence=0.7", "settle_votes=4", "drop_outvoted=false"])
    assert (c.sure_confidence, c.settle_votes, c.drop_outvoted) == (0.7, 4, False)
    assert c.pass_gap_s == PassConfig().pass_gap_s


@pytest.mark.parametrize("item, named", [("sure_conf=0.5", "sure_conf"), ("settle_votes=three", "int"),
                                         ("drop_outvoted=maybe", "bool"), ("min_reads", "KEY=VALUE")])
def test_a_bad_setting_is_one_line_naming_it(item: str, named: str):
    with pytest.raises(SystemExit) as err:
        rc.pass_config([item])
    assert item in str(err.value) and named in str(err.value) and "\n" not in str(err.value)


def test_a_folder_without_recordings_is_named(tmp_path: Path):
    with pytest.raises(SystemExit, match="no recordings"):
        rc.load(tmp_path)


def test_a_file_of_another_format_is_refused(tmp_path: Path):
    with open(tmp_path / "x.pkl", "wb") as f:
        pickle.dump({"format": 0, "clip": "x", "truth": [], "frames": [], "score": {}}, f)
    with pytest.raises(SystemExit, match="record the clip again"):
        rc.load(tmp_path)
