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
