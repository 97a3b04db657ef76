"""Report arithmetic of `mapkit eval` against accuracies worked out by hand."""
from __future__ import annotations

import pytest

from mapkit.errors import MapkitError
from mapkit.evaluation.report import compare_rows, summarize


def row(t, diff, city, correct, **extra):
    return {"type": t, "difficulty_city": diff, "city": city, "correct": correct, **extra}


PREDICTIONS = [
    row("TorF1", "easy", "a", True),
    row("TorF1", "hard", "b", False),
    row("Counting1", "middle", "a", True),
    row("Counting2", "hard", "b", True),
    row("planning", "easy", "a", True, template_id="planning_short", map_score=20, map_score_max=20),
    row("planning", "hard", "b", False, template_id="planning_long_via", map_score=6, map_score_max=40),
]


def test_summary_by_hand():
    r = summarize(PREDICTIONS)
    assert r["n"] == 6 and r["accuracy"] == 66.67  # 4 of 6
    # Plus types only: weights 1.0 (right), 2.0 (wrong), 1.5 (right), 2.0 (right) -> 4.5 / 6.5
    assert r["weighted_accuracy"] == 69.23
    assert r["by_type"]["TorF1"] == {"n": 2, "correct": 1, "accuracy": 50.0}
    assert r["by_difficulty"]["hard"]["accuracy"] == 33.33  # 1 of 3
    assert r["by_city"]["a"]["accuracy"] == 100.0 and r["by_city"]["b"]["correct"] == 1
    p = r["planning"]
    assert p["accuracy_short"] == 100.0 and p["accuracy_long"] == 0.0
    assert p["map_score"] == 13.0 and p["map_score_max"] == 40
    assert p["weighted_accuracy"] == 33.33  # 1.0 / (1.0 + 2.0)


def test_compare_rows_differences():
    a = summarize(PREDICTIONS)
    b = summarize([{**p, "correct": True} for p in PREDICTIONS])
    rows = {name: (x, y, d) for name, x, y, d in compare_rows(a, b)}
    assert rows["weighted accuracy"] == (69.23, 100.0, 30.77)
    assert rows["TorF1"] == (50.0, 100.0, 50.0)
    assert rows["planning long"][2] == 100.0


def test_bad_predictions_are_named():
    with pytest.raises(MapkitError, match="prediction 0 has no 'correct'"):
        summarize([{"type": "TorF1", "difficulty_city": "easy", "city": "x"}])
    with pytest.raises(MapkitError, match="unknown difficulty 'medium'"):
        summarize([row("TorF1", "medium", "x", True)])
