"""`mapkit eval` end to end on CPU: a tiny checkpoint trained for one step, the tiny model,
canned answers through the real prompt/generation/scoring path, the CLI and its errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from train_support import built_mini, no_lines, tiny_config, toy_reward

from mapkit.evaluation.report import TYPES, load_predictions, load_report, summarize
from mapkit.train import predict as ev
from mapkit.train.predict import EvalConfig, evaluate

pytestmark = pytest.mark.train

REPORT_KEYS = {"n", "accuracy", "weighted_accuracy", "by_type", "by_difficulty", "by_city", "planning", "model", "data", "split",
               "seed", "generation", "reward_mode", "predictions", "questions_per_s", "skipped"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return built_mini(tmp_path_factory)


@pytest.fixture(scope="module")
def eval_records(dataset) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(dataset / "data" / "test-00000-of-00001.parquet").to_pylist()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, dataset) -> Path:
    from mapkit.train.trainer import train

    cfg = tiny_config(tmp_path_factory.mktemp("evalrun"), dataset, max_steps=1, beta=0.0)
    return train(cfg, reward_fn=toy_reward, lines_for=no_lines).last_checkpoint


def test_cli_eval_of_a_trained_checkpoint(tmp_path, dataset, checkpoint, eval_records, run_cli):
    out = tmp_path / "eval.json"
    code, stdout, stderr = run_cli("eval", "--model", checkpoint, "--data", dataset, "--out", out, "--no-progress")
    assert code == 0, stderr
    report = load_report(out)
    assert REPORT_KEYS <= set(report)
    assert report["n"] == len(eval_records) and report["split"] == "test" and report["model"] == str(checkpoint)
    # the checkpoint's training settings are the evaluation's defaults: same prompts, same pixel budget
    gen = report["generation"]
    assert (gen["max_new_tokens"], gen["max_pixels"], gen["greedy"]) == (8, 56 * 56, True) and report["smoke"] is True
    predictions = load_predictions(out)
    assert sorted(p["id"] for p in predictions) == sorted(r["id"] for r in eval_records)
    assert all(0 < p["completion_tokens"] <= 8 and isinstance(p["completion"], str) for p in predictions)
    assert all(p["map_score_max"] in (20.0, 40.0) for p in predictions if p["type"] == "planning")
    # the report's numbers are summarize() over the predictions written beside it
    again = summarize(predictions)
    for key in ("n", "accuracy", "weighted_accuracy", "by_type", "by_difficulty", "by_city", "planning"):
        assert report[key] == again[key], key
    assert set(report["by_type"]) == {r["type"] for r in eval_records}
    assert "ReasonMap-Plus (accuracy %)" in stdout and "ReasonMap planning" in stdout and "SMOKE MODEL" in stdout

    # a run folder means its latest checkpoint; --compare puts the two reports side by side
    out2 = tmp_path / "eval2.json"
    code, _, stderr = run_cli("eval", "--model", checkpoint.parent, "--data", dataset, "--out", out2, "--no-progress",
                              "--text-only", "--limit", "5", "--types", "TorF1,planning")
    assert code == 0, stderr
    small = load_report(out2)
    assert small["n"] == 5 and small["generation"]["text_only"] and set(small["by_type"]) <= {"TorF1", "planning"}
    shorter = {p["id"]: p["prompt_tokens"] for p in load_predictions(out2)}
    full = {p["id"]: p["prompt_tokens"] for p in predictions}
    assert all(shorter[i] < full[i] for i in shorter)  # no image tokens in a text-only prompt
    code, stdout, stderr = run_cli("eval", "--compare", out, out2)
    assert code == 0, stderr
    assert f"note: n differs: A {len(eval_records)}, B 5" in stdout
    assert "note: generation.text_only differs: A False, B True" in stdout
    assert any(line.split()[:1] == ["TorF1"] for line in stdout.splitlines())


def canned(records: list[dict]):
    """A stand-in for ``generate`` answering from the gold answers: TorF1 and planning
    right, TorF2 the opposite, Counting2 off by one, everything else silent."""
    by_question = {r["question"]: r for r in records}

    def answer(r: dict) -> str:
        if r["type"] == "TorF1":
            return "\\boxed{yes}" if r["answer"] == 1 else "\\boxed{no}"
        if r["type"] == "TorF2":
            return "\\boxed{no}" if r["answer"] == 1 else "\\boxed{yes}"
        if r["type"] == "Counting2":
            return f"\\boxed{{{r['answer'] + 1}}}"
        if r["type"] == "planning":
            return r["answer_text"]
        return ""

    def fake(model, processor, prompts, cfg, device):
        out = []
        for p in prompts:
            prompt = processor.tokenizer.decode(p["input_ids"][0])
            record = next(r for q, r in by_question.items() if q in prompt)
            ids = processor.tokenizer(answer(record) + "<|im_end|>", add_special_tokens=False)["input_ids"]
            out.append((torch.tensor(ids), False))
        return out

    return fake


def test_scores_through_the_real_pipeline(monkeypatch, dataset, eval_records):
    monkeypatch.setattr(ev, "generate", canned(eval_records))
    result = evaluate(EvalConfig(model="tiny", data=str(dataset), progress=False, batch_size=5))
    r = result.report
    count = {t: sum(x["type"] == t for x in eval_records) for t in TYPES}
    assert r["by_type"]["TorF1"]["accuracy"] == 100.0 and r["by_type"]["planning"]["accuracy"] == 100.0
    assert r["by_type"]["TorF2"]["correct"] == r["by_type"]["Counting1"]["correct"] == r["by_type"]["Counting2"]["correct"] == 0
    right = count["TorF1"] + count["planning"]
    assert r["accuracy"] == round(100 * right / len(eval_records), 2)
    plus = len(eval_records) - count["planning"]
    assert r["weighted_accuracy"] == round(100 * count["TorF1"] / plus, 2)  # the mini map is easy: every weight is 1.0
    p = r["planning"]
    assert p["accuracy_short"] == p["accuracy_long"] == 100.0
    # the gold route is reference route 1: short min(10, 1 + 4k) + 10; long min(20, 1 + 4k + via credit) + 20
    for pred in result.predictions:
        if pred["type"] == "planning":
            rec = next(x for x in eval_records if x["id"] == pred["id"])
            k = len(rec["reference_routes"][0])
            if pred["route_form"] == "short":
                assert pred["map_score"] == min(10, 1 + 4 * k) + 10
            else:
                assert pred["map_score"] > min(20, 1 + 4 * k) + 20 - 1e-9
    assert all(pred["completion"] for pred in result.predictions if pred["type"] in ("TorF1", "planning"))


def test_batched_greedy_equals_one_at_a_time(dataset):
    """Left padding must not change what a prompt generates."""
    one = evaluate(EvalConfig(model="tiny", data=str(dataset), limit=6, batch_size=1, max_new_tokens=6, progress=False))
    many = evaluate(EvalConfig(model="tiny", data=str(dataset), limit=6, batch_size=6, max_new_tokens=6, progress=False))
    assert [p["id"] for p in one.predictions] == [p["id"] for p in many.predictions]
    assert [p["completion"] for p in one.predictions] == [p["completion"] for p in many.predictions]
    assert len({p["prompt_tokens"] for p in many.predictions}) > 1  # the batch really was ragged


def test_over_long_prompts_count_as_wrong(dataset):
    result = evaluate(EvalConfig(model="tiny", data=str(dataset), limit=4, max_prompt_length=10, progress=False))
    assert result.report["skipped"] == 4 and result.report["accuracy"] == 0.0
    assert all(p["skipped"] and p["completion"] == "" for p in result.predictions)


def test_errors_are_messages(tmp_path, dataset, checkpoint, run_cli):
    cases = [
        (["--model", "tiny", "--data", tmp_path / "nope"], "no such dataset folder"),
        (["--model", "tiny", "--data", dataset, "--split", "validation"], "no 'validation' split in data/ (found: test, train)"),
        (["--model", "tiny", "--data", dataset, "--types", "TorF9"], "unknown type(s) TorF9"),
        (["--model", "tiny", "--data", dataset, "--types", "Counting3"], "has no Counting3 records"),
        (["--model", tmp_path / "missing", "--data", dataset], "no such folder"),
        (["--model", "tiny", "--data", dataset, "--reward-mode", "strict"], "--reward-mode 'strict' is not one of"),
    ]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "train_config.json").write_text((checkpoint / "train_config.json").read_text())  # a config, no weights
    cases.append((["--model", broken, "--data", dataset], "not a loadable checkpoint"))
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "train_config.json").write_text("{")
    cases.append((["--model", garbled, "--data", dataset], "is not a readable mapkit training config"))
    for args, message in cases:
        code, _, stderr = run_cli("eval", *args, "--no-progress")
        assert code == 1 and message in stderr and "Traceback" not in stderr, (args, stderr)
    code, _, stderr = run_cli("eval", "--compare", tmp_path / "a.json", tmp_path / "b.json")
    assert code == 1 and "no such report" in stderr
    code, _, stderr = run_cli("eval", "--data", dataset)
    assert code == 2 and "--model" in stderr
    assert json.loads((checkpoint / "train_config.json").read_text())["model"] == "tiny"
