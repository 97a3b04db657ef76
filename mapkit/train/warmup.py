"""A few seconds of supervised warm-up for the tiny smoke model: answer FORMATS, not answers.

A randomly initialised model never writes ``\\boxed{yes}``, so on real items its reward
is 0 on every sample, every group has zero reward spread and the policy-gradient term of
a smoke run is never exercised. Before RL, ``--model tiny`` is therefore trained for
``--tiny-warmup-steps`` steps (cross-entropy on the completion) to answer each record in
its type's format with a value drawn AT RANDOM from the type's admissible values:

* TorF1/TorF2: ``\\boxed{yes}`` or ``\\boxed{no}``;
* Counting1: ``\\boxed{A}`` .. one letter per option;
* Counting2: ``\\boxed{n}``, n uniform in 1 .. min(5, the city's line count);
  Counting3: n uniform in 1 .. the city's line count;
* planning: one section (``Route Name`` of a line named in the dataset, the question's
  two stations, a random number of via stops).

The targets never look at ``answer``: after the warm-up the model is at (or, having
half-learnt the format, below) chance, and whatever reward it gains afterwards comes
from the RL updates. It is deterministic (own RNG streams; the global ones are left as
they were), so a resumed run rebuilds the same reference model.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path

import torch

log = logging.getLogger("mapkit.train")

BATCH = 4  # many small steps teach the tiny model more per second than few large ones
LR = 1e-2


def format_target(record: dict, rng: random.Random, line_names: list[str]) -> str:
    """A completion in ``record``'s answer format with a random admissible value."""
    kind = record["type"]
    if kind in ("TorF1", "TorF2"):
        return f"\\boxed{{{rng.choice(['yes', 'no'])}}}"
    if kind == "Counting1":
        letters = "ABCD"[: max(1, min(4, len(record.get("options") or "ABCD")))]
        return f"\\boxed{{{rng.choice(letters)}}}"
    if kind in ("Counting2", "Counting3"):  # lines through one station: rarely more than 5
        most = max(1, int(record.get("city_line_count") or 4))
        return f"\\boxed{{{rng.randint(1, min(most, 5) if kind == 'Counting2' else most)}}}"
    line = rng.choice(line_names) if line_names else "Line 1"
    return (f"Route Name: {line}\nDeparture Stop: {record.get('station_1') or ''}\nArrival Stop: {record.get('station_2') or ''}\n"
            f"Number of Via Stops: {rng.randint(0, 9)}")


def warm_up(model, processor, records: list[dict], root: Path, cfg, steps: int, device) -> float:
    """Train ``model`` in place on random-format targets; returns the last step's loss."""
    from mapkit.train.generation import end_ids
    from mapkit.train.grpo import completion_logprobs
    from mapkit.train.rollout import build_prompt, collate
    from mapkit.vocab import RECORD_TYPES

    records = [r for r in records if r["type"] in RECORD_TYPES]  # other types (Grounding) keep their own format, untaught
    if not records:
        log.info("tiny model: no record of a type with a taught answer format; no warm-up")
        return float("nan")
    rng = random.Random(f"warmup-{cfg.seed}")
    line_names = sorted({r["line"] for r in records if r.get("line")})
    tok = processor.tokenizer
    eos, pad = end_ids(model, processor)
    end = tok.eos_token_id if tok.eos_token_id is not None else eos[0]  # <|im_end|>: how a chat turn ends
    prompts: dict[str, dict] = {}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.0)
    was_training = model.training
    model.train()
    last = float("nan")
    with torch.random.fork_rng(devices=[]):
        for _ in range(steps):
            items = []
            for record in rng.sample(records, min(BATCH, len(records))):
                if record["id"] not in prompts:
                    prompts[record["id"]] = build_prompt(processor, record, root, cfg)
                ids = tok(format_target(record, rng, line_names), add_special_tokens=False)["input_ids"]
                items.append((prompts[record["id"]], torch.tensor(ids[: cfg.max_new_tokens - 1] + [end])))
            inputs, completion_ids, mask = collate(items, pad, device)
            logp, _ = completion_logprobs(model, inputs, completion_ids)
            loss = -(logp * mask).sum() / mask.sum()
            loss.backward()
            last = float(loss.detach())
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    model.train(was_training)
    log.info("tiny model: %d supervised warm-up steps on random answers in the dataset's formats (final loss %.2f)",
             steps, last)
    return last
