"""Data-parallel training through accelerate: what keeps N ranks in step.

    accelerate launch --num_processes 8 $(which mapkit) train --data out/tokyo --model PATH ...

Every rank walks the same curriculum sampler and keeps its round-robin slice of each
step's records (``curriculum.shard``), generates and scores its own groups and
backpropagates its own micro-batches; the model wrapper from ``accelerator.prepare``
(DDP, or FSDP from accelerate's own config) averages the gradients. Rank 0 alone writes
metrics.jsonl, completions.jsonl and checkpoints.

* Loss scale: a rank divides its loss sum by (global tokens or sequences, by --loss-agg,
  / world); DDP averages the ranks' gradients, so the update is the single-process mean
  over the global batch.
  ``--scale-rewards batch`` divides by the std of the global batch's rewards.
* Lockstep: DDP all-reduces in backward and FSDP all-gathers in every forward, so every
  rank runs the same number of micro-batches; a rank with fewer (uneven or empty shard,
  skipped prompts) pads with zero-weight dummies. Under FSDP every rank also makes the
  same number of ``generate`` calls (``synced_gpus``).
* Metrics: one ``all_gather_object`` of small per-rank lists after the rollouts and one
  after the update; every rank builds the same row.
* Resume: the sampler state is the same on every rank; each rank's RNG state is saved
  (rng_states.pt) and restored when the world size is unchanged.

On a CPU machine ``accelerate launch --cpu`` starts one process; use
``accelerate launch --multi_gpu --num_processes 2 ...`` (torchrun with gloo when no GPU
is visible) or ``python -m torch.distributed.run --nproc_per_node 2 -m mapkit train ...``.
Set ``MAPKIT_DIST_DEBUG=DIR`` to make each rank write DIR/rank-<r>.json (its records per
step and a checksum of its parameters) at the end of a run.

8 GPUs, Qwen2.5-VL-7B, the paper's batch (16 prompts x 4 generations = 2 prompts and 8
sequences per rank per step), FSDP2 with bf16 compute over float32 master weights:

    accelerate launch --num_processes 8 --use_fsdp --fsdp_version 2 --mixed_precision bf16 \\
      --fsdp_auto_wrap_policy TRANSFORMER_BASED_WRAP \\
      --fsdp_transformer_layer_cls_to_wrap Qwen2_5_VLDecoderLayer,Qwen2_5_VLVisionBlock \\
      --fsdp_state_dict_type FULL_STATE_DICT --fsdp_reshard_after_forward true \\
      $(which mapkit) train --config examples/train_rewardmap.toml --data out/tokyo \\
      --model models/Qwen2.5-VL-7B-Instruct --out runs/rewardmap-7b --dtype float32 \\
      --prompts-per-step 16 --num-generations 4 --micro-batch-size 2

DeepSpeed is refused (its optimizer and checkpoints need their own path): use FSDP.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mapkit.errors import ConfigError
from mapkit.train import checkpoint as ckpt

log = logging.getLogger("mapkit.train")

DEBUG_ENV = "MAPKIT_DIST_DEBUG"


class Dist:
    """The accelerator plus the few collective steps the trainer needs. With one process
    every method is a pass-through."""

    def __init__(self):
        from accelerate import Accelerator
        from accelerate.utils import DistributedType

        self.accelerator = acc = Accelerator(cpu=not torch.cuda.is_available())
        if acc.distributed_type == DistributedType.DEEPSPEED:
            raise ConfigError("mapkit train does not run under DeepSpeed (its optimizer and checkpoints need their own "
                              "path); shard with FSDP instead: accelerate launch --use_fsdp --fsdp_version 2 ...")
        self.rank, self.world, self.main, self.device = acc.process_index, acc.num_processes, acc.is_main_process, acc.device
        self.fsdp = acc.distributed_type == DistributedType.FSDP
        self.records: list[list[str]] = []  # this rank's record ids per step (MAPKIT_DIST_DEBUG)

    # --- setup ---------------------------------------------------------------------
    def prepare(self, model, optimizer):
        """Wrap model and optimizer (DDP / FSDP); FSDP2 wants both in one call."""
        return self.accelerator.prepare(model, optimizer)

    def unwrap(self, model):
        return self.accelerator.unwrap_model(model)

    def seed_rank(self, seed: int) -> None:
        """Different sampling streams per rank (the same seed would draw the same noise)."""
        if self.world > 1:
            s = int(np.random.SeedSequence([seed, self.rank]).generate_state(1)[0])
            import random

            random.seed(s)
            np.random.seed(s)
            torch.manual_seed(s)

    # --- collectives ---------------------------------------------------------------
    def gather(self, obj: Any) -> list:
        """Every rank's ``obj`` (small, picklable), on every rank, in rank order."""
        if self.world == 1:
            return [obj]
        out: list = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def mean(self, stats: dict) -> dict:
        """Per-key mean over ranks (NaN where a key is NaN everywhere)."""
        if self.world == 1:
            return stats
        everyone = self.gather(stats)
        out = {}
        for key in stats:
            values = [s[key] for s in everyone if s[key] == s[key]]  # drop NaN
            out[key] = sum(values) / len(values) if values else float("nan")
        return out

    def no_sync(self, model):
        """Context for the micro-batches before an update's last: DDP skips their
        all-reduce. None in one process and under FSDP (it reduce-scatters each one)."""
        if self.world == 1 or self.fsdp:
            return None
        return lambda: self.accelerator.no_sync(model)

    # --- generation ------------------------------------------------------------------
    @contextlib.contextmanager
    def generation(self, model):
        """The module to call ``generate`` on. Under FSDP1 the root's own parameters are
        gathered first (the inner units gather theirs in forward, as TRL does)."""
        plain = self.unwrap(model)
        if self.fsdp and not self.accelerator.is_fsdp2:
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

            with FSDP.summon_full_params(model, recurse=False, writeback=False):
                yield plain
        else:
            yield plain

    @contextlib.contextmanager
    def sampling(self, model, processor, cfg, generator, slots: int, stand_in: dict):
        """``with dist.sampling(...) as (gen_model, sample_fn):`` the module to generate
        with and rollout's ``sample_fn`` (None: plain transformers generate).

        ``generator`` (vLLM) samples on its own. Under FSDP, transformers' generate runs
        with ``synced_gpus`` (every rank keeps stepping until all are done), and a rank
        that made fewer calls than the largest shard (``slots``) makes dummy ones on
        ``stand_in`` at the end, so the weight gathers inside generate pair up."""
        from mapkit.train.rollout import sample

        with self.generation(model) as gen_model:
            if generator is not None or not self.fsdp:
                yield gen_model, generator
                return
            calls = 0

            def synced(prompt, record):
                nonlocal calls
                calls += 1
                return sample(gen_model, processor, prompt, cfg, self.device, synced_gpus=True)

            yield gen_model, synced
            for _ in range(slots - calls):
                sample(gen_model, processor, stand_in, cfg, self.device, synced_gpus=True)

    # --- one step's shares -------------------------------------------------------------
    def take(self, rows, table: list[dict]) -> list[dict]:
        """This rank's slice (round robin) of a step's rows of the record ``table``; its ids
        are remembered for the MAPKIT_DIST_DEBUG evidence."""
        from mapkit.train.curriculum import shard

        mine = [table[i] for i in shard(rows, self.rank, self.world)]
        self.records.append([r["id"] for r in mine])
        return mine

    def advantages(self, shared: list[dict], group_size: int, scale: str) -> torch.Tensor:
        """This rank's advantages from every rank's rewards (``shared``: step_share of each)."""
        return global_advantages([s["parts"]["reward"] for s in shared], self.rank, group_size, scale).to(self.device)

    def denominator(self, shared: list[dict]) -> float:
        """What each rank divides its loss sum by: the global batch's loss units (tokens
        or sequences, by --loss-agg) / world size, so the ranks' averaged gradients are
        the single-process mean over the whole step."""
        return sum(s["units"] for s in shared) / self.world

    def even_out(self, chunks: list, advantages: torch.Tensor, shared: list[dict], filler, pad_id: int):
        """Pad this rank's micro-batches to the busiest rank's count (see ``even_out``)."""
        return even_out(chunks, advantages, max(s["chunks"] for s in shared), filler, pad_id, self.device)

    # --- checkpoints -----------------------------------------------------------------
    def full_states(self, model, optimizer) -> tuple[dict | None, dict | None]:
        """(model, optimizer) state dicts gathered in full under FSDP, a collective every
        rank calls; (None, None) otherwise: they are saved as they are."""
        if not self.fsdp:
            return None, None
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        return get_state_dict(model, getattr(optimizer, "optimizer", optimizer),
                              options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def load_optimizer(self, path: Path, model, optimizer) -> None:
        """Under FSDP: rank 0 reads the full optimizer state and scatters it."""
        if not self.fsdp:
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        full = torch.load(path / "optimizer.pt", weights_only=False) if self.main else {}
        set_optimizer_state_dict(model, getattr(optimizer, "optimizer", optimizer), optim_state_dict=full,
                                 options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))

    def rng_states(self) -> list | None:
        return self.gather(ckpt.rng_state()) if self.world > 1 else None

    def restore_rng(self, path: Path, seed: int, step: int) -> None:
        """Each rank's saved RNG state; from a run with another world size, fresh
        streams per rank (rank 0's state was restored with the rest)."""
        if self.world == 1:
            return
        file = path / "rng_states.pt"
        states = torch.load(file, weights_only=False) if file.is_file() else None
        if states is not None and len(states) == self.world:
            ckpt.set_rng_state(states[self.rank])
        else:
            log.info("resume: the checkpoint holds no RNG state for %d ranks; seeding each rank afresh", self.world)
            self.seed_rank(seed + step)

    # --- evidence --------------------------------------------------------------------
    def debug_dump(self, model) -> None:
        """With MAPKIT_DIST_DEBUG=DIR: DIR/rank-<r>.json with this rank's record ids per
        step and a SHA-256 of its parameters (equal on every rank under DDP)."""
        folder = os.environ.get(DEBUG_ENV)
        if not folder:
            return
        digest = hashlib.sha256()
        for name, tensor in sorted(self.unwrap(model).state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        Path(folder).mkdir(parents=True, exist_ok=True)
        evidence = {"rank": self.rank, "world_size": self.world, "record_ids": self.records, "param_sha256": digest.hexdigest()}
        (Path(folder) / f"rank-{self.rank}.json").write_text(json.dumps(evidence) + "\n")


# --- advantages and micro-batches in lockstep ------------------------------------------

def global_advantages(rewards: list[list[float]], rank: int, group_size: int, scale: str) -> torch.Tensor:
    """This rank's [N_rank] advantages from every rank's rewards (rank order): group
    statistics stay within a rank's own groups; --scale-rewards batch divides by the std
    of the whole step's rewards, as one process would."""
    from mapkit.train.grpo import group_advantages

    start = sum(len(r) for r in rewards[:rank])
    everyone = torch.tensor([x for r in rewards for x in r])  # [N_global]
    return group_advantages(everyone, group_size, scale)[start:start + len(rewards[rank])]



def even_out(chunks: list, advantages: torch.Tensor, target: int, filler: tuple[dict, torch.Tensor], pad_id: int, device):
    """Pad ``chunks`` to ``target`` micro-batches with zero-weight copies of ``filler``
    (prompt inputs, completion ids); returns (chunks, advantages + one 0 they point at).
    A dummy runs the full model (vision tower included), so DDP sees every parameter's
    gradient, all zero."""
    from mapkit.train.rollout import MicroBatch

    if len(chunks) >= target:
        return chunks, advantages
    row = len(advantages)
    advantages = torch.cat([advantages, advantages.new_zeros(1)])
    dummy = MicroBatch([filler], torch.tensor([row]), torch.zeros(1), pad_id, device)
    return chunks + [dummy] * (target - len(chunks)), advantages


def dummy_prompt(processor, cfg) -> dict:
    """Processor inputs for a blank map and a one-character question: a stand-in for a
    rank with nothing to train on this step."""
    from PIL import Image

    from mapkit.train.rollout import fit_to_budget, patch_factor

    size = fit_to_budget(56, 56, patch_factor(processor), cfg.min_pixels, cfg.max_pixels)
    content = [{"type": "image"}, {"type": "text", "text": "?"}]
    text = processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True)
    return dict(processor(text=[text], images=[Image.new("RGB", size, "white")], return_tensors="pt"))


def step_share(groups: list, skipped: list, records: list[dict], chunks: list, samples: list[dict], loss_agg: str) -> dict:
    """What one rank tells the others after its rollouts: plain lists for the metrics,
    the rewards for the advantages, its loss units and micro-batch count for the lockstep."""
    from mapkit.train.rollout import PARTS

    parts = [p for g in groups for p in g.rewards]
    return {
        "record_ids": [r["id"] for r in records], "skipped_ids": [s["id"] for s in skipped],
        "parts": {k: [float(p[k]) for p in parts] for k in ("reward", *PARTS)},
        "correct": [float(p["correct"] > 0) for p in parts],
        "types": [g.record["type"] for g in groups for _ in g.rewards],
        "lengths": [len(c) for g in groups for c in g.completions],
        "truncated": [float(t) for g in groups for t in g.truncated],
        "prompt_lengths": [float(g.prompt_length) for g in groups],
        "units": sum(c.units(loss_agg) for c in chunks), "chunks": len(chunks), "groups": len(groups), "samples": samples,
    }
