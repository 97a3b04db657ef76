"""GRPOConfig: defaults, validation messages, files and CLI overrides."""
from __future__ import annotations

import json
from dataclasses import fields

import pytest

from mapkit.errors import ConfigError
from mapkit.train.config import GRPOConfig


def test_paper_defaults_and_tiny_preset():
    paper = GRPOConfig(model="models/qwen2.5-vl-7b")
    assert (paper.prompts_per_step, paper.num_generations, paper.lr, paper.beta, paper.epsilon) == (16, 4, 1e-6, 0.01, 0.2)
    assert (paper.max_new_tokens, paper.max_prompt_length, paper.entropy_coef, paper.weight_decay) == (2048, 20_000, 1e-3, 0.01)
    assert paper.epsilon_high == 0.2 and paper.stage_steps == 0 and paper.updates_per_batch == 1
    assert (paper.loss_agg, paper.reward_mode, paper.dtype, paper.tiny_warmup_steps) == ("seq-mean-token-mean", "paper", "auto", 0)
    tiny = GRPOConfig(model="tiny")
    assert tiny.is_smoke and tiny.prompts_per_step == 4 and tiny.max_new_tokens == 64 and tiny.stage_steps == 3
    assert tiny.tiny_warmup_steps == 800 and tiny.reward_mode == "default"
    assert GRPOConfig(model="tiny", lora=True).tiny_warmup_steps == 0  # an adapter cannot carry a warmed-up base
    assert GRPOConfig(model="tiny", prompts_per_step=8).prompts_per_step == 8  # explicit values win over the preset


def test_every_field_has_a_default_and_help():
    for f in fields(GRPOConfig):
        assert f.metadata.get("help"), f.name
    GRPOConfig()  # constructible with no arguments


@pytest.mark.parametrize("settings, message", [
    ({"num_generations": 1}, "--num-generations is 1: GRPO compares samples within a group, set it to 2 or more"),
    ({"prompts_per_step": 3, "num_generations": 2, "micro_batch_size": 4},
     r"--micro-batch-size 4 does not divide the 6 sequences of a step .* use one of \[1, 2, 3, 6\]"),
    ({"epsilon": 0.2, "epsilon_high": 0.1}, "--epsilon-high 0.1 is below --epsilon 0.2"),
    ({"min_pixels": 10_000, "max_pixels": 5_000}, "--min-pixels 10000 is larger than --max-pixels 5000"),
    ({"temperature": 0.0}, "--temperature is 0.0"),
    ({"scale_rewards": "rank"}, "--scale-rewards 'rank' is not one of group, batch, none"),
    ({"stages": "1,9"}, r"--stages: '9' is not a stage of the rewardmap curriculum"),
    ({"curriculum": "random"}, "--curriculum 'random' is not one of"),
    ({"stage_steps": -1}, "--stage-steps is -1: set it to 1 or more, or 0 for no cap"),
    ({"lr": -1.0}, "--lr is -1.0: set a positive learning rate"),
    ({"lora": True, "lora_r": 0}, "--lora needs --lora-r >= 1"),
    ({"loss_agg": "sum"}, "--loss-agg 'sum' is not one of seq-mean-token-mean, token-mean"),
    ({"dtype": "bf16"}, "--dtype 'bf16' is not one of auto, bf16-mixed, bfloat16, float16, float32"),
    ({"tiny_warmup_steps": -1}, "--tiny-warmup-steps is -1"),
    ({"tiny_warmup_steps": 5, "lora": True}, "--tiny-warmup-steps with --lora"),
])
def test_bad_combinations_say_what_to_change(settings, message):
    with pytest.raises(ConfigError, match=message):
        GRPOConfig(model="tiny", **settings)


def test_load_toml_then_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('model = "tiny"\nnum-generations = 8\nlr = 3e-6\nstages = "1,2"\n')
    cfg = GRPOConfig.load(path, lr=1e-5, seed=None)  # None = flag not given: the file's value stays
    assert (cfg.num_generations, cfg.lr, cfg.stages, cfg.seed) == (8, 1e-5, "1,2", 0)


def test_load_json_and_train_table(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"model": "tiny", "beta": 0.0}))
    assert GRPOConfig.load(tmp_path / "a.json").beta == 0.0
    (tmp_path / "b.toml").write_text('[train]\nmodel = "tiny"\nepsilon_high = 0.28\n')
    assert GRPOConfig.load(tmp_path / "b.toml").epsilon_high == 0.28


def test_unknown_keys_and_bad_files(tmp_path):
    (tmp_path / "c.toml").write_text('model = "tiny"\nnum_generation = 8\n')
    with pytest.raises(ConfigError, match=r"unknown setting\(s\): num_generation \(did you mean num_generations\?\)"):
        GRPOConfig.load(tmp_path / "c.toml")
    (tmp_path / "d.toml").write_text("model = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        GRPOConfig.load(tmp_path / "d.toml")
    with pytest.raises(ConfigError, match="cannot read the config file"):
        GRPOConfig.load(tmp_path / "missing.toml")


def test_saved_config_loads_back_identically(tmp_path):
    cfg = GRPOConfig(model="tiny", data="x", lr=5e-4, stages="torf")
    cfg.save(tmp_path / "c.json")
    assert GRPOConfig.load(tmp_path / "c.json") == cfg


def test_cli_flags_override_the_file_and_are_validated_before_torch(tmp_path, run_cli):
    path = tmp_path / "run.toml"
    path.write_text('model = "tiny"\nnum_generations = 4\n')
    code, _, err = run_cli("train", "--config", path, "--num-generations", "1", "--data", tmp_path)
    assert code == 1
    assert "--num-generations is 1" in err


def test_cli_help_lists_the_issue_flags(run_cli):
    code, out, _ = run_cli("train", "--help")
    assert code == 0
    for flag in ("--stages", "--data", "--model", "--out", "--max-steps", "--prompts-per-step", "--num-generations",
                 "--max-new-tokens", "--lr", "--seed", "--save-every", "--resume", "--max-pixels", "--min-pixels",
                 "--max-prompt-length", "--scale-rewards", "--epsilon-high", "--beta", "--updates-per-batch",
                 "--skip-zero-std", "--curriculum", "--stage-steps", "--reward-mode", "--weighting", "--no-detail",
                 "--lora", "--freeze-vision", "--config"):
        assert flag in out, flag


def test_the_cli_and_config_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, mapkit.cli, mapkit.train; mapkit.train.GRPOConfig(model='tiny'); "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_example_config_is_the_paper_setting():
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "train_rewardmap.toml"
    cfg = GRPOConfig.load(example, model="models/qwen")
    paper = GRPOConfig(model="models/qwen", gradient_checkpointing=True, save_every=100)
    assert cfg == paper


def test_tiny_warmup_is_refused_for_a_real_model():
    with pytest.raises(ConfigError, match="--tiny-warmup-steps is for the tiny smoke model only"):
        GRPOConfig(model="models/qwen", tiny_warmup_steps=10)


def test_eval_config_shares_the_trainer_checks():
    from mapkit.train.predict import EvalConfig

    with pytest.raises(ConfigError, match="--dtype 'bf16' is not one of auto, bf16-mixed"):
        EvalConfig(model="tiny", data="x", dtype="bf16")
    with pytest.raises(ConfigError, match="--max-pixels 100 is below one 28x28 vision token"):
        EvalConfig(model="tiny", data="x", max_pixels=100, min_pixels=50)
    with pytest.raises(ConfigError, match="--top-p is 0"):
        EvalConfig(model="tiny", data="x", top_p=0)


def test_release_example_holds_the_launch_scripts_values():
    """examples/train_rewardmap_release.toml against the released launch script's values
    (scripts/reward_map.sh over scripts/reward_map.yaml, read by hand)."""
    from pathlib import Path

    cfg = GRPOConfig.load(Path(__file__).resolve().parents[1] / "examples" / "train_rewardmap_release.toml", model="models/m", data="d")
    assert (cfg.prompts_per_step, cfg.num_generations, cfg.micro_batch_size, cfg.updates_per_batch) == (16, 4, 1, 1)
    assert (cfg.lr, cfg.weight_decay, cfg.max_grad_norm, cfg.epsilon, cfg.epsilon_high) == (1e-6, 0.01, 1.0, 0.2, 0.2)
    assert (cfg.beta, cfg.kl_clamp, cfg.entropy_coef, cfg.temperature, cfg.top_p) == (0.01, 10.0, 1e-3, 1.0, 1.0)
    assert (cfg.max_new_tokens, cfg.max_prompt_length, cfg.min_pixels) == (2048, 20000, 3136)
    assert (cfg.loss_agg, cfg.dtype, cfg.reward_mode, cfg.seed, cfg.save_every) == ("seq-mean-token-mean", "bf16-mixed", "paper", 42, 100)
