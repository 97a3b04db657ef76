"""The RewardMap curriculum: which records each step trains on, in which order.

Stages run in order, never mixed; inside a stage the records are shuffled together with
the run's seed. Each record is seen at most once (one epoch, as released). The order is
a pure function of (seed, stage, record ids), so the sampler's checkpoint is just where
it stands (stage, position, steps in stage) plus a fingerprint of the order that a
resume checks, so a changed dataset or seed cannot silently replay or skip records.

Data parallelism (#8) splits the global batch of a step with ``shard``: every rank walks
the same sampler and takes its slice, so the records seen do not depend on world size.

    >>> [s.name for s in select_stages("rewardmap", "all")]
    ['torf', 'counting23', 'counting1', 'planning']
    >>> [s.types for s in select_stages("rewardmap", "TorF1,planning")]
    [('TorF1',), ('planning',)]
    >>> [s.name for s in select_stages("rewardmap", "perception,1,2,3,4")]
    ['perception', 'torf', 'counting23', 'counting1', 'planning']
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mapkit.errors import ConfigError, DatasetError
from mapkit.vocab import ALL_TYPES as TYPES
from mapkit.vocab import CURRICULA, PERCEPTION_STAGE


@dataclass(frozen=True)
class StageConfig:
    """One curriculum stage: the record types it draws from, shuffled together."""

    name: str
    types: tuple[str, ...]
    max_steps: int | None = None  # --stage-steps: cap on optimizer steps in this stage


# `--curriculum map`: its one stage (every type) runs as three, easy -> middle -> hard maps,
# each keeping only records whose `difficulty_city` is that level.
MAP_LEVELS = {"easy-maps": "easy", "middle-maps": "middle", "hard-maps": "hard"}


def select_stages(curriculum: str, spec: str = "all", stage_steps: int | None = None) -> list[StageConfig]:
    """Stages of ``curriculum`` picked by ``spec``, always in curriculum order.

    ``spec`` is ``all`` or a comma list of 1-based stage numbers, stage names, or record
    types (a type picks only that type from the stage holding it). ``perception`` (or a
    Grounding type) adds the perception stage in front of a curriculum that lacks it;
    ``all`` and the numbers keep meaning that curriculum's own stages.
    """
    if curriculum not in CURRICULA:
        raise ConfigError(f"--curriculum {curriculum!r} is not one of {', '.join(CURRICULA)}")
    own = CURRICULA[curriculum]
    if curriculum == "map":  # one stage in the vocabulary, three here (see MAP_LEVELS)
        own = tuple((level, own[0][1]) for level in MAP_LEVELS)
    extra = () if any(name == PERCEPTION_STAGE[0] for name, _ in own) else (PERCEPTION_STAGE,)
    table = extra + own
    picked: list[set[str]] = [set() for _ in table]
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        raise ConfigError("--stages is empty; use `all`, stage numbers like `1,2` or names")
    for token in tokens:
        low = token.lower()
        if low == "all":
            for i, (_, types) in enumerate(own, start=len(extra)):
                picked[i].update(types)
        elif token.isdigit() and 1 <= int(token) <= len(own):
            picked[int(token) - 1 + len(extra)].update(own[int(token) - 1][1])
        elif any(low == name for name, _ in table):
            i = [name for name, _ in table].index(low)
            picked[i].update(table[i][1])
        elif any(low == t.lower() for t in TYPES):
            kind = next(t for t in TYPES if t.lower() == low)
            holding = [i for i, (_, types) in enumerate(table) if kind in types]
            for i in holding if curriculum == "map" else holding[:1]:  # map stages all hold every type
                picked[i].add(kind)
        else:
            names = ", ".join(f"{i + 1}={name}" for i, (name, _) in enumerate(own))
            raise ConfigError(f"--stages: {token!r} is not a stage of the {curriculum} curriculum ({names}"
                              f"{', or perception' if extra else ''}) nor a record type ({', '.join(TYPES)})")
    return [StageConfig(name, tuple(t for t in types if t in chosen), stage_steps)
            for (name, types), chosen in zip(table, picked) if chosen]


@dataclass(frozen=True)
class Batch:
    step: int  # 0-based global step this batch is for
    stage: str
    stage_index: int
    records: tuple[int, ...]  # row indices into the record table, global (all ranks)


class CurriculumSampler:
    """Walks the stages in order, ``batch_size`` records per step.

    ``ids`` and ``types`` are the record table's columns; batches hold row indices. A
    stage's last batch may be smaller (no record is dropped); ``stage_steps`` caps the
    steps of a stage, leaving the rest of it unseen.
    """

    def __init__(self, ids: Sequence[str], types: Sequence[str], stages: Sequence[StageConfig], batch_size: int, seed: int,
                 map_difficulties: Sequence[str] | None = None):
        if len(set(ids)) != len(ids):
            raise DatasetError("record ids are not unique; rebuild the dataset")
        if map_difficulties is None and any(s.name in MAP_LEVELS for s in stages):
            raise DatasetError("the map curriculum needs each record's difficulty_city")
        self.stages = list(stages)
        self.batch_size = batch_size
        self.seed = seed
        self.orders: list[list[int]] = []
        by_id = sorted(range(len(ids)), key=lambda i: ids[i])  # independent of parquet row order
        for index, stage in enumerate(self.stages):
            level = MAP_LEVELS.get(stage.name)
            rows = [i for i in by_id if types[i] in stage.types and (level is None or map_difficulties[i] == level)]
            rng = np.random.default_rng([seed, index])
            self.orders.append([rows[j] for j in rng.permutation(len(rows))])
        if not any(self.orders):
            wanted = sorted({t for s in self.stages for t in s.types})
            raise DatasetError(f"the dataset has no records of the selected types ({', '.join(wanted)})")
        digest = hashlib.sha256()
        for stage, order in zip(self.stages, self.orders):
            digest.update(f"{stage.name}:{stage.max_steps}:{batch_size}:".encode() + "\0".join(ids[i] for i in order).encode())
        self.fingerprint = digest.hexdigest()[:16]
        self.stage = 0
        self.position = 0
        self.steps_in_stage = 0
        self.step = 0

    def stage_lengths(self) -> list[int]:
        """Steps each stage will take."""
        out = []
        for stage, order in zip(self.stages, self.orders):
            steps = -(-len(order) // self.batch_size)
            out.append(min(steps, stage.max_steps) if stage.max_steps else steps)
        return out

    def total_steps(self) -> int:
        return sum(self.stage_lengths())

    def next_batch(self) -> Batch | None:
        """The next step's records, or None when every stage is done."""
        while self.stage < len(self.stages):
            order, cap = self.orders[self.stage], self.stages[self.stage].max_steps
            if self.position < len(order) and (cap is None or self.steps_in_stage < cap):
                rows = tuple(order[self.position:self.position + self.batch_size])
                batch = Batch(self.step, self.stages[self.stage].name, self.stage, rows)
                self.position += len(rows)
                self.steps_in_stage += 1
                self.step += 1
                return batch
            self.stage, self.position, self.steps_in_stage = self.stage + 1, 0, 0
        return None

    def state_dict(self) -> dict:
        return {"stage": self.stage, "position": self.position, "steps_in_stage": self.steps_in_stage,
                "step": self.step, "seed": self.seed, "fingerprint": self.fingerprint}

    def load_state_dict(self, state: dict) -> None:
        if state["fingerprint"] != self.fingerprint or state["seed"] != self.seed:
            raise DatasetError("the checkpoint's record order does not match this dataset and configuration "
                               "(dataset rebuilt, or --seed/--stages/--curriculum/--prompts-per-step changed); "
                               "resume with the original data and settings or start a new --out")
        self.stage, self.position = state["stage"], state["position"]
        self.steps_in_stage, self.step = state["steps_in_stage"], state["step"]


def shard(rows: Sequence[int], rank: int, world_size: int) -> list[int]:
    """This rank's slice of a global batch (round robin, so shares differ by at most one)."""
    return list(rows[rank::world_size])
