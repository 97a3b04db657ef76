"""GRPO maths and the update step.

Shapes: N sequences in a step (prompts x G generations, grouped contiguously), T
completion tokens (right-padded), ``mask`` [N, T] is 1 on real completion tokens
(including the end-of-turn token) and 0 on padding.

The loss per token is the clipped surrogate, plus beta * k3 KL to the reference model,
minus entropy_coef * entropy. ``--loss-agg`` says how the tokens of a step add up:

* ``seq-mean-token-mean`` (default, the release's): each sequence's token mean, then the
  mean over the step's sequences. The released trainer takes the token mean inside each
  micro-batch and averages the micro-batches; its launch script's micro-batch of 1 makes
  that exactly this, and here it no longer depends on the memory knob --micro-batch-size.
  A short answer's tokens weigh more than a long one's (a 3-token yes/no against a
  300-token route: 100x per token).
* ``token-mean``: every real token of the step weighs the same (DAPO, TRL's "dapo").

docs/training-fidelity.md compares every setting with the released configuration.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

ADV_EPS = 1e-6  # (r - mean) / (std + eps), as released
LOSS_AGGS = ("seq-mean-token-mean", "token-mean")


def group_advantages(rewards: torch.Tensor, group_size: int, scale: str = "group", eps: float = ADV_EPS) -> torch.Tensor:
    """[N] rewards -> [N] advantages: reward minus its group's mean, divided by the
    group's sample std (``group``), the whole batch's std (``batch``) or nothing.

    >>> group_advantages(torch.tensor([1., 0., 0., 0.]), 4).round(decimals=3)
    tensor([ 1.5000, -0.5000, -0.5000, -0.5000])
    """
    r = rewards.view(-1, group_size).float()  # [P, G]
    adv = r - r.mean(dim=1, keepdim=True)
    if scale == "group":
        adv = adv / (r.std(dim=1, keepdim=True) + eps)
    elif scale == "batch":
        adv = adv / (rewards.float().std() + eps)
    elif scale != "none":
        raise ValueError(f"scale must be group, batch or none, not {scale!r}")
    return adv.reshape(-1)


def constant_groups(values: torch.Tensor, group_size: int) -> torch.Tensor:
    """[N] values -> [P] bool: True where every sample of the group has the same value.
    On rewards: the groups whose advantages are all 0 (zero reward std), which
    --skip-zero-std drops, as TRL and DAPO do. On correctness: all right or all wrong
    (logged as frac_same_correct; such a group can still carry signal through the
    detail term)."""
    v = values.view(-1, group_size)
    return v.amax(dim=1) == v.amin(dim=1)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor, clamp: float = 10.0) -> torch.Tensor:
    """Per-token k3 estimate of KL(policy || ref): exp(d) - d - 1 with d = ref - logp;
    non-negative, unbiased, low variance ("low_var_kl"), clamped as released."""
    d = ref_logp - logp
    return (torch.exp(d) - d - 1).clamp(min=-clamp, max=clamp)


def token_mean(values: torch.Tensor, mask: torch.Tensor, n_tokens: float | None = None) -> torch.Tensor:
    """Sum over real tokens divided by ``n_tokens`` (default: the real tokens here). Pass
    the whole step's token count to make micro-batch losses add up to the step's mean."""
    total = mask.sum() if n_tokens is None else n_tokens
    return (values * mask).sum() / max(float(total), 1.0)


def seq_mean_token_mean(values: torch.Tensor, mask: torch.Tensor, n_seqs: float | None = None) -> torch.Tensor:
    """Each sequence's mean over its real tokens, summed and divided by ``n_seqs``
    (default: the sequences here with at least one real token). Pass the whole step's
    sequence count to make micro-batch losses add up to the step's mean."""
    lengths = mask.sum(dim=1)  # [N]
    per_seq = (values * mask).sum(dim=1) / lengths.clamp(min=1)
    total = (lengths > 0).sum() if n_seqs is None else n_seqs
    return per_seq.sum() / max(float(total), 1.0)


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str = "seq-mean-token-mean",
              denominator: float | None = None) -> torch.Tensor:
    """[N, T] per-token values -> the step's scalar under ``--loss-agg mode``;
    ``denominator`` is the step's count of what the mode averages (tokens or sequences)."""
    if mode == "token-mean":
        return token_mean(values, mask, denominator)
    if mode == "seq-mean-token-mean":
        return seq_mean_token_mean(values, mask, denominator)
    raise ValueError(f"loss aggregation must be one of {', '.join(LOSS_AGGS)}, not {mode!r}")


def loss_units(mask: torch.Tensor, mode: str) -> float:
    """What ``aggregate`` divides by in this [N, T] mask: real tokens, or sequences with one."""
    return float(mask.sum()) if mode == "token-mean" else float((mask.sum(dim=1) > 0).sum())


@dataclass
class LossParts:
    loss: torch.Tensor  # scalar to backpropagate
    per_token: torch.Tensor  # [N, T]
    clipped_low: torch.Tensor  # [N, T] bool: ratio < 1 - eps and A < 0 (gradient cut)
    clipped_high: torch.Tensor  # [N, T] bool: ratio > 1 + eps_high and A > 0
    kl: torch.Tensor | None  # [N, T]


def grpo_loss(logp, old_logp, advantages, mask, *, epsilon=0.2, epsilon_high=None, ref_logp=None, beta=0.0,
              kl_clamp=10.0, entropy=None, entropy_coef=0.0, loss_agg="seq-mean-token-mean", denominator=None) -> LossParts:
    """Clipped surrogate + beta * k3 KL - entropy_coef * entropy, aggregated by ``loss_agg``.

    logp, old_logp, ref_logp, entropy, mask: [N, T]; advantages: [N] (one per sequence).
    """
    eps_high = epsilon if epsilon_high is None else epsilon_high
    ratio = torch.exp(logp - old_logp)  # [N, T]; exactly 1 when old_logp = logp.detach()
    adv = advantages.unsqueeze(1)  # [N, 1]
    surrogate = torch.min(ratio * adv, ratio.clamp(1 - epsilon, 1 + eps_high) * adv)
    per_token = -surrogate
    kl = None
    if beta and ref_logp is not None:
        kl = k3_kl(logp, ref_logp, kl_clamp)
        per_token = per_token + beta * kl
    if entropy_coef and entropy is not None:
        per_token = per_token - entropy_coef * entropy
    return LossParts(
        loss=aggregate(per_token, mask, loss_agg, denominator),
        per_token=per_token,
        clipped_low=(ratio < 1 - epsilon) & (adv < 0),
        clipped_high=(ratio > 1 + eps_high) & (adv > 0),
        kl=kl,
    )


def completion_logprobs(model, inputs: dict, completion_ids: torch.Tensor, temperature: float = 1.0,
                        with_entropy: bool = False, blocked: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs [N, T] of ``completion_ids`` under ``model`` (and entropies [N, T]).

    ``inputs`` is the model input for prompt + completion (prompts left-padded,
    completions right-padded, so every completion starts at column L - T). Logits are
    divided by the sampling temperature and ``blocked`` tokens (vision placeholders,
    suppressed in sampling) removed: the distribution the tokens were drawn from.
    """
    T = completion_ids.shape[1]
    logits = model(**inputs, use_cache=False, logits_to_keep=T + 1).logits  # [N, T + 1, V]
    logits = logits[:, :-1, :].float() / temperature  # position t predicts completion token t
    if blocked:
        logits[..., blocked] = float("-inf")
    logprobs = F.log_softmax(logits, dim=-1)
    token_logp = logprobs.gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)
    entropy = -(logprobs.exp() * logprobs.masked_fill(torch.isinf(logprobs), 0)).sum(-1) if with_entropy else None
    return token_logp, entropy


def update(model, optimizer, scheduler, chunks: list, *, advantages, cfg, ref_logps: list[torch.Tensor] | None,
           backward: Callable, clip_grad: Callable, blocked: list[int] | None = None, denominator: float | None = None,
           no_sync: Callable | None = None, autocast: Callable = contextlib.nullcontext) -> dict:
    """``cfg.updates_per_batch`` optimizer steps on one rollout batch.

    ``chunks`` are the micro-batches (rollout.MicroBatch): ``rows`` (indices into
    ``advantages``), ``tokens`` (real tokens in the loss) and ``load()`` -> ``inputs``,
    ``completion_ids``, ``mask``, ``weight`` (0 for sequences dropped from the loss).
    Old log-probs: with one update they are the current ones detached (ratio exactly 1);
    with several, computed once before the first update.

    Data parallel: ``denominator`` (default: the chunks' own tokens or sequences, as
    --loss-agg counts) is the global batch's count / world size, so gradients averaged
    over ranks are the global mean; ``no_sync()`` wraps every micro-batch but an
    update's last (one all-reduce per step). ``autocast()`` wraps the forward passes
    (bf16 compute over float32 master weights).
    """
    mode = cfg.loss_agg
    denominator = sum(c.units(mode) for c in chunks) if denominator is None else denominator
    stats: dict[str, float] = {"loss": 0.0, "kl": 0.0, "entropy": 0.0, "clip_low": 0.0, "clip_high": 0.0, "grad_norm": 0.0}
    if denominator == 0:  # every group dropped (--skip-zero-std): nothing to learn from this batch
        return {k: (math.nan if k in ("kl", "entropy", "grad_norm") else 0.0) for k in stats}
    old = None
    if cfg.updates_per_batch > 1:
        with torch.no_grad(), autocast():
            old = [completion_logprobs(model, b["inputs"], b["completion_ids"], cfg.temperature, blocked=blocked)[0]
                   for b in (c.load() for c in chunks)]
    for u in range(cfg.updates_per_batch):
        last = u == cfg.updates_per_batch - 1
        for i, c in enumerate(chunks):
            b = c.load()
            mask = b["mask"] * b["weight"].unsqueeze(1)  # [n, T]
            with no_sync() if no_sync is not None and i < len(chunks) - 1 else contextlib.nullcontext():
                with autocast():
                    logp, entropy = completion_logprobs(model, b["inputs"], b["completion_ids"], cfg.temperature,
                                                        with_entropy=True, blocked=blocked)
                parts = grpo_loss(logp, old[i] if old is not None else logp.detach(), advantages[c.rows.to(advantages.device)],
                                  mask, epsilon=cfg.epsilon, epsilon_high=cfg.epsilon_high,
                                  ref_logp=ref_logps[i] if ref_logps is not None else None, beta=cfg.beta,
                                  kl_clamp=cfg.kl_clamp, entropy=entropy, entropy_coef=cfg.entropy_coef, loss_agg=mode,
                                  denominator=denominator)
                backward(parts.loss)
            if last:  # report the last update's numbers, each aggregated over the step as the loss is
                stats["loss"] += float(parts.loss.detach())
                stats["entropy"] += float(aggregate(entropy.detach(), mask, mode, denominator))
                stats["clip_low"] += float(aggregate(parts.clipped_low.float(), mask, mode, denominator))
                stats["clip_high"] += float(aggregate(parts.clipped_high.float(), mask, mode, denominator))
                if parts.kl is not None:
                    stats["kl"] += float(aggregate(parts.kl.detach(), mask, mode, denominator))
        stats["grad_norm"] = float(clip_grad(cfg.max_grad_norm))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    if ref_logps is None:
        stats["kl"] = math.nan
    return stats
