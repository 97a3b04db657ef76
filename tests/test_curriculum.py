"""Curriculum order, stage subsets, caps, sampler state and sharding."""
from __future__ import annotations

import pytest

from mapkit.errors import ConfigError, DatasetError
from mapkit.train.curriculum import CurriculumSampler, select_stages, shard

TYPES = ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning")
# 5 records per type, listed type by type (the sampler must not depend on this order)
IDS = [f"{t}-{i}" for t in TYPES for i in range(5)]
KINDS = [t for t in TYPES for _ in range(5)]


def walk(sampler):
    batches = []
    while (b := sampler.next_batch()) is not None:
        batches.append(b)
    return batches


def test_released_order_stages_never_mix_and_each_record_once():
    sampler = CurriculumSampler(IDS, KINDS, select_stages("rewardmap", "all"), batch_size=4, seed=0)
    batches = walk(sampler)
    stages = [b.stage for b in batches]
    assert stages == sorted(stages, key=["torf", "counting23", "counting1", "planning"].index)  # in order
    wanted = {"torf": {"TorF1", "TorF2"}, "counting23": {"Counting2", "Counting3"}, "counting1": {"Counting1"}, "planning": {"planning"}}
    for b in batches:
        assert {KINDS[i] for i in b.records} <= wanted[b.stage]
    seen = [i for b in batches for i in b.records]
    assert sorted(seen) == list(range(len(IDS)))  # every record exactly once
    # 10 TorF records in batches of 4 -> 4, 4, 2 (the last batch of a stage is short, nothing dropped)
    assert [len(b.records) for b in batches if b.stage == "torf"] == [4, 4, 2]
    assert sampler.total_steps() == len(batches) == 3 + 3 + 2 + 2


def test_stage_is_shuffled_inside_with_the_seed():
    def order(seed):
        return [IDS[i] for b in walk(CurriculumSampler(IDS, KINDS, select_stages("rewardmap", "1"), 10, seed)) for i in b.records]

    first = order(0)
    assert first == order(0)  # reproducible
    assert first != order(1)  # the seed matters
    assert {x.split("-")[0] for x in first} == {"TorF1", "TorF2"}
    assert first != sorted(first)  # TorF1 and TorF2 are mixed, not listed type by type
    # the input row order does not change the records each step sees
    rev = CurriculumSampler(IDS[::-1], KINDS[::-1], select_stages("rewardmap", "1"), 10, 0)
    assert [IDS[::-1][i] for b in walk(rev) for i in b.records] == first


@pytest.mark.parametrize("spec, names, types", [
    ("1,2", ["torf", "counting23"], [("TorF1", "TorF2"), ("Counting2", "Counting3")]),
    ("planning,torf", ["torf", "planning"], [("TorF1", "TorF2"), ("planning",)]),  # curriculum order kept
    ("TorF2,4", ["torf", "planning"], [("TorF2",), ("planning",)]),
    ("all", ["torf", "counting23", "counting1", "planning"], None),
])
def test_stage_subsets(spec, names, types):
    stages = select_stages("rewardmap", spec)
    assert [s.name for s in stages] == names
    if types:
        assert [s.types for s in stages] == types


def test_paper_variants():
    assert [s.types for s in select_stages("fine", "all")] == [("TorF1",), ("TorF2",), ("Counting3",), ("Counting2",), ("Counting1",), ("planning",)]
    coarse = select_stages("coarse", "all")
    assert [s.name for s in coarse] == ["plus", "planning"] and "planning" not in coarse[0].types
    (everything,) = select_stages("shuffled", "all")
    assert set(everything.types) == set(TYPES)
    batches = walk(CurriculumSampler(IDS, KINDS, [everything], 6, 0))
    assert len({KINDS[i] for i in batches[0].records}) > 1  # planning mixed in from the start


def test_bad_stage_names_say_what_exists():
    with pytest.raises(ConfigError, match=r"'5' is not a stage of the rewardmap curriculum \(1=torf, 2=counting23"):
        select_stages("rewardmap", "5")
    with pytest.raises(ConfigError, match="nor a record type"):
        select_stages("rewardmap", "routes")
    with pytest.raises(ConfigError, match="--curriculum 'random'"):
        select_stages("random", "all")


def test_stage_steps_caps_each_stage():
    sampler = CurriculumSampler(IDS, KINDS, select_stages("rewardmap", "all", stage_steps=1), 3, 0)
    batches = walk(sampler)
    assert [b.stage for b in batches] == ["torf", "counting23", "counting1", "planning"]
    assert sampler.total_steps() == 4


def test_sampler_state_round_trip_continues_identically():
    stages = select_stages("rewardmap", "all")
    full = walk(CurriculumSampler(IDS, KINDS, stages, 4, 7))
    first = CurriculumSampler(IDS, KINDS, stages, 4, 7)
    for _ in range(4):
        first.next_batch()
    resumed = CurriculumSampler(IDS, KINDS, stages, 4, 7)
    resumed.load_state_dict(first.state_dict())
    assert [b.records for b in walk(resumed)] == [b.records for b in full[4:]]
    assert [b.step for b in full[4:5]] == [4]


def test_sampler_state_refuses_a_different_order():
    state = CurriculumSampler(IDS, KINDS, select_stages("rewardmap", "all"), 4, 7).state_dict()
    with pytest.raises(DatasetError, match="does not match"):
        CurriculumSampler(IDS, KINDS, select_stages("rewardmap", "all"), 4, 8).load_state_dict(state)
    with pytest.raises(DatasetError, match="does not match"):
        CurriculumSampler(IDS[:-1], KINDS[:-1], select_stages("rewardmap", "all"), 4, 7).load_state_dict(state)


def test_no_records_of_the_selected_types_is_a_dataset_error():
    with pytest.raises(DatasetError, match="no records of the selected types"):
        CurriculumSampler(IDS[:5], KINDS[:5], select_stages("rewardmap", "planning"), 4, 0)


def test_shard_splits_a_batch_across_ranks():
    rows = list(range(7))
    parts = [shard(rows, r, 3) for r in range(3)]
    assert parts == [[0, 3, 6], [1, 4], [2, 5]]
    assert sorted(x for p in parts for x in p) == rows


def test_map_curriculum_orders_by_map_difficulty():
    # map difficulty by hand: record i of each type is on an easy (0, 1), middle (2) or hard (3, 4) map
    levels = ["easy", "easy", "middle", "hard", "hard"] * len(TYPES)
    batches = walk(CurriculumSampler(IDS, KINDS, select_stages("map", "all"), batch_size=4, seed=3, map_difficulties=levels))
    seen = [levels[i] for b in batches for i in b.records]
    assert seen == ["easy"] * 12 + ["middle"] * 6 + ["hard"] * 12  # easy maps first, hard last, nothing dropped
    assert [b.stage for b in batches][0] == "easy-maps" and [b.stage for b in batches][-1] == "hard-maps"
    # a type picks that type on every map level
    only = walk(CurriculumSampler(IDS, KINDS, select_stages("map", "planning"), batch_size=4, seed=3, map_difficulties=levels))
    assert sorted(IDS[i] for b in only for i in b.records) == [f"planning-{i}" for i in range(5)]
    with pytest.raises(DatasetError, match="difficulty_city"):
        CurriculumSampler(IDS, KINDS, select_stages("map", "all"), batch_size=4, seed=3)
