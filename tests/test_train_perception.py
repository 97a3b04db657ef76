"""The perception stage: curriculum selection, the model's view of a Grounding record
(question and reward in the resized map's pixels), eval's Grounding scores, and a tiny
model run with `--stages perception,...` end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mapkit.errors import ConfigError, DatasetError
from mapkit.evaluation.report import format_report, summarize
from mapkit.train.curriculum import select_stages


def test_perception_stage_goes_first():
    stages = select_stages("rewardmap", "perception,1,2,3,4")
    assert [s.name for s in stages] == ["perception", "torf", "counting23", "counting1", "planning"]
    assert stages[0].types == ("Grounding1", "Grounding2", "Grounding3")
    assert [s.name for s in select_stages("rewardmap", "4,perception")] == ["perception", "planning"]  # order is the curriculum's
    assert [s.name for s in select_stages("rewardmap", "all")] == ["torf", "counting23", "counting1", "planning"]
    assert [s.types for s in select_stages("coarse", "Grounding2,1")] == [("Grounding2",), ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3")]
    named = select_stages("perception", "all")
    assert [s.name for s in named] == ["perception", "torf", "counting23", "counting1", "planning"]
    assert [s.name for s in select_stages("perception", "1,5")] == ["perception", "planning"]
    with pytest.raises(ConfigError, match="perception"):
        select_stages("rewardmap", "percepton")


def _processor_stub():
    class IP:
        patch_size, merge_size = 14, 2

    class P:
        image_processor = IP()

    return P()


def test_model_view_rescales_question_and_reward_on_a_non_square_resize(tmp_path):
    from PIL import Image

    from mapkit.rewards import breakdown
    from mapkit.train.config import GRPOConfig
    from mapkit.train.rollout import load_map, model_view, patch_factor

    (tmp_path / "maps").mkdir()
    Image.new("RGB", (4000, 2000), "white").save(tmp_path / "maps" / "x.png")
    record = {"id": "q", "type": "Grounding2", "figure": "maps/x.png", "frame": {"width": 4000, "height": 2000},
              "question": "What is the name of the station marked at (2000, 1000) on this map?\nAnswer in \\boxed{}.",
              "answer": -1, "answer_text": "Ueno", "station_1": "Ueno", "station_2": None, "difficulty_city": "easy",
              "question_transfer_count": 0, "program": json.dumps({"op": "read_label", "args": {"point": [2000, 1000]}, "result": "u"})}
    cfg = GRPOConfig(model="tiny", data="x", max_pixels=28 * 28 * 1024)
    view = model_view(_processor_stub(), record, tmp_path, cfg)
    image = load_map(str(tmp_path / "maps" / "x.png"), patch_factor(_processor_stub()), cfg.min_pixels, cfg.max_pixels)
    assert list(image.size) == view["image_size"] == [1260, 616]  # the prompt's image and the reward agree
    assert "marked at (630, 308)" in view["question"]
    located = {**view, "type": "Grounding1", "program": json.dumps({"op": "locate_station", "args": {"station": "u"},
                                                                     "result": {"box": [1000, 500, 1400, 900]}})}
    assert breakdown("\\boxed{[315, 154, 441, 277.2]}", located).iou == pytest.approx(1.0)  # x * 0.315, y * 0.308
    with pytest.raises(DatasetError, match="rebuild"):
        model_view(_processor_stub(), {**record, "frame": {"width": 4000, "height": 2001}}, tmp_path, cfg)
    assert model_view(_processor_stub(), {**record, "type": "TorF1"}, tmp_path, cfg)["question"] == record["question"]


def test_logged_answers_are_in_the_frame_the_model_saw():
    from mapkit.train.trainer import _answer

    record = {"type": "Grounding1", "frame": {"width": 4000, "height": 2000}, "answer_text": "[1000, 500, 1400, 900]",
              "program": json.dumps({"op": "locate_station", "args": {}, "result": {"box": [1000, 500, 1400, 900]}})}
    assert _answer(record) == "[1000, 500, 1400, 900]"  # not resized: its own frame
    assert _answer({**record, "image_size": [1260, 616]}) == "[315, 154, 441, 277]"  # x * 0.315, y * 0.308
    assert _answer({"type": "TorF1", "answer_text": "yes", "image_size": [28, 28]}) == "yes"


def test_eval_reports_iou_accuracy_at_half_and_label_reading_by_difficulty():
    base = {"city": "x", "difficulty_city": "easy"}
    rows = [
        {**base, "type": "Grounding1", "difficulty_question": "easy", "correct": True, "iou": 0.8},
        {**base, "type": "Grounding1", "difficulty_question": "hard", "correct": False, "iou": 0.2},
        {**base, "type": "Grounding1", "difficulty_question": "hard", "correct": True, "iou": 0.5},
        {**base, "type": "Grounding1", "difficulty_question": "easy", "correct": True},  # a point answer
        {**base, "type": "Grounding2", "difficulty_question": "easy", "correct": True},
        {**base, "type": "Grounding2", "difficulty_question": "hard", "correct": False},
        {**base, "type": "Grounding2", "difficulty_question": "hard", "correct": True},
        {**base, "type": "Grounding3", "difficulty_question": "middle", "correct": False},
    ]
    g = summarize(rows)["grounding"]
    assert g["locate"]["mean_iou"] == pytest.approx(0.5)  # (0.8 + 0.2 + 0.5) / 3 box answers
    assert g["locate"]["accuracy_at_0.5"] == pytest.approx(66.67)  # 0.8 and 0.5 reach it
    assert g["locate"]["point_accuracy"] == 100.0 and g["locate"]["n_box"] == 3
    assert g["read_label"]["by_question_difficulty"]["easy"]["accuracy"] == 100.0
    assert g["read_label"]["by_question_difficulty"]["hard"]["accuracy"] == 50.0
    assert g["identify_line"]["accuracy"] == 0.0
    text = format_report({**summarize(rows), "n": len(rows)})
    assert "mean IoU" in text and "read, hard" in text


@pytest.mark.slow
@pytest.mark.train
def test_tiny_model_perception_first_end_to_end(tmp_path, run_cli):
    from conftest import ROOT

    data = tmp_path / "tokyo"
    code, _, err = run_cli("build", "--city", "tokyo", "--annotations", ROOT / "annotations", "--types", "Grounding,TorF1",
                           "--per-type", "6", "--out", data)
    assert code == 0, err
    run = tmp_path / "run"
    code, _, err = run_cli("train", "--stages", "perception,1", "--data", data, "--model", "tiny", "--out", run,
                           "--stage-steps", "2", "--prompts-per-step", "2", "--num-generations", "2", "--no-progress",
                           "--tiny-warmup-steps", "0")
    assert code == 0, err
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["stage"] for m in metrics] == ["perception", "perception", "torf", "torf"]
    completions = [json.loads(line) for line in (run / "completions.jsonl").read_text().splitlines()]
    assert {c["type"] for c in completions if c["stage"] == "perception"} <= {"Grounding1", "Grounding2", "Grounding3"}
    out = tmp_path / "eval.json"
    code, stdout, err = run_cli("eval", "--model", run, "--data", data, "--split", "train", "--types", "Grounding", "--out", out,
                                  "--no-progress")
    assert code == 0, err
    report = json.loads(out.read_text())
    assert set(report["by_type"]) <= {"Grounding1", "Grounding2", "Grounding3"} and "grounding" in report
    assert "Grounding (question difficulty" in stdout
    predictions = [json.loads(line) for line in Path(str(out).replace(".json", ".predictions.jsonl")).read_text().splitlines()]
    for p in predictions:  # the model was asked in its own frame (tiny: 112 x 112 budget)
        assert p["image_size"][0] * p["image_size"][1] <= 112 * 112
