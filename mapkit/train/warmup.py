"""Supervised warm-up for the tiny smoke model: answer FORMATS, not answers.

A randomly initialised model never writes ``\\boxed{yes}``, so on real items its reward
is 0 on every sample, every group has zero reward spread and the policy-gradient term of
a smoke run is never exercised. Before RL, ``--model tiny`` is therefore trained for
``--tiny-warmup-steps`` steps (cross-entropy on the completion) to answer each record in
its type's format with a value drawn AT RANDOM from the type's admissible values:

* TorF1/TorF2: ``\\boxed{yes}`` or ``\\boxed{no}``;
* Counting1: ``\\boxed{A}`` .. one letter per option;
* Counting2: ``\\boxed{n}``, n uniform in 1 .. min(5, the city's line count);
  Counting3: n uniform in 1 .. the city's line count;
* planning: one section on a random line of the record's map from the question's first
  station to its second, in the record's route form (a random via count 0-9, or 0-3
  random stations of the map as via stops).

The targets never look at the answer (the right value, line or route). They do name the
question's own stations, which a planning answer must repeat; trained on the same records
RL then sees, the tiny model learns to repeat them for many of those prompts, which puts
it above a question-blind guesser (``chance.py``) on planning and nowhere else. It is
deterministic (own RNG streams; the global ones are left as they were), so a resumed run
rebuilds the same reference model.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from pathlib import Path

import torch

from mapkit.rewards import load_lines
from mapkit.train.chance import answer_space, one_section

log = logging.getLogger("mapkit.train")

BATCH = 8  # many small steps teach the tiny model more per second than few large ones
LR = 5e-3


def format_target(record: dict, rng: random.Random, lines: Mapping[str, tuple[str, ...]]) -> str:
    """A completion in ``record``'s answer format with a random admissible value
    (``lines``: the record's map, line name -> station names)."""
    kind = record["type"]
    if kind in ("Counting2", "Counting3"):  # lines through one station: rarely more than 5
        most = max(1, int(record.get("city_line_count") or 4))
        return f"\\boxed{{{rng.randint(1, min(most, 5) if kind == 'Counting2' else most)}}}"
    if kind != "planning":  # TorF: yes/no; Counting1: one letter per option (the guesser's space, chance.py)
        return rng.choice(answer_space(record))
    # planning: one section on a random line of the map, between the question's stations
    line = rng.choice(sorted(lines)) if lines else "Line 1"
    stations = sorted({s for names in lines.values() for s in names})
    return one_section(record, line, record.get("station_1") or "", record.get("station_2") or "", stations, rng)


# The labels of the answer formats (mapkit.rewards reads them), one token each.
FORMAT_WORDS = ("\\boxed{", "Route Name:", "Departure Stop:", "Arrival Stop:", "Number of Via Stops:", "Via Stops:")


def tiny_words(records: list[dict], root: Path) -> tuple[str, ...]:
    """The answer-format labels and the station and line names of the maps behind
    ``records``: whole tokens for the tiny model's tokenizer (models.tiny_processor)."""
    words: set[str] = set(FORMAT_WORDS)
    for annotation in sorted({r["annotation"] for r in records}):
        lines = load_lines(root / annotation)
        words.update(lines)
        words.update(s for names in lines.values() for s in names)
    return tuple(sorted(w for w in words if w.strip()))


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
    tok = processor.tokenizer
    eos, pad = end_ids(model, processor)
    end = tok.eos_token_id if tok.eos_token_id is not None else eos[0]  # <|im_end|>: how a chat turn ends
    planning = [r for r in records if r["type"] == "planning"]
    prompts: dict[str, dict] = {}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.0)
    was_training = model.training
    model.train()
    last = float("nan")
    with torch.random.fork_rng(devices=[]):
        for _ in range(steps):
            items = []
            for record in _batch(records, planning, rng):
                if record["id"] not in prompts:
                    prompts[record["id"]] = build_prompt(processor, record, root, cfg)
                target = format_target(record, rng, load_lines(root / record["annotation"]))
                ids = tok(target, add_special_tokens=False)["input_ids"]
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


def _batch(records: list[dict], planning: list[dict], rng: random.Random) -> list[dict]:
    """BATCH records: half of them planning items when there are any (a route is a dozen
    tokens of structure to learn where the other formats are a box around one value)."""
    if not planning:
        return rng.sample(records, min(BATCH, len(records)))
    half = BATCH // 2
    return rng.sample(records, min(BATCH - half, len(records))) + rng.sample(planning, min(half, len(planning)))
