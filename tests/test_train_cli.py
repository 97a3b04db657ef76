"""`mapkit train` from the command line, in-process."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_support import built_mini, no_lines, toy_reward

from mapkit.train import trainer

pytestmark = pytest.mark.train


@pytest.fixture
def dataset(tmp_path_factory) -> Path:
    return built_mini(tmp_path_factory)


@pytest.fixture
def toy_rewards(monkeypatch):
    monkeypatch.setattr(trainer, "make_reward", lambda *a, **k: toy_reward)
    monkeypatch.setattr(trainer, "lines_loader", lambda: no_lines)


def test_cli_runs_all_stages_then_resumes(tmp_path, dataset, run_cli, toy_rewards):
    out = tmp_path / "run"
    args = ["train", "--stages", "all", "--data", dataset, "--model", "tiny", "--out", out, "--stage-steps", "1",
            "--max-pixels", 3136, "--max-new-tokens", 8, "--prompts-per-step", 2, "--num-generations", 2, "--no-progress",
            "--tiny-warmup-steps", 20]  # a short warm-up: the resumed run must rebuild the same reference
    code, stdout, stderr = run_cli(*args, "--max-steps", 3)
    assert code == 0, stderr
    assert "SMOKE MODEL" in stderr
    assert f"latest checkpoint: {out / 'checkpoint-3'}" in stdout
    code, _, stderr = run_cli(*args)  # the run exists: refuse rather than overwrite
    assert code == 1 and "pass --resume" in stderr
    code, stdout, stderr = run_cli(*args, "--resume")
    assert code == 0, stderr
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in rows] == ["torf", "counting23", "counting1", "planning"]
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["max_new_tokens"] == 8 and saved["model"] == "tiny"


def test_cli_config_file_with_flag_override(tmp_path, dataset, run_cli, toy_rewards):
    config = tmp_path / "smoke.toml"
    config.write_text(f'data = "{dataset}"\nmodel = "tiny"\nstages = "planning"\nmax_steps = 1\nmax_pixels = 3136\n'
                      f'max_new_tokens = 4\nprompts_per_step = 2\nnum_generations = 2\nprogress = false\ntiny_warmup_steps = 0\n')
    code, _, stderr = run_cli("train", "--config", config, "--out", tmp_path / "r", "--stages", "counting1")
    assert code == 0, stderr
    (row,) = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert row["stage"] == "counting1"  # the flag beat the file


def test_cli_missing_data_and_model_are_clear(tmp_path, dataset, run_cli, toy_rewards):
    code, _, stderr = run_cli("train", "--model", "tiny", "--out", tmp_path / "r")
    assert code == 1 and "--data is missing" in stderr
    code, _, stderr = run_cli("train", "--model", "tiny", "--data", tmp_path / "nope", "--out", tmp_path / "r")
    assert code == 1 and "no such dataset folder" in stderr
    code, _, stderr = run_cli("train", "--model", tmp_path / "nope", "--data", dataset, "--out", tmp_path / "r")
    assert code == 1 and "no such folder; give a local model folder" in stderr
