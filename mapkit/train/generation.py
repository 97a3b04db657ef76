"""Sampling completions: the one path shared by training rollouts (rollout.py),
evaluation (evaluate.py) and the vLLM backend (vllm_backend.py).

* Every sampling knob is set here: a model's own generation_config (Qwen-Instruct ships
  top_k=1, repetition_penalty=1.05) would otherwise fill the gaps, and the GRPO loss
  assumes tokens were drawn from softmax(logits / temperature). Temperature 0 is greedy.
* Vision placeholder tokens are never sampled: one drawn by a (random or confused) model
  would break the image-token count of the next forward.
* A completion ends after its first end token, which it keeps (the loss learns to stop);
  one that reaches max_new_tokens without an end token is ``truncated``.
* A prompt longer than max_prompt_length after image expansion is not asked, never cut:
  a cut prompt would be a question the model was not asked.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

log = logging.getLogger("mapkit.train")


def end_ids(model, processor) -> tuple[list[int], int]:
    """(token ids that end a completion, the padding id)."""
    tok = getattr(processor, "tokenizer", processor)
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tok.eos_token_id is not None:
        ids.add(tok.eos_token_id)
    pad = tok.pad_token_id if tok.pad_token_id is not None else min(ids)
    return sorted(ids), pad


def placeholder_ids(model, processor) -> list[int]:
    """Vision placeholder tokens a completion must never contain."""
    ids = set()
    for source in (getattr(model, "config", None), processor, getattr(processor, "tokenizer", None)):
        for name in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
            value = getattr(source, name, None)
            if isinstance(value, int):
                ids.add(value)
    return sorted(ids)


def prompt_too_long(prompt: dict, limit: int, record_id: str, consequence: str) -> int | None:
    """The prompt's length in tokens when it is over ``limit`` (logged with what happens
    to the record), else None."""
    length = int(prompt["input_ids"].shape[1])
    if length <= limit:
        return None
    log.warning("%s record %s: its prompt is %d tokens after image expansion, over --max-prompt-length %d "
                "(raise it, or lower --max-pixels)", consequence, record_id, length, limit)
    return length


def trim(rows: Sequence[Sequence[int]] | torch.Tensor, eos: Sequence[int]) -> list[tuple[torch.Tensor, bool]]:
    """Each generated row cut after its first end token: (ids, truncated).

    >>> [(ids.tolist(), t) for ids, t in trim([[5, 2, 0, 0], [5, 6, 7]], eos=[2])]
    [([5, 2], False), ([5, 6, 7], True)]
    """
    out = []
    for row in rows:
        row = torch.as_tensor(row, dtype=torch.long)
        hits = torch.isin(row, torch.tensor(list(eos))).nonzero()
        out.append((row[: int(hits[0]) + 1], False) if len(hits) else (row, True))
    return out


def sampling_config(model, processor, *, temperature: float, top_p: float, max_new_tokens: int, n: int = 1):
    """A transformers GenerationConfig with every knob set (temperature 0: greedy)."""
    from transformers import GenerationConfig

    eos, pad = end_ids(model, processor)
    sampling = temperature > 0
    return GenerationConfig(do_sample=sampling, temperature=temperature if sampling else None, top_p=top_p if sampling else None,
                            top_k=0 if sampling else None, repetition_penalty=1.0, max_new_tokens=max_new_tokens,
                            num_return_sequences=n, eos_token_id=eos, pad_token_id=pad,
                            suppress_tokens=placeholder_ids(model, processor) or None, use_cache=True)


@torch.no_grad()
def hf_generate(model, processor, inputs: dict, *, temperature: float, top_p: float, max_new_tokens: int, n: int = 1,
                synced_gpus: bool = False) -> list[tuple[torch.Tensor, bool]]:
    """Completions of a (left-padded) batch of prompts, ``n`` per prompt in prompt order:
    (ids up to and including the end token, truncated). ``synced_gpus``: keep stepping
    until every rank is done (FSDP gathers weights in each forward)."""
    gen = sampling_config(model, processor, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, n=n)
    out = model.generate(**inputs, generation_config=gen, synced_gpus=synced_gpus)
    return trim(out[:, inputs["input_ids"].shape[1]:].cpu(), gen.eos_token_id)
