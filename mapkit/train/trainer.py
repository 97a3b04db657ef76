"""The GRPO training loop: curriculum batch -> rollouts -> rewards -> advantages -> update -> log.

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
from mapkit.train.chance import ChanceMeter
from mapkit.train.config import DATA_ORDER_FIELDS, GRPOConfig
from mapkit.train.curriculum import CurriculumSampler
from mapkit.train.distributed import Dist, dummy_prompt, step_share
from mapkit.train.generation import end_ids, placeholder_ids
from mapkit.train.grpo import completion_logprobs, constant_groups, update
from mapkit.train.models import load_policy
from mapkit.train.rollout import PARTS, Group, lines_loader, load_data, make_reward, micro_batches, rollout
from mapkit.train.vllm_backend import check_backend, make_generator
from mapkit.train.warmup import tiny_words, warm_up
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
    if cfg.prompts_per_step % dist.world:
        raise ConfigError(f"--prompts-per-step {cfg.prompts_per_step} does not split evenly over {dist.world} processes; "
                          f"use a multiple of {dist.world}")
    check_backend(cfg)
    out = Path(cfg.out)
    data = load_data(cfg.data, cfg.split)
    sampler = CurriculumSampler([r["id"] for r in data.records], [r["type"] for r in data.records],
                                cfg.stage_configs(), cfg.prompts_per_step, cfg.seed,
                                [r["difficulty_city"] for r in data.records])
    resume_from = _resume_point(cfg, out)
    dist.barrier()  # every rank has looked at --out before rank 0 writes into it
    log_chance = False  # the question-blind guesser's reward, logged with mapkit's own reward only (chance.py)
    if reward_fn is None:
        from mapkit.rewards import check_records

        check_records(data.records)  # a record that cannot be scored fails now, not hours into the run
        reward_fn = make_reward(cfg.reward_mode, cfg.weighting, cfg.detail, cfg.answer_after)
        log_chance = True
    if lines_for is None:
        load_lines = lines_loader()

        def lines_for(record):
            return load_lines(data.root / record["annotation"])

    chance = ChanceMeter(reward_fn, lines_for) if log_chance and dist.main else None
    _seed_everything(cfg.seed)
    def warm(model, processor) -> None:  # the tiny model learns the answer formats first (warmup.py)
        warm_up(model, processor, data.records, data.root, cfg, cfg.tiny_warmup_steps, dist.device)

    policy = load_policy(cfg, dist.device, checkpoint=resume_from, prepare=warm if cfg.is_smoke and cfg.tiny_warmup_steps else None,
                         words=tiny_words(data.records, data.root) if cfg.is_smoke else (),
                         texts=tuple(sorted(r["question"] for r in data.records)) if cfg.is_smoke else ())
    processor = policy.processor
    log.info(policy.description)
    optimizer = torch.optim.AdamW([p for p in policy.model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (cfg.warmup_steps + 1)))
    model, optimizer = dist.prepare(policy.model, optimizer)
    params = [p for p in model.parameters() if p.requires_grad]
    dist.seed_rank(cfg.seed)
    if resume_from:
        ckpt.load_state(resume_from, optimizer=None if dist.fsdp else optimizer, scheduler=scheduler, sampler=sampler)
        dist.load_optimizer(resume_from, model, optimizer)
        dist.restore_rng(resume_from, cfg.seed, sampler.step)
        log.info("resumed from %s (step %d)", resume_from, sampler.step)
    start = sampler.step  # 0, or the checkpoint's step
    total = min(sampler.total_steps(), cfg.max_steps or math.inf)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / "train_config.json")
    runlog = ckpt.RunLog(out, resume_step=sampler.step if resume_from else None) if dist.main else None
    board = _tensorboard(out) if dist.main else None
    _, pad_id = end_ids(dist.unwrap(model), processor)
    blocked = placeholder_ids(dist.unwrap(model), processor)
    G, last_saved = cfg.num_generations, resume_from
    slots = -(-cfg.prompts_per_step // dist.world)  # the largest shard of a step
    stand_in = (dummy_prompt(processor, cfg), torch.tensor([pad_id]))  # for a rank with nothing to do (lockstep)
    generator = make_generator(cfg, dist.unwrap(model), processor, data.root, dist.rank, policy.precision.compute)  # None: HF
    bar = _progress_bar(total, sampler.step, enabled=cfg.progress and dist.main)

    def save(step: int) -> Path:
        model_state, optimizer_state = dist.full_states(model, optimizer)  # collective under FSDP
        rng_states = dist.rng_states()  # collective with several ranks
        if dist.main:
            ckpt.save(out, step, model=dist.unwrap(model), processor=processor, optimizer=optimizer, scheduler=scheduler,
                      sampler=sampler, cfg=cfg, model_state=model_state, optimizer_state=optimizer_state, rng_states=rng_states)
            ckpt.prune(out, cfg.save_limit)
        dist.barrier()  # no rank runs ahead of (or reads) a half-written checkpoint
        return out / f"checkpoint-{step}"

    def roll(records: list[dict]) -> tuple[list[Group], list[dict]]:
        """G completions per prompt on this rank, scored; over-long prompts come back skipped."""
        with dist.sampling(model, processor, cfg, generator, slots, stand_in[0]) as (gen_model, sample_fn), policy.autocast():
            return rollout(gen_model, processor, records, data.root, cfg, dist.device, reward_fn, lines_for, sample_fn)

    def learn(groups: list[Group], chunks: list, shared: list[dict]) -> dict:
        """Advantages over the global batch, reference log-probs, clipped-surrogate update(s)."""
        advantages = dist.advantages(shared, G, cfg.scale_rewards)
        filler = (groups[0].prompt, groups[0].completions[0]) if groups else stand_in
        chunks, advantages = dist.even_out(chunks, advantages, shared, filler, pad_id)  # same micro-batch count on every rank
        ref_logps, t0 = None, _clock(dist.device)
        if cfg.beta > 0:  # beta 0 loads no reference at all
            with torch.no_grad(), policy.reference() as ref, policy.autocast():
                ref_logps = [completion_logprobs(ref, b["inputs"], b["completion_ids"], cfg.temperature, blocked=blocked)[0]
                             for b in (c.load() for c in chunks)]
        t1 = _clock(dist.device)
        stats = update(model, optimizer, scheduler, chunks, advantages=advantages, cfg=cfg, ref_logps=ref_logps,
                       backward=dist.accelerator.backward, clip_grad=lambda n: _clip(dist.accelerator, params, n),
                       blocked=blocked, denominator=dist.denominator(shared), no_sync=dist.no_sync(model), autocast=policy.autocast)
        if generator is not None:
            generator.sync(dist.unwrap(model))  # the vLLM engine samples from the updated policy
        return {**stats, "seconds_reference": t1 - t0, "seconds_update": _clock(dist.device) - t1}

    try:
        while sampler.step < total and (batch := sampler.next_batch()) is not None:
            t0, step = _clock(dist.device), batch.step + 1
            records = dist.take(batch.records, data.records)
            groups, skipped = roll(records)                                       # 1. rollouts and their rewards
            seconds_rollout = _clock(dist.device) - t0
            keep = _kept(groups, G, cfg.skip_zero_std)                            # 2. groups whose rewards differ
            chunks = micro_batches(groups, keep, cfg.micro_batch_size, pad_id, dist.device)
            samples = _sample_completions(step, batch.stage, groups, -(-cfg.log_completions // dist.world))
            shared = dist.gather(step_share(groups, skipped, records, chunks, samples, cfg.loss_agg))
            stats = learn(groups, chunks, shared) if any(s["groups"] for s in shared) else {}  # 3. advantages, 4. update
            stats, seconds = dist.mean({**stats, "seconds_rollout": seconds_rollout}), max(dist.gather(_clock(dist.device) - t0))
            row = _metrics(step, batch, dist.world, shared, stats, optimizer, seconds, G, data)  # 5. log
            if chance is not None:
                row["chance_reward_mean"] = chance.mean(r for r in map(data.records.__getitem__, batch.records)
                                                        if r["id"] not in row["skipped_ids"])
            if dist.main:
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


def _clock(device) -> float:
    """perf_counter after the device's queued work is done (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _clip(accelerator, params, max_norm: float) -> torch.Tensor:
    return accelerator.clip_grad_norm_(params, max_norm if max_norm > 0 else float("inf"))


def _kept(groups: list[Group], group_size: int, skip_zero_std: bool) -> torch.Tensor:
    """[N] loss weight per sequence: 0 for the groups --skip-zero-std drops (all rewards
    equal, so every advantage is 0 and they would only dilute the step's mean)."""
    rewards = torch.tensor([p["reward"] for g in groups for p in g.rewards], dtype=torch.float64)
    if not skip_zero_std or not groups:
        return torch.ones(len(rewards))
    return (~constant_groups(rewards, group_size)).float().repeat_interleave(group_size)


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
    if correct:  # frac_zero_std: groups with equal rewards (what --skip-zero-std drops); frac_same_correct: all right or all wrong
        row["frac_zero_std"] = float(constant_groups(torch.tensor(parts["reward"], dtype=torch.float64), G).float().mean())
        row["frac_same_correct"] = float(constant_groups(torch.tensor(correct), G).float().mean())
    row.update({k: row.get(k, stats.get(k, math.nan)) for k in ("frac_zero_std", "frac_same_correct", "kl", "entropy", "loss", "grad_norm")})
    row["clip_frac"] = stats.get("clip_low", math.nan) + stats.get("clip_high", math.nan)
    row["clip_frac_low"], row["clip_frac_high"] = stats.get("clip_low", math.nan), stats.get("clip_high", math.nan)
    row["completion_len_mean"], _ = _mean_std([float(x) for x in lengths])
    row["completion_len_min"], row["completion_len_max"] = (min(lengths), max(lengths)) if lengths else (None, None)
    row["truncated_frac"] = _mean_std(cat("truncated"))[0]
    row["prompt_len_mean"] = _mean_std(cat("prompt_lengths"))[0]
    row["lr"] = optimizer.param_groups[0]["lr"]
    row["tokens_per_s"] = sum(lengths) / seconds if seconds > 0 else math.nan  # sampled completion tokens per second, all ranks
    row["seconds"] = seconds
    for phase in ("rollout", "reference", "update"):  # rollout: generation and rewards; mean over ranks
        row[f"seconds_{phase}"] = stats.get(f"seconds_{phase}", math.nan)
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
