"""Data-parallel training: two CPU processes (gloo) under `accelerate launch`, the
lockstep helpers, and the vLLM switch."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_support import built_mini

from mapkit.train.distributed import even_out, global_advantages
from mapkit.train.grpo import group_advantages

pytestmark = pytest.mark.train


@pytest.fixture
def dataset(tmp_path_factory) -> Path:
    return built_mini(tmp_path_factory)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path: Path, args: list, debug: Path) -> subprocess.CompletedProcess:
    """`accelerate launch --multi_gpu --num_processes 2 -m mapkit train ARGS` (with no GPU
    visible accelerate starts torchrun and the ranks join a gloo group)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "MAPKIT_DIST_DEBUG": str(debug),
           "HF_HOME": str(tmp_path / "hf"),  # no user accelerate config leaks in
           "CUDA_VISIBLE_DEVICES": "", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           "-m", "mapkit", "train", *map(str, args)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, check=False)


def _digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.slow  # two launches of two processes: ~20 s on a 2-core machine
def test_two_processes_train_disjoint_shards_with_identical_weights(tmp_path, dataset):
    """3 steps on 2 ranks: TorF (2 records each), the one Counting3 record (rank 1's shard
    is empty: it runs zero-weight dummies), planning; killed after step 2, then resumed."""
    out, debug = tmp_path / "run", tmp_path / "debug"
    args = ["--data", dataset, "--model", "tiny", "--out", out, "--stages", "torf,Counting3,planning", "--stage-steps", 1,
            "--prompts-per-step", 4, "--num-generations", 2, "--micro-batch-size", 2, "--max-new-tokens", 6,
            "--max-pixels", 3136, "--save-every", 2, "--scale-rewards", "batch", "--no-progress",
            "--tiny-warmup-steps", 20]  # every rank warms up alike
    first = _launch(tmp_path, [*args, "--max-steps", 2], debug / "first")
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = _launch(tmp_path, [*args, "--resume"], debug / "resumed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("trained 3 step(s)") == 1  # rank 0 alone reports

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]  # one writer: no row twice
    assert [r["stage"] for r in rows] == ["torf", "counting23", "planning"]
    for r in rows:
        assert r["world_size"] == 2
        rank0, rank1 = r["rank_record_ids"]
        assert not set(rank0) & set(rank1) and sorted(rank0 + rank1) == sorted(r["record_ids"])
    assert [len(ids) for ids in rows[1]["rank_record_ids"]] == [1, 0]  # the lone Counting3 record
    assert rows[1]["loss"] is not None and rows[1]["sequences"] == 2

    # each rank's own account of what it trained on, and of its weights
    for run, steps in (("first", [0, 1]), ("resumed", [2])):
        ranks = [json.loads((debug / run / f"rank-{i}.json").read_text()) for i in (0, 1)]
        assert [e["world_size"] for e in ranks] == [2, 2]
        for i, evidence in enumerate(ranks):
            assert evidence["record_ids"] == [rows[s]["rank_record_ids"][i] for s in steps]
        assert ranks[0]["param_sha256"] == ranks[1]["param_sha256"]  # gradients were synchronised

    # rank 0 wrote the run folder, and the checkpoint holds the weights every rank ended with
    assert sorted(p.name for p in out.iterdir() if p.name != "tensorboard") == [
        "checkpoint-2", "checkpoint-3", "completions.jsonl", "metrics.jsonl", "train_config.json"]
    logged = [json.loads(line)["step"] for line in (out / "completions.jsonl").read_text().splitlines()]
    assert logged == [1] * 4 + [2] * 2 + [3] * 4  # --log-completions 4, from both ranks (step 2 has 2 completions)
    assert (out / "checkpoint-3" / "rng_states.pt").is_file()
    if (out / "tensorboard").exists():
        assert len(list((out / "tensorboard").iterdir())) == 2  # one event file per launch, from rank 0
    from mapkit.train.models import load_checkpoint

    model, _ = load_checkpoint(out / "checkpoint-3")
    assert _digest(model) == ranks[0]["param_sha256"]


def test_global_advantages_match_one_process():
    rewards = torch.tensor([1.0, 0.0, 3.0, 3.0, 0.5, 0.0, 2.0, 1.0])  # 4 groups of 2
    for scale in ("group", "batch", "none"):
        whole = group_advantages(rewards, 2, scale)
        halves = [rewards[:4].tolist(), rewards[4:].tolist()]
        parts = [global_advantages(halves, rank, 2, scale) for rank in (0, 1)]
        assert torch.allclose(torch.cat(parts), whole), scale
    # the batch std is the global one, not a rank's own
    assert not torch.allclose(global_advantages([rewards[:4].tolist()], 0, 2, "batch"), group_advantages(rewards, 2, "batch")[:4])


def test_even_out_pads_with_zero_weight_dummies():
    from mapkit.train.rollout import MicroBatch

    prompt = {"input_ids": torch.tensor([[1, 2, 3]]), "attention_mask": torch.ones(1, 3, dtype=torch.long)}
    real = [MicroBatch([(prompt, torch.tensor([4, 5]))], torch.tensor([0]), torch.ones(1), 0, "cpu")]
    chunks, adv = even_out(real, torch.tensor([0.7]), 3, (prompt, torch.tensor([0])), 0, "cpu")
    assert len(chunks) == 3 and chunks[0] is real[0]
    assert adv.tolist() == pytest.approx([0.7, 0.0]) and all(c.rows.tolist() == [1] for c in chunks[1:])
    assert sum(c.tokens for c in chunks) == 2  # dummies add no tokens to the loss
    empty, adv = even_out([], torch.zeros(0), 2, (prompt, torch.tensor([0])), 0, "cpu")
    assert len(empty) == 2 and adv.tolist() == [0.0]
    same, _ = even_out(real, torch.tensor([0.7]), 1, (prompt, torch.tensor([0])), 0, "cpu")
    assert same == real


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_backend_without_vllm_is_a_clear_error(tmp_path, dataset, run_cli):
    code, _, stderr = run_cli("train", "--data", dataset, "--model", "tiny", "--out", tmp_path / "r",
                              "--generation-backend", "vllm", "--no-progress")
    assert code == 1
    assert "--generation-backend vllm: the vllm package is not installed" in stderr
    assert not (tmp_path / "r").exists()  # refused before any model loaded or file was written


def test_generation_backend_is_validated():
    from mapkit.errors import ConfigError
    from mapkit.train.config import GRPOConfig

    with pytest.raises(ConfigError, match="--generation-backend 'sglang' is not one of hf, vllm"):
        GRPOConfig(model="tiny", generation_backend="sglang")
    with pytest.raises(ConfigError, match="--vllm-gpu-memory-utilization is 1.5"):
        GRPOConfig(model="tiny", vllm_gpu_memory_utilization=1.5)


@pytest.mark.gpu
def test_vllm_backend_trains_the_tiny_model(tmp_path, dataset):
    """Colocated vLLM rollouts on a GPU: two steps, weights synced after each update."""
    pytest.importorskip("vllm")
    from train_support import no_lines, tiny_config, toy_reward

    from mapkit.train.trainer import train

    cfg = tiny_config(tmp_path, dataset, max_steps=2, generation_backend="vllm", vllm_gpu_memory_utilization=0.2)
    result = train(cfg, reward_fn=toy_reward, lines_for=no_lines)
    rows = [json.loads(line) for line in (Path(cfg.out) / "metrics.jsonl").read_text().splitlines()]
    assert result.steps == 2 and all(r["sequences"] == 4 and r["completion_len_mean"] > 0 for r in rows)
