"""The GRPO training loop: curriculum batch -> rollouts -> rewards -> advantages -> update.

    >>> from mapkit.train import GRPOConfig, train                          # doctest: +SKIP
    >>> train(GRPOConfig(data="out/tokyo", model="tiny", out="runs/smoke"))  # doctest: +SKIP

Multi-process: ``accelerate launch [--num_processes N] $(which mapkit) train ...``; every
rank walks the same sampler and keeps ``shard(batch, rank, world_size)``, rank 0 writes
logs and checkpoints (the lockstep details are in distributed.py).
"""
from __future__ import annotations

import logging
import math
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mapkit.errors import ConfigError
from mapkit.frames import answer_in_frame
from mapkit.train import checkpoint as ckpt
from mapkit.train.config import DATA_ORDER_FIELDS, GRPOConfig
from mapkit.train.curriculum import CurriculumSampler, shard
from mapkit.train.distributed import Dist, dummy_prompt, even_out, global_advantages, step_share
from mapkit.train.grpo import completion_logprobs, constant_groups, update
from mapkit.train.models import load_policy
from mapkit.train.rollout import PARTS, Group, end_ids, lines_loader, load_data, micro_batches, paper_reward, placeholder_ids, rollout
from mapkit.train.vllm_backend import check_backend, make_generator
from mapkit.vocab import GROUNDING_TYPES

log = logging.getLogger("mapkit.train")


@dataclass
class RunResult:
    out: Path
    steps: int  # steps done in total (including those before a resume)
    last_checkpoint: Path | None
    description: str  # what model ran (says SMOKE MODEL for tiny)
    resumed_at: int | None = None  # step of the checkpoint --resume started from (== steps: it had already finished)


def train(cfg: GRPOConfig, *, reward_fn: Callable | None = None, lines_for: Callable[[dict], Any] | None = None,
          progress: Callable[[dict], None] | None = None) -> RunResult:
    """Run (or resume) GRPO with the curriculum; returns where it ended.

    ``reward_fn(completion, record, lines) -> parts`` and ``lines_for(record)`` default to
    mapkit.rewards with the config's switches; tests pass toy rewards.
    """
    dist = Dist()  # one process, or one of N under `accelerate launch` (distributed.py)
    rank, world, device, main = dist.rank, dist.world, dist.device, dist.main
    if cfg.prompts_per_step % world:
        raise ConfigError(f"--prompts-per-step {cfg.prompts_per_step} does not split evenly over {world} processes; "
                          f"use a multiple of {world}")
    check_backend(cfg)
    out = Path(cfg.out)
    data = load_data(cfg.data, cfg.split)
    sampler = CurriculumSampler([r["id"] for r in data.records], [r["type"] for r in data.records],
                                cfg.stage_configs(), cfg.prompts_per_step, cfg.seed)
    resume_from = _resume_point(cfg, out)
    dist.barrier()  # every rank has looked at --out before rank 0 writes into it
    if reward_fn is None:
        from mapkit.rewards import check_records

        check_records(data.records)  # a record that cannot be scored fails now, not hours into the run
        reward_fn = paper_reward(cfg.reward_mode, cfg.weighting, cfg.detail, cfg.answer_after)
    if lines_for is None:
        load_lines = lines_loader()
        lines_for = lambda record: load_lines(data.root / record["annotation"])
    _seed_everything(cfg.seed)
    policy = load_policy(cfg, device, checkpoint=resume_from)
    processor = policy.processor
    log.info(policy.description)
    optimizer = torch.optim.AdamW([p for p in policy.model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (cfg.warmup_steps + 1)))
    model, optimizer = dist.prepare(policy.model, optimizer)
    params = [p for p in model.parameters() if p.requires_grad]
    dist.seed_rank(cfg.seed)
    start = 0
    if resume_from:
        start = ckpt.load_state(resume_from, optimizer=None if dist.fsdp else optimizer, scheduler=scheduler, sampler=sampler)
        dist.load_optimizer(resume_from, model, optimizer)
        dist.restore_rng(resume_from, cfg.seed, start)
        log.info("resumed from %s (step %d)", resume_from, start)
    total = min(sampler.total_steps(), cfg.max_steps or math.inf)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / "train_config.json")
    runlog = ckpt.RunLog(out, resume_step=start if resume_from else None) if main else None
    board = _tensorboard(out) if main else None
    _, pad_id = end_ids(dist.unwrap(model), processor)
    blocked = placeholder_ids(dist.unwrap(model), processor)
    G, last_saved = cfg.num_generations, resume_from
    slots = -(-cfg.prompts_per_step // world)  # the largest shard of a step
    stand_in = (dummy_prompt(processor, cfg), torch.tensor([pad_id]))
    generator = make_generator(cfg, dist.unwrap(model), processor, data.root, rank)  # None: transformers generate
    bar = _progress_bar(total, start, enabled=cfg.progress and main)

    def save(step: int) -> Path:
        model_state, optimizer_state = dist.full_states(model, optimizer)  # collective under FSDP
        rng_states = dist.rng_states()  # collective with several ranks
        if main:
            ckpt.save(out, step, model=dist.unwrap(model), processor=processor, optimizer=optimizer, scheduler=scheduler,
                      sampler=sampler, cfg=cfg, model_state=model_state, optimizer_state=optimizer_state, rng_states=rng_states)
            ckpt.prune(out, cfg.save_limit)
        dist.barrier()  # no rank runs ahead of (or reads) a half-written checkpoint
        return out / f"checkpoint-{step}"

    try:
        while sampler.step < total and (batch := sampler.next_batch()) is not None:
            t0, step = time.perf_counter(), batch.step + 1
            records = [data.records[i] for i in shard(batch.records, rank, world)]
            dist.records.append([r["id"] for r in records])
            # 1. rollouts on every rank: G samples per prompt; over-long prompts come back in `skipped`
            with dist.generation(model) as gen_model:
                synced = None if generator else dist.synced_sample(gen_model, processor, cfg)  # FSDP only
                groups, skipped = rollout(gen_model, processor, records, data.root, cfg, device, reward_fn, lines_for, generator or synced)
                dist.pad_generation(synced, len(groups), slots, stand_in[0])
            rewards = torch.tensor([p["reward"] for g in groups for p in g.rewards])  # [N = prompts * G], this rank
            correct = torch.tensor([float(p["correct"] > 0) for g in groups for p in g.rewards])
            # 2. groups all right / all wrong carry no signal; advantages use the global batch (batch std)
            flat = constant_groups(correct, G) if groups else torch.zeros(0, dtype=torch.bool)  # [P]
            keep = (~flat).float().repeat_interleave(G) if cfg.skip_zero_std else torch.ones(len(rewards))
            chunks = micro_batches(groups, keep, cfg.micro_batch_size, pad_id, device)
            shared = dist.gather(step_share(groups, skipped, records, chunks,
                                            _sample_completions(step, batch.stage, groups, -(-cfg.log_completions // world))))
            stats: dict[str, float] = {}
            if any(s["groups"] for s in shared):
                advantages = global_advantages([s["parts"]["reward"] for s in shared], rank, G, cfg.scale_rewards).to(device)
                # every rank runs as many micro-batches as the busiest (DDP and FSDP collectives pair up)
                chunks, advantages = even_out(chunks, advantages, max(s["chunks"] for s in shared),
                                              (groups[0].prompt, groups[0].completions[0]) if groups else stand_in, pad_id, device)
                # 3. reference log-probs for the KL term (no reference at all when beta = 0)
                ref_logps = None
                if cfg.beta > 0:
                    with torch.no_grad(), policy.reference() as ref:
                        ref_logps = [completion_logprobs(ref, b["inputs"], b["completion_ids"], cfg.temperature, blocked=blocked)[0]
                                     for b in (c.load() for c in chunks)]
                # 4. clipped-surrogate update(s), token-mean loss over the whole (global) step
                stats = update(model, optimizer, scheduler, chunks, advantages=advantages, cfg=cfg, ref_logps=ref_logps,
                               backward=dist.accelerator.backward, clip_grad=lambda n: _clip(dist.accelerator, params, n),
                               blocked=blocked, n_tokens=sum(s["tokens"] for s in shared) / world, no_sync=dist.no_sync(model))
                if generator is not None:
                    generator.sync(dist.unwrap(model))  # the vLLM engine samples from the updated policy
            stats, seconds = dist.mean(stats), max(dist.gather(time.perf_counter() - t0))
            row = _metrics(step, batch, world, shared, stats, optimizer, seconds, G, data)
            if main:
                runlog.write(row, [c for s in shared for c in s["samples"]][: cfg.log_completions])
                _board_log(board, row)
                bar.update(1)
                bar.set_postfix_str(f"stage {batch.stage} reward {row['reward_mean']:.3f}" if row["prompts"] else f"stage {batch.stage} (all skipped)")
            if progress:
                progress(row)
            if cfg.save_every and step % cfg.save_every == 0:
                last_saved = save(step)
        if last_saved is None or last_saved.name != f"checkpoint-{sampler.step}":
            last_saved = save(sampler.step)
        dist.debug_dump(model)
    finally:
        bar.close()
        if runlog:
            runlog.close()
        if board:
            board.close()
    return RunResult(out=out, steps=sampler.step, last_checkpoint=last_saved, description=policy.description,
                     resumed_at=start if resume_from else None)


# --- helpers ----------------------------------------------------------------------------

def _resume_point(cfg: GRPOConfig, out: Path) -> Path | None:
    found = ckpt.latest(out)
    if not cfg.resume:
        if found is not None or (out / "metrics.jsonl").exists():
            raise ConfigError(f"--out {out} already holds a run; pass --resume to continue it, or choose a new --out")
        return None
    if found is None:
        raise ConfigError(f"--resume: no complete checkpoint in {out}; start without --resume")
    saved = GRPOConfig.load(found / "train_config.json")
    changed = [f for f in DATA_ORDER_FIELDS if getattr(saved, f) != getattr(cfg, f)]
    if changed:
        raise ConfigError("--resume: these settings differ from the checkpoint's and would change which records are seen: "
                          + ", ".join(f"--{f.replace('_', '-')} {getattr(cfg, f)!r} (was {getattr(saved, f)!r})" for f in changed))
    return found


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _clip(accelerator, params, max_norm: float) -> torch.Tensor:
    return accelerator.clip_grad_norm_(params, max_norm if max_norm > 0 else float("inf"))


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def _metrics(step: int, batch, world: int, shared: list[dict], stats: dict, optimizer, seconds: float, G: int, data) -> dict:
    """One row of metrics.jsonl from every rank's share (distributed.step_share)."""
    def cat(key):
        return [x for s in shared for x in s[key]]

    parts = {k: [x for s in shared for x in s["parts"][k]] for k in shared[0]["parts"]}
    lengths, correct = cat("lengths"), cat("correct")
    row: dict[str, Any] = {"step": step, "stage": batch.stage, "stage_index": batch.stage_index, "world_size": world,
                           "record_ids": [data.records[i]["id"] for i in batch.records], "skipped_ids": cat("skipped_ids"),
                           "prompts": sum(s["groups"] for s in shared), "sequences": len(correct)}
    if world > 1:  # who trained on what: the evidence that shards do not overlap
        row["rank_record_ids"] = [s["record_ids"] for s in shared]
    row["reward_mean"], row["reward_std"] = _mean_std(parts["reward"])
    for name in PARTS:
        row[f"{name}_mean"], row[f"{name}_std"] = _mean_std(parts[name])
    by_type: dict[str, list[float]] = defaultdict(list)
    for kind, c in zip(cat("types"), correct):
        by_type[kind].append(c)
    row["accuracy"] = _mean_std(correct)[0]
    row.update({f"accuracy/{t}": statistics.fmean(v) for t, v in sorted(by_type.items())})
    if correct:
        row["frac_zero_std"] = float(constant_groups(torch.tensor(correct), G).float().mean())
        row["frac_reward_zero_std"] = float((torch.tensor(parts["reward"]).view(-1, G).std(dim=1) == 0).float().mean())
    row.update({k: row.get(k, stats.get(k, math.nan)) for k in ("frac_zero_std", "frac_reward_zero_std", "kl", "entropy", "loss", "grad_norm")})
    row["clip_frac"] = stats.get("clip_low", math.nan) + stats.get("clip_high", math.nan)
    row["clip_frac_low"], row["clip_frac_high"] = stats.get("clip_low", math.nan), stats.get("clip_high", math.nan)
    row["completion_len_mean"], _ = _mean_std([float(x) for x in lengths])
    row["completion_len_min"], row["completion_len_max"] = (min(lengths), max(lengths)) if lengths else (None, None)
    row["truncated_frac"] = _mean_std(cat("truncated"))[0]
    row["prompt_len_mean"] = _mean_std(cat("prompt_lengths"))[0]
    row["lr"] = optimizer.param_groups[0]["lr"]
    row["tokens_per_s"] = sum(lengths) / seconds if seconds > 0 else math.nan  # sampled completion tokens per second, all ranks
    row["seconds"] = seconds
    return row


def _sample_completions(step: int, stage: str, groups: list[Group], k: int) -> list[dict]:
    out = []
    for i in range(min(k, sum(len(g.texts) for g in groups))):
        g = groups[i % len(groups)]
        j = (i // len(groups)) % len(g.texts)
        p = g.rewards[j]
        out.append({"step": step, "stage": stage, "record_id": g.record["id"], "type": g.record["type"],
                    "answer": _answer(g.record), "completion": g.texts[j],
                    "truncated": g.truncated[j], **{k2: p.get(k2) for k2 in ("reward", *PARTS, "parsed", "reason")}})
    return out


def _answer(record: dict):
    """The expected answer as the model should write it: a located box or point in the
    pixels of the resized map it saw (Grounding), else the answer text."""
    if record.get("type") in GROUNDING_TYPES and "image_size" in record:
        return answer_in_frame(record)
    return record.get("answer_text", record.get("answer"))


def _progress_bar(total, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=None if math.isinf(total) else int(total), initial=initial, disable=not enabled, unit="step",
                desc="train", dynamic_ncols=True)


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: metrics.jsonl is the record
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _board_log(board, row: dict) -> None:
    if board is None:
        return
    for key, value in row.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and key != "step":
            board.add_scalar(key, value, row["step"])
