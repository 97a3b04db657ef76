"""Rollouts: dataset loading, pixel budget, prompt length (skip, never truncate), sampling."""
from __future__ import annotations

import logging

import pytest
import torch
from train_support import no_lines, toy_reward, write_dataset

from mapkit.errors import ConfigError, DatasetError
from mapkit.train.config import GRPOConfig
from mapkit.train.models import tiny_model, tiny_processor
from mapkit.train.rollout import build_prompt, fit_to_budget, load_data, placeholder_ids, rollout, sample

pytestmark = pytest.mark.train


@pytest.mark.parametrize("size", [(5800, 5400), (14032, 19843), (30, 20), (1000, 90), (56, 56)])
def test_fit_to_budget(size):
    w, h = fit_to_budget(*size, factor=28, min_pixels=56 * 56, max_pixels=112 * 112)
    assert w % 28 == 0 and h % 28 == 0
    assert 56 * 56 <= w * h <= 112 * 112
    if min(size) >= 56:  # aspect kept within a patch's rounding
        assert abs(w / h - size[0] / size[1]) < 0.6 * size[0] / size[1]


def test_load_data_errors(tmp_path):
    with pytest.raises(ConfigError, match="--data is missing"):
        load_data("")
    with pytest.raises(DatasetError, match="no such dataset folder"):
        load_data(str(tmp_path / "nope"))
    root = write_dataset(tmp_path / "d", per_type=1)
    with pytest.raises(DatasetError, match=r"no 'test' split in data/ \(found: train\)"):
        load_data(str(root), "test")
    assert len(load_data(str(root)).records) == 6


def test_hub_repo_not_cached_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DatasetError, match="not in the local Hugging Face cache"):
        load_data("someone/reasonmap-tokyo@v1.0.0")


def test_over_long_prompts_are_skipped_with_a_warning_never_truncated(tmp_path, caplog):
    root = write_dataset(tmp_path / "d", per_type=1)
    data = load_data(str(root))
    long_record = dict(data.records[0], id="long", question="Alpha Bravo Central " * 200)
    short_record = data.records[1]
    processor = tiny_processor(56 * 56, 56 * 56)
    model = tiny_model(processor)
    cfg = GRPOConfig(model="tiny", num_generations=2, max_new_tokens=4, min_pixels=56 * 56, max_pixels=56 * 56, max_prompt_length=200)
    full_short = build_prompt(processor, short_record, root, cfg)["input_ids"].shape[1]
    assert full_short <= 200 < build_prompt(processor, long_record, root, cfg)["input_ids"].shape[1]
    with caplog.at_level(logging.WARNING, logger="mapkit.train"):
        groups, skipped = rollout(model, processor, [long_record, short_record], root, cfg, torch.device("cpu"), toy_reward, no_lines)
    assert [s["id"] for s in skipped] == ["long"] and skipped[0]["prompt_tokens"] > 200
    assert "skipping record long" in caplog.text and "--max-prompt-length 200" in caplog.text
    assert [g.record["id"] for g in groups] == [short_record["id"]]
    assert groups[0].prompt_length == full_short  # the kept prompt is whole
    assert len(groups[0].completions) == 2 and len(groups[0].rewards) == 2


def test_completions_are_cut_after_the_end_token_and_never_hold_image_tokens():
    processor = tiny_processor(56 * 56, 56 * 56)
    model = tiny_model(processor, seed=5)
    cfg = GRPOConfig(model="tiny", num_generations=8, max_new_tokens=40)
    end = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    with torch.no_grad():  # make the end token likely so some samples stop early
        model.lm_head.weight[end] += 0.4 * model.lm_head.weight.norm(dim=1).mean()
    prompt = dict(processor(text=["<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"], return_tensors="pt"))
    torch.manual_seed(0)
    completions, truncated = sample(model, processor, prompt, cfg, torch.device("cpu"))
    assert len(completions) == 8 and any(not t for t in truncated)
    blocked = set(placeholder_ids(model, processor))
    assert processor.image_token_id in blocked
    for ids, cut in zip(completions, truncated):
        tokens = ids.tolist()
        assert not blocked & set(tokens)
        if cut:
            assert len(tokens) == 40 and end not in tokens
        else:
            assert tokens[-1] in (end, processor.tokenizer.pad_token_id) and end not in tokens[:-1]


def test_paper_reward_plumbing_and_no_detail(tmp_path_factory):
    """The adapter hands records and the annotation's lines to mapkit.rewards, with the switches."""
    from train_support import built_mini

    from mapkit.train.rollout import lines_loader, make_reward

    root = built_mini(tmp_path_factory)
    data = load_data(str(root))
    lines = lines_loader()(root / data.records[0]["annotation"])
    torf = next(r for r in data.records if r["type"] == "TorF1")
    right = f"\\boxed{{{torf['answer_text']}}}"
    paper = make_reward("paper")(right, torf, lines)
    assert paper["correct"] == 10 and paper["format"] == 0 and paper["reward"] == 10 * paper["weight"]
    default = make_reward("default")(right, torf, lines)
    assert default["format"] == 1 and default["reward"] == pytest.approx(11 * default["weight"])
    assert make_reward("paper", weighting="baseline")(right, torf, lines)["weight"] == 1.0
    plan = next(r for r in data.records if r["type"] == "planning" and r["question_transfer_count"] > 0)
    with_detail = make_reward("default")(plan["answer_text"], plan, lines)
    without = make_reward("default", detail=False)(plan["answer_text"], plan, lines)
    assert with_detail["correct"] == 10 and with_detail["detail"] > 0
    assert without["detail"] == 0 and without["reward"] < with_detail["reward"]


def test_hub_repo_at_revision_resolves_from_the_local_cache(monkeypatch, tmp_path):
    """REPO_ID@REVISION is a Hub snapshot; offline it comes from the cache."""
    import shutil

    import huggingface_hub.constants as c

    cache = tmp_path / "cache"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "datasets--someone--reasonmap-mini"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "v1.0.0").write_text(commit)
    shutil.copytree(write_dataset(tmp_path / "d", per_type=1), repo / "snapshots" / commit)
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    data = load_data("someone/reasonmap-mini@v1.0.0")
    assert data.root == repo / "snapshots" / commit and len(data.records) == 6
    with pytest.raises(DatasetError, match="not in the local Hugging Face cache"):
        load_data("someone/reasonmap-mini@v2.0.0")
