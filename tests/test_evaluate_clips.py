"""scripts/evaluate_clips.py: per-clip scores add up to totals and the operator's cost."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "evaluate_clips.py"
_spec = importlib.util.spec_from_file_location("evaluate_clips", SCRIPT)
evaluate_clips = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate_clips)


def _clip(cars: int, right: int, wrong: int, unflagged: int) -> dict:
    return {"cars": cars, "right": right, "wrong": wrong, "wrong_unflagged": unflagged, "missed": cars - right}


def test_cost_counts_cars_not_right_and_wrong_visits_by_whether_anyone_reviews_them():
    t = evaluate_clips.totals([_clip(300, 200, 30, 2), _clip(300, 150, 10, 0)])
    assert (t["cars"], t["right"], t["wrong"], t["wrong_unflagged"], t["missed"]) == (600, 350, 40, 2, 250)
    assert t["cost"] == pytest.approx(250 + 0.25 * 38 + 1.0 * 2)


def test_fewer_wrong_visits_can_outweigh_a_car_fewer_right():
    """The 2026-11-27 OCR on the fresh clips: one car fewer, 38 fewer wrong visits, 5 fewer unflagged."""
    before = evaluate_clips.totals([_clip(900, 577, 130, 16)])
    after = evaluate_clips.totals([_clip(900, 576, 92, 11)])
    assert after["right"] < before["right"] and after["cost"] < before["cost"]
    assert (before["cost"], after["cost"]) == (367.5, 355.25)


def test_the_weights_are_the_callers_to_change():
    t = evaluate_clips.totals([_clip(10, 8, 4, 1)], review_cost=0.0, unflagged_cost=5.0)
    assert t["cost"] == 2 + 5.0


def test_a_right_visit_sent_to_review_is_right_and_counted_as_flagged():
    s = evaluate_clips.score_visits(["1234567", "12345678", "7654321"],
                                    [("1234567", True), ("12345678", False), ("1234568", False), ("9999999", True)])
    assert (s["right"], s["right_flagged"], s["missed"]) == (2, 1, 1)
    assert (s["wrong"], s["wrong_unflagged"]) == (2, 1) and s["wrong_unflagged_plates"] == ["1234568"]


def test_totals_add_up_right_visits_flagged_and_older_results_without_them():
    t = evaluate_clips.totals([{**_clip(10, 8, 1, 0), "right_flagged": 3}, _clip(10, 9, 0, 0)])
    assert t["right_flagged"] == 3 and t["right"] == 17


def test_cars_with_a_covered_plate_are_counted_and_the_rest_scored_apart():
    s = evaluate_clips.score_visits(["1234567", "12345678", "7654321"], [("1234567", False), ("12345678", False)],
                                    covered=["12345678", "7654321"])
    assert (s["right"], s["covered"], s["right_whole"]) == (2, 2, 1)
    t = evaluate_clips.totals([s, _clip(10, 8, 0, 0)])  # a result of before the column adds none
    assert (t["cars"], t["covered"], t["right_whole"]) == (13, 2, 1)


def test_covered_plates_are_read_from_the_truth_file_and_blank_means_not_covered(tmp_path: Path):
    (tmp_path / "truth.csv").write_text("car,image,plate,first_frame,last_frame,fps,covered\n"
                                        "0,a.png,1234567,3,7,10.0,0.00\n1,b.png,12345678,11,15,10.0,0.21\n"
                                        "2,c.png,7654321,19,23,10.0,\n")
    assert evaluate_clips.covered_plates(tmp_path) == ["12345678"]
