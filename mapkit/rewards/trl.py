"""The reward as TRL reward functions: ``f(prompts, completions, **columns) -> list[float | None]``.

TRL's ``GRPOTrainer`` calls each reward function with the batch's prompts, completions
(strings, or chat-message lists for conversational data) and every other dataset column
as a list, one entry per completion. The functions here rebuild each row's record from
those columns and call the same ``breakdown`` as mapkit's own trainer, so both trainers
optimise the same number::

    from mapkit.rewards.trl import reward_functions
    funcs = reward_functions(root="out/tokyo", mode="default", records=train_rows)
    trainer = GRPOTrainer(model=..., reward_funcs=funcs, train_dataset=train_rows, ...)

Everything that can be checked before training is checked when a function is built:
the mode, weighting, part and type names, and (given ``records``) every record.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mapkit.errors import MapkitError, RewardError
from mapkit.frames import MIN_PIXELS, frame_size, smart_resize
from mapkit.rewards.lines import load_lines
from mapkit.rewards.score import ALPHA, MODES, TYPES, WEIGHTINGS, breakdown, check_records
from mapkit.vocab import FAMILIES

PARTS = ("reward", "correct", "detail", "format")

RewardFunc = Callable[..., list]


def _types(types: Iterable[str] | None) -> frozenset[str] | None:
    if types is None:
        return None
    out: set[str] = set()
    for t in [types] if isinstance(types, str) else types:
        if t in FAMILIES:
            out.update(FAMILIES[t])
        elif t in TYPES:
            out.add(t)
        else:
            raise RewardError(f"unknown record type {t!r}; use {', '.join(TYPES)} or a family ({', '.join(FAMILIES)})")
    return frozenset(out)


def default_lines_for(root: str | Path | None) -> Callable[[Mapping[str, Any]], Any]:
    """record -> lines, from its ``annotation`` (relative to the dataset folder ``root``)
    or, for ReasonMap-Plus rows, its ``json`` path."""
    base = Path(root) if root is not None else None

    def lines_for(record: Mapping[str, Any]):
        rel = record.get("annotation") or record.get("json")
        if not rel:
            raise RewardError(f"record {record.get('id', '<no id>')}: no `annotation` column to read the city's lines from")
        path = Path(rel)
        return load_lines(path if base is None or path.is_absolute() else base / path)

    return lines_for


def reward_function(*, root: str | Path | None = None, lines_for: Callable[[Mapping[str, Any]], Any] | None = None,
                    mode: str = "default", weighting: str = "difficulty_aware", detail: bool = True,
                    part: str = "reward", types: Iterable[str] | None = None,
                    records: Iterable[Mapping[str, Any]] | None = None, name: str | None = None,
                    max_pixels: int | None = None, min_pixels: int | None = None) -> RewardFunc:
    """One TRL reward function.

    ``part``: "reward" (the whole reward) or one weighted term of it ("correct" is
    W * R_correct, "detail" W * alpha * R_detail, "format" W * R_format), so the three
    parts as separate functions add up to the reward and TRL logs each. ``types``
    restricts the function to some record types or families (TorF, Counting,
    planning, Grounding); other rows get None, which TRL skips.

    Grounding answers are pixels of the image the model saw: a row's ``image_size``
    column when it has one, else, given ``max_pixels`` (and ``min_pixels``), the
    Qwen2.5-VL ``smart_resize`` of its ``frame`` (what TRL's processor does to the
    map), else the record's own frame. Show the model the same coordinates with
    ``mapkit.frames.in_model_frame``.
    """
    if mode not in MODES:
        raise RewardError(f"unknown reward mode {mode!r}; use one of {', '.join(MODES)}")
    if weighting not in WEIGHTINGS:
        raise RewardError(f"unknown weighting {weighting!r}; use one of {', '.join(WEIGHTINGS)}")
    if part not in PARTS:
        raise RewardError(f"unknown reward part {part!r}; use one of {', '.join(PARTS)}")
    only = _types(types)
    if records is not None:
        check_records(records)
    get_lines = lines_for or default_lines_for(root)

    def pick(parts) -> float:
        if part == "reward":
            return parts.reward
        if part == "detail":
            return parts.weight * ALPHA * parts.detail
        return parts.weight * getattr(parts, part)

    def func(prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (), **columns: Any) -> list[float | None]:
        n = len(completions)
        rows = {k: v for k, v in columns.items() if isinstance(v, (list, tuple)) and len(v) == n}
        out: list[float | None] = []
        for i, completion in enumerate(completions):
            record = {k: v[i] for k, v in rows.items()}
            kind = record.get("type")
            if max_pixels is not None and kind in FAMILIES["Grounding"] and record.get("image_size") is None:
                try:
                    frame = frame_size(record)
                    record["image_size"] = list(smart_resize(*frame, max_pixels=max_pixels, min_pixels=min_pixels or MIN_PIXELS))
                except MapkitError:
                    pass  # breakdown names what the record lacks
            if only is not None and kind not in only:
                out.append(None)
                continue
            lines = get_lines(record) if kind == "planning" or kind == "Counting1" else None
            out.append(float(pick(breakdown(completion, record, lines, mode=mode, weighting=weighting, detail=detail))))
        return out

    label = "_".join(sorted(types)) if isinstance(types, (list, tuple, set, frozenset)) else (types or "")
    func.__name__ = name or "_".join(x for x in ("rewardmap", mode, label, part if part != "reward" else "") if x)
    func.__qualname__ = func.__name__
    return func


def reward_functions(*, by: str = "total", **kwargs: Any) -> list[RewardFunc]:
    """A list for ``GRPOTrainer(reward_funcs=...)``.

    by="total": one function (the reward). by="part": correct, detail and format as
    three functions (their sum is the reward). by="family": TorF, Counting and planning
    as three functions, each None on the others' rows (TRL sums what is not None).
    """
    if by == "total":
        return [reward_function(**kwargs)]
    if by == "part":
        return [reward_function(part=p, **kwargs) for p in ("correct", "detail", "format")]
    if by == "family":
        return [reward_function(types=f, **kwargs) for f in FAMILIES]
    raise RewardError(f"unknown split {by!r}; use total, part or family")
