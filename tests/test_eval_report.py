"""Predictions from fixed completions (mapkit.evaluation.report.score_prediction), the report written
beside them, and the papers' table layout, checked against values worked out by hand.
No model, no torch."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mapkit.errors import MapkitError
from mapkit.evaluation.report import (
    format_comparison,
    format_report,
    load_predictions,
    load_report,
    score_prediction,
    summarize,
    write_report,
)
from mapkit.rewards import load_lines

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROUTE = "Route Name: Red Line\nDeparture Stop: Alpha\nArrival Stop: Central\n--\nRoute Name: Blue Line\nDeparture Stop: Central\nArrival Stop: Golf"


def rec(i, kind, diff, answer=1, template=None, city="mini", **extra):
    base = {"id": f"q{i}", "type": kind, "answer": answer, "station_1": "Alpha", "station_2": "Golf" if kind == "planning" else "Central",
            "difficulty_city": diff, "difficulty_question": "easy", "question_transfer_count": 1 if kind == "planning" else 0,
            "city": city, "template_id": template or f"{kind.lower()}_x", "line": "Red Line" if kind == "Counting1" else None}
    if kind == "planning":
        base["reference_routes"] = [[
            {"route_name": "Red Line", "departure_stop": "Alpha", "arrival_stop": "Central", "via_stops": ["Bravo"], "num_via_stops": 1},
            {"route_name": "Blue Line", "departure_stop": "Central", "arrival_stop": "Golf", "via_stops": [], "num_via_stops": 0}]]
    return {**base, **extra}


# (record, completion): right, wrong, unreadable and hedged answers over three map difficulties
CASES = [
    (rec(1, "TorF1", "easy", answer=1), "They share the Red Line. \\boxed{yes}"),  # right
    (rec(2, "TorF1", "hard", answer=0), "\\boxed{yes}"),  # wrong
    (rec(3, "TorF2", "middle", answer=1), "\\boxed{yes} \\boxed{no}"),  # a hedge: wrong
    (rec(4, "Counting1", "middle", answer=2), "Stops: [Bravo]. \\boxed{C}"),  # right (option index 2)
    (rec(5, "Counting2", "hard", answer=3), "\\boxed{3}"),  # right
    (rec(6, "Counting3", "easy", answer=4), "The answer is 4", ),  # right without a box (no format credit)
    (rec(7, "planning", "easy", answer=-1, template="planning_short"), ROUTE),  # right: map score 1 + 8 + 10 = 19
    (rec(8, "planning", "hard", answer=-1, template="planning_long_num", city="other"),
     ROUTE.replace("Arrival Stop: Central", "Arrival Stop: Central\nNumber of Via Stops: 1") + "\nNumber of Via Stops: 0"),  # right: 37
    (rec(9, "planning", "middle", answer=-1, template="planning_long_via"), "Route Name: Red Line\nDeparture Stop: Alpha\nArrival Stop: Golf"),
]


@pytest.fixture(scope="module")
def predictions():
    lines = load_lines(FIXTURES / "mini.json")
    return [score_prediction(r, c, lines) for r, c in CASES]


def test_predictions_by_hand(predictions):
    assert [p["correct"] for p in predictions] == [True, False, False, True, True, True, True, True, False]
    assert predictions[2]["reason"].startswith("2 boxed answers")
    assert [p.get("map_score") for p in predictions[6:]] == [19.0, 37.0, 4.0]  # long_via wrong route: 1 + 2 + 1, no bonus
    assert [p.get("map_score_max") for p in predictions[6:]] == [20.0, 40.0, 40.0]
    assert predictions[7]["route_form"] == "long_num" and predictions[0]["completion"] == CASES[0][1]
    assert predictions[0]["reward"] == 11.0  # easy TorF: (format 1 + correct 10) * 1.0


def test_report_by_hand(predictions):
    r = summarize(predictions)
    assert r["n"] == 9 and r["accuracy"] == 66.67  # 6 of 9
    # Plus only: easy 1.0 right, hard 2.0 wrong, middle 1.5 wrong, middle 1.5 right, hard 2.0 right, easy 1.0 right
    assert r["weighted_accuracy"] == round(100 * 5.5 / 9.0, 2) == 61.11
    assert r["by_type"]["planning"] == {"n": 3, "correct": 2, "accuracy": 66.67}
    assert r["by_difficulty"]["middle"] == {"n": 3, "correct": 1, "accuracy": 33.33}
    assert r["by_city"]["other"] == {"n": 1, "correct": 1, "accuracy": 100.0, "weighted_accuracy": 100.0}
    p = r["planning"]
    assert (p["accuracy_short"], p["accuracy_long"], p["n_short"], p["n_long"]) == (100.0, 50.0, 1, 2)
    assert (p["map_score_short"], p["map_score_long"], p["map_score"]) == (19.0, 20.5, 20.0)  # (37 + 4) / 2; (19 + 37 + 4) / 3
    assert p["weighted_accuracy"] == round(100 * 3.0 / 4.5, 2)  # easy 1.0 + hard 2.0 right of 1.0 + 2.0 + 1.5


def test_paper_mode_is_the_released_parser(predictions):
    lines = load_lines(FIXTURES / "mini.json")
    paper = [score_prediction(r, c, lines, mode="paper") for r, c in CASES]
    # the released reward reads "\boxed{yes} \boxed{no}" as its last box ("no": wrong here too) and never
    # accepts a long-form route (its arrival runs into the via line)
    assert [p["correct"] for p in paper] == [True, False, False, True, True, True, True, False, False]


def test_write_and_read_back(tmp_path, predictions):
    report = {**summarize(predictions), "model": "runs/a/checkpoint-4", "data": "out/mini", "split": "test"}
    side = write_report(report, predictions, tmp_path / "evals" / "a.json")
    assert side == tmp_path / "evals" / "a.predictions.jsonl"
    back = load_report(tmp_path / "evals" / "a.json")
    assert back["predictions"] == "a.predictions.jsonl" and back["weighted_accuracy"] == 61.11
    assert load_predictions(tmp_path / "evals" / "a.json") == json.loads(json.dumps(predictions))
    assert summarize(load_predictions(tmp_path / "evals" / "a.json"))["by_type"] == report["by_type"]
    assert not list((tmp_path / "evals").glob(".*tmp"))  # atomic writes leave no temporary file
    with pytest.raises(MapkitError, match="is a folder"):
        write_report(report, predictions, tmp_path)


def test_tables_like_the_papers(predictions):
    report = {**summarize(predictions), "model": "runs/a/checkpoint-4", "data": "out/mini", "split": "test",
              "generation": {"temperature": 0.0, "max_new_tokens": 16, "max_pixels": 3136, "text_only": False}}
    text = format_report(report)
    plus = text.split("ReasonMap-Plus (accuracy %)\n")[1].splitlines()
    assert plus[0].split() == ["model", "TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "weighted"]
    assert plus[2].split() == ["a/checkpoint-4", "50.00", "0.00", "100.00", "100.00", "100.00", "61.11"]
    planning = text.split("ReasonMap planning\n")[1].splitlines()
    assert planning[2].split() == ["a/checkpoint-4", "100.00", "50.00", "19.00", "20.50", "66.67"]
    assert "greedy, max 16 new tokens" in text and "map hard (x2.0)" in text


def test_comparison_side_by_side(predictions):
    a = {**summarize(predictions), "model": "runs/a/checkpoint-4", "split": "test", "generation": {"max_new_tokens": 16}}
    b = {**summarize([{**p, "correct": True} for p in predictions]), "model": "runs/b/checkpoint-8", "split": "test",
         "generation": {"max_new_tokens": 32}}
    lines = format_comparison(a, b).splitlines()
    assert lines[0] == "note: generation.max_new_tokens differs: A 16, B 32"
    assert lines[1].split() == ["metric", "a/checkpoint-4", "b/checkpoint-8", "B", "-", "A"]
    rows = {line.rsplit(None, 3)[0].strip(): line.split()[-3:] for line in lines[3:]}
    assert rows["weighted accuracy"] == ["61.11", "100.00", "+38.89"]
    assert rows["TorF2"] == ["0.00", "100.00", "+100.00"]
    assert rows["planning long"] == ["50.00", "100.00", "+50.00"]


def test_compare_needs_no_torch(tmp_path, predictions):
    """`mapkit eval --compare` is report arithmetic: it must run where torch is not installed."""
    import subprocess

    for name, rows in (("a", predictions), ("b", [{**p, "correct": True} for p in predictions])):
        write_report({**summarize(rows), "model": name}, rows, tmp_path / f"{name}.json")
    code = ("import sys; sys.modules['torch'] = None; from mapkit.cli import main; "  # importing torch now raises
            f"rc = main(['eval', '--compare', {str(tmp_path / 'a.json')!r}, {str(tmp_path / 'b.json')!r}]); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "weighted accuracy" in done.stdout and "+38.89" in done.stdout
