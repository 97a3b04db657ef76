"""The GRPO training loop: curriculum batch -> rollouts -> rewards -> advantages -> update.

    >>> from mapkit.train import GRPOConfig, train                          # doctest: +SKIP
    >>> train(GRPOConfig(data="out/tokyo", model="tiny", out="runs/smoke"))  # doctest: +SKIP

Multi-process (#8): every rank walks the same sampler and keeps ``shard(batch, rank,
world_size)``; rank 0 writes logs and checkpoints. Here world_size is 1.
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
from mapkit.train import checkpoint as ckpt
from mapkit.train.config import DATA_ORDER_FIELDS, GRPOConfig
from mapkit.train.curriculum import CurriculumSampler, shard
from mapkit.train.grpo import completion_logprobs, constant_groups, group_advantages, update
from mapkit.train.models import load_policy
from mapkit.train.rollout import PARTS, Group, end_ids, lines_loader, load_data, micro_batches, paper_reward, placeholder_ids, rollout

log = logging.getLogger("mapkit.train")


@dataclass
class RunResult:
    out: Path
    steps: int  # steps done in total (including those before a resume)
    last_checkpoint: Path | None
    description: str  # what model ran (says SMOKE MODEL for tiny)


def train(cfg: GRPOConfig, *, reward_fn: Callable | None = None, lines_for: Callable[[dict], Any] | None = None,
          progress: Callable[[dict], None] | None = None) -> RunResult:
    """Run (or resume) GRPO with the curriculum; returns where it ended.

    ``reward_fn(completion, record, lines) -> parts`` and ``lines_for(record)`` default to
    mapkit.rewards with the config's switches; tests pass toy rewards.
    """
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    rank, world = accelerator.process_index, accelerator.num_processes
    if cfg.prompts_per_step % world:
        raise ConfigError(f"--prompts-per-step {cfg.prompts_per_step} does not split evenly over {world} processes; "
                          f"use a multiple of {world}")
    out = Path(cfg.out)
    data = load_data(cfg.data, cfg.split)
    sampler = CurriculumSampler([r["id"] for r in data.records], [r["type"] for r in data.records],
                                cfg.stage_configs(), cfg.prompts_per_step, cfg.seed)
    resume_from = _resume_point(cfg, out)
    if reward_fn is None:
        reward_fn = paper_reward(cfg.reward_mode, cfg.weighting, cfg.detail)
    if lines_for is None:
        load_lines = lines_loader()
        lines_for = lambda record: load_lines(data.root / record["annotation"])
    _seed_everything(cfg.seed)
    policy = load_policy(cfg, accelerator.device, checkpoint=resume_from)
    model, processor = policy.model, policy.processor
    log.info(policy.description)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (cfg.warmup_steps + 1)))
    start = ckpt.load_state(resume_from, optimizer=optimizer, scheduler=scheduler, sampler=sampler) if resume_from else 0
    if resume_from:
        log.info("resumed from %s (step %d)", resume_from, start)
    total = min(sampler.total_steps(), cfg.max_steps or math.inf)
    main = accelerator.is_main_process
    if main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / "train_config.json")
    runlog = ckpt.RunLog(out, resume_step=start if resume_from else None) if main else None
    board = _tensorboard(out) if main else None
    _, pad_id = end_ids(model, processor)
    blocked = placeholder_ids(model, processor)
    G, last_saved = cfg.num_generations, resume_from
    bar = _progress_bar(total, start, enabled=cfg.progress and main)

    def save(step: int) -> Path:
        path = ckpt.save(out, step, model=model, processor=processor, optimizer=optimizer, scheduler=scheduler, sampler=sampler, cfg=cfg)
        ckpt.prune(out, cfg.save_limit)
        return path

    try:
        while sampler.step < total and (batch := sampler.next_batch()) is not None:
            t0, step = time.perf_counter(), batch.step + 1
            records = [data.records[i] for i in shard(batch.records, rank, world)]
            # 1. rollouts: G samples per prompt; over-long prompts come back in `skipped`
            groups, skipped = rollout(model, processor, records, data.root, cfg, accelerator.device, reward_fn, lines_for)
            rewards = torch.tensor([p["reward"] for g in groups for p in g.rewards])  # [N = prompts * G]
            correct = torch.tensor([float(p["correct"] > 0) for g in groups for p in g.rewards])
            # 2. advantages within each group; groups all right / all wrong carry no signal
            stats: dict[str, float] = {}
            if groups:
                advantages = group_advantages(rewards, G, cfg.scale_rewards).to(accelerator.device)
                flat = constant_groups(correct, G)  # [P]
                keep = (~flat).float().repeat_interleave(G) if cfg.skip_zero_std else torch.ones(len(rewards))
                chunks = micro_batches(groups, keep, cfg.micro_batch_size, pad_id, accelerator.device)
                # 3. reference log-probs for the KL term (no reference at all when beta = 0)
                ref_logps = None
                if cfg.beta > 0:
                    with torch.no_grad(), policy.reference() as ref:
                        ref_logps = [completion_logprobs(ref, b["inputs"], b["completion_ids"], cfg.temperature, blocked=blocked)[0]
                                     for b in (c.load() for c in chunks)]
                # 4. clipped-surrogate update(s), token-mean loss over the whole step
                stats = update(model, optimizer, scheduler, chunks, advantages=advantages, cfg=cfg, ref_logps=ref_logps,
                               backward=accelerator.backward, clip_grad=lambda n: _clip(accelerator, params, n), blocked=blocked)
                stats["frac_zero_std"] = float(flat.float().mean())
                stats["frac_reward_zero_std"] = float((rewards.view(-1, G).std(dim=1) == 0).float().mean())
            row = _metrics(step, batch, world, records, groups, skipped, stats, optimizer, time.perf_counter() - t0)
            if main:
                runlog.write(row, _sample_completions(step, batch.stage, groups, cfg.log_completions))
                _board_log(board, row)
                bar.update(1)
                bar.set_postfix_str(f"stage {batch.stage} reward {row['reward_mean']:.3f}" if groups else f"stage {batch.stage} (all skipped)")
            if progress:
                progress(row)
            if cfg.save_every and step % cfg.save_every == 0 and main:
                last_saved = save(step)
        if main and (last_saved is None or last_saved.name != f"checkpoint-{sampler.step}"):
            last_saved = save(sampler.step)
    finally:
        bar.close()
        if runlog:
            runlog.close()
        if board:
            board.close()
    return RunResult(out=out, steps=sampler.step, last_checkpoint=last_saved, description=policy.description)


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


def _metrics(step: int, batch, world: int, records: list[dict], groups: list[Group], skipped: list[dict],
             stats: dict, optimizer, seconds: float) -> dict:
    parts = [p for g in groups for p in g.rewards]
    lengths = [len(c) for g in groups for c in g.completions]
    row: dict[str, Any] = {"step": step, "stage": batch.stage, "stage_index": batch.stage_index, "world_size": world,
                           "record_ids": [r["id"] for r in records], "skipped_ids": [s["id"] for s in skipped],
                           "prompts": len(groups), "sequences": len(parts)}
    row["reward_mean"], row["reward_std"] = _mean_std([p["reward"] for p in parts])
    for name in PARTS:
        row[f"{name}_mean"], row[f"{name}_std"] = _mean_std([p[name] for p in parts])
    by_type: dict[str, list[float]] = defaultdict(list)
    for g in groups:
        by_type[g.record["type"]].extend(float(p["correct"] > 0) for p in g.rewards)
    row["accuracy"] = _mean_std([x for v in by_type.values() for x in v])[0]
    row.update({f"accuracy/{t}": statistics.fmean(v) for t, v in sorted(by_type.items())})
    row.update({k: stats.get(k, math.nan) for k in ("frac_zero_std", "frac_reward_zero_std", "kl", "entropy", "loss", "grad_norm")})
    row["clip_frac"] = stats.get("clip_low", math.nan) + stats.get("clip_high", math.nan)
    row["clip_frac_low"], row["clip_frac_high"] = stats.get("clip_low", math.nan), stats.get("clip_high", math.nan)
    row["completion_len_mean"], _ = _mean_std([float(x) for x in lengths])
    row["completion_len_min"], row["completion_len_max"] = (min(lengths), max(lengths)) if lengths else (None, None)
    row["truncated_frac"] = _mean_std([float(t) for g in groups for t in g.truncated])[0]
    row["prompt_len_mean"] = _mean_std([float(g.prompt_length) for g in groups])[0]
    row["lr"] = optimizer.param_groups[0]["lr"]
    row["tokens_per_s"] = sum(lengths) / seconds if seconds > 0 else math.nan  # sampled completion tokens per second
    row["seconds"] = seconds
    return row


def _sample_completions(step: int, stage: str, groups: list[Group], k: int) -> list[dict]:
    out = []
    for i in range(min(k, sum(len(g.texts) for g in groups))):
        g = groups[i % len(groups)]
        j = (i // len(groups)) % len(g.texts)
        p = g.rewards[j]
        out.append({"step": step, "stage": stage, "record_id": g.record["id"], "type": g.record["type"],
                    "answer": g.record.get("answer_text", g.record.get("answer")), "completion": g.texts[j],
                    "truncated": g.truncated[j], **{k2: p.get(k2) for k2 in ("reward", *PARTS, "parsed", "reason")}})
    return out


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
