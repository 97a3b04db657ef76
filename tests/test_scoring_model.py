"""Scoring saved completions (`--predictions`) equals scoring them inside a model run,
for every scorer; the released layouts load for training; `answer_after` for rewards."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from test_scoring_predictions import reasonmap_standin, write_jsonl
from train_support import built_mini

from mapkit.evaluation.predictions import score_predictions
from mapkit.evaluation.scorers import SCORERS
from mapkit.train import predict as ev
from mapkit.train.predict import EvalConfig, evaluate

pytestmark = pytest.mark.train

ROW_KEYS = ("id", "type", "correct", "parsed", "map_score", "map_score_max", "route_form", "via_stops_score", "num_via_stop_score")
REPORT_KEYS = ("n", "accuracy", "weighted_accuracy", "by_type", "by_difficulty", "by_city", "planning", "reasonmap",
               "reasonmap_plus", "scorer", "scored_by", "answer")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return built_mini(tmp_path_factory)


@pytest.fixture(scope="module")
def test_records(dataset) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(dataset / "data" / "test-00000-of-00001.parquet").to_pylist()


def _answers(record: dict) -> list[str]:
    if record["type"] == "planning":
        right = record["answer_text"]
        wrong = right.replace("Route Name: ", "Route Name: X", 1)
    else:
        right = f"\\boxed{{{record['answer_text']}}}"
        wrong = "\\boxed{no}" if record["answer_text"] == "yes" else "\\boxed{yes}"
    return [right, wrong, f"<think>{wrong}</think>\n{right}", f"<think>{right}</think>{wrong}", right + "\nHope this helps.",
            f"the answer is {record['answer_text']}.", ""]


def random_generate(records: list[dict], seed: int):
    """A stand-in for ``generate``: a seeded random pick among right, wrong, traced and
    decorated answers for each prompt."""
    by_question = {r["question"]: r for r in records}
    rng = random.Random(seed)

    def fake(model, processor, prompts, cfg, device):
        out = []
        for p in prompts:
            prompt = processor.tokenizer.decode(p["input_ids"][0])
            record = next(r for q, r in by_question.items() if q in prompt)
            ids = processor.tokenizer(rng.choice(_answers(record)) + "<|im_end|>", add_special_tokens=False)["input_ids"]
            out.append((torch.tensor(ids), False))
        return out

    return fake


def _same(run_rows: list[dict], run_report: dict, saved_rows: list[dict], saved_report: dict) -> None:
    by_id = {r["id"]: r for r in saved_rows}
    assert sorted(by_id) == sorted(r["id"] for r in run_rows)
    for row in run_rows:
        for key in ROW_KEYS:
            assert row.get(key) == by_id[row["id"]].get(key), (row["id"], key)
    for key in REPORT_KEYS:
        assert run_report.get(key) == saved_report.get(key), key


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scorer", SCORERS)
def test_saved_predictions_score_like_the_model_run(monkeypatch, tmp_path, dataset, test_records, scorer, seed):
    monkeypatch.setattr(ev, "generate", random_generate(test_records, seed))
    result = evaluate(EvalConfig(model="tiny", data=str(dataset), progress=False, batch_size=7, scorer=scorer))
    assert result.report["scorer"] == scorer
    pred = write_jsonl(tmp_path / "p.jsonl", [{"id": p["id"], "completion": p["completion"]} for p in result.predictions])
    report, rows = score_predictions(pred, str(dataset), scorer=EvalConfig(model="tiny", data="x", scorer=scorer).scoring())
    _same(result.predictions, result.report, rows, report)
    assert 0 < report["accuracy"] < 100  # the random mix holds right and wrong answers


def test_real_tiny_model_completions(tmp_path, dataset):
    from mapkit.evaluation.data import open_dataset

    result = evaluate(EvalConfig(model="tiny", data=str(dataset), progress=False, max_new_tokens=6, limit=10, scorer="reasonmap"))
    pred = write_jsonl(tmp_path / "p.jsonl", [{"id": p["id"], "completion": p["completion"]} for p in result.predictions])
    data = open_dataset(str(dataset), "test")
    keep = {p["id"] for p in result.predictions}  # --limit asked 10 records: score the same ones
    data.records = [r for r in data.records if r["id"] in keep]
    report, rows = score_predictions(pred, data, scorer=EvalConfig(model="tiny", data="x", scorer="reasonmap").scoring())
    _same(result.predictions, result.report, rows, report)


def test_training_reads_the_released_layouts(tmp_path, monkeypatch):
    from mapkit.train.rollout import REQUIRED_COLUMNS, load_data

    monkeypatch.setenv("MAPKIT_CACHE", str(tmp_path / "cache"))
    data = load_data(str(reasonmap_standin(tmp_path / "rm")), "validation")
    assert len(data.records) == 4 and all(c in data.records[0] for c in REQUIRED_COLUMNS)
    assert (data.root / data.records[0]["figure"]).is_file() and (data.root / data.records[0]["annotation"]).is_file()


def test_reward_answer_after_is_off_by_default(tmp_path, dataset):
    from mapkit.train.config import GRPOConfig
    from mapkit.train.rollout import make_reward

    record = {"id": "q", "type": "TorF1", "answer": 1, "station_1": "A", "station_2": "B", "difficulty_city": "easy",
              "question_transfer_count": 0}
    text = "<think>\\boxed{no}</think>\\boxed{yes}"
    assert make_reward("paper")(text, record, None)["correct"] == 10  # the released reward: the last box
    assert make_reward("default")(text, record, None)["correct"] == 0  # two boxes: a hedge
    assert make_reward("default", answer_after="</think>")(text, record, None)["correct"] == 10
    cfg = GRPOConfig(data=str(dataset), model="tiny", out=str(tmp_path / "run"), answer_after="</think>")
    assert cfg.answer_after == "</think>" and GRPOConfig(data=str(dataset), model="tiny", out=str(tmp_path / "r2")).answer_after is None
    assert json.loads(json.dumps(cfg.__dict__))["answer_after"] == "</think>"
