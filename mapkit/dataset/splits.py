"""Train/test splits: stratified by type and difficulty with no station pair or question
text in two splits, or whole cities held out."""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from mapkit.errors import DatasetError
from mapkit.vocab import ALL_TYPES as TYPE_ORDER
from mapkit.vocab import DIFFICULTY_LABELS as LABELS

# ------------------------------------------------------------------ splits

def _pair_key(r: Mapping[str, Any]) -> tuple[Any, ...]:
    if str(r["type"]).startswith("Grounding"):
        # locating a station and reading its label answer each other: one split per
        # station (and per line for Grounding3)
        return (r["city"], "Grounding", r["station_1"] or "", r["line"] or "")
    return (r["city"], r["type"], frozenset(x for x in (r["station_1"], r["station_2"]) if x))


def question_groups(records: list[Mapping[str, Any]]) -> list[list[int]]:
    """Indices of records that must share a split: same (city, type, station pair) or same text."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[Any, int] = {}
    for i, r in enumerate(records):
        for key in (("pair",) + _pair_key(r), ("text", r["question"])):
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(records)):
        groups[find(i)].append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def assign_splits(records: list[dict[str, Any]], *, seed: int = 0, test_fraction: float = 0.2,
                  by: str = "question") -> list[dict[str, Any]]:
    """Set ``split`` on every record ("train" or "test") and return the records kept.

    ``by="question"``: stratified by (type, question difficulty) and, inside that, by
    city; records asking about the same station pair (or with the same text) stay
    together; every record is kept. ``by="city"``: whole cities are held out, stratified
    by map difficulty; a held-out question whose text also appears in train (two cities
    with a station of the same name) is dropped, so no text is in both splits.
    """
    if not 0 <= test_fraction < 1:
        raise DatasetError(f"test fraction must be in [0, 1), got {test_fraction}")
    rng = random.Random(f"{seed}:split")
    if by == "city":
        _split_by_city(records, rng, test_fraction)
        train_texts = {r["question"] for r in records if r["split"] == "train"}
        kept = [r for r in records if r["split"] == "train" or r["question"] not in train_texts]
        check_split_leaks(kept)
        return kept
    if by != "question":
        raise DatasetError(f"unknown split mode {by!r}; use question or city")
    strata: dict[tuple[str, str, str], list[list[int]]] = defaultdict(list)
    for group in question_groups(records):
        r = records[group[0]]
        strata[(r["type"], r["difficulty_question"], r["city"])].append(group)
    seen: Counter = Counter()
    in_test: Counter = Counter()
    for key in sorted(strata, key=lambda k: (TYPE_ORDER.index(k[0]), LABELS.index(k[1]), k[2])):
        groups = strata[key]
        rng.shuffle(groups)
        size = sum(len(g) for g in groups)
        seen[key[:2]] += size
        # Running target over the cities of one (type, difficulty): small strata round
        # both ways instead of always down, so the overall share stays test_fraction.
        want = round(test_fraction * seen[key[:2]]) - in_test[key[:2]]
        for group in groups:
            split = "test" if len(group) <= want else "train"
            if split == "test":
                want -= len(group)
                in_test[key[:2]] += len(group)
            for i in group:
                records[i]["split"] = split
    check_split_leaks(records)
    return records


def _split_by_city(records: list[dict[str, Any]], rng: random.Random, test_fraction: float) -> None:
    level = {r["city"]: r["difficulty_city"] for r in records}
    if len(level) < 2:
        raise DatasetError("--split-by city needs at least two cities (use --all)")
    by_level: dict[str, list[str]] = defaultdict(list)
    for city in sorted(level):
        by_level[level[city]].append(city)
    test: set[str] = set()
    seen = 0
    for label in LABELS:
        cities = by_level.get(label, [])
        rng.shuffle(cities)
        seen += len(cities)
        want = round(test_fraction * seen) - len(test)
        test.update(cities[: max(0, want)])
    if test_fraction > 0 and not test:
        test.add(rng.choice(sorted(level)))
    if len(test) == len(level):
        test.discard(min(test))
    for r in records:
        r["split"] = "test" if r["city"] in test else "train"


def check_split_leaks(records: Iterable[Mapping[str, Any]]) -> None:
    """Raise when a question text or a (city, type, station pair) is in two splits."""
    where: dict[Any, str] = {}
    for r in records:
        for key in (("pair",) + _pair_key(r), ("text", r["question"])):
            if where.setdefault(key, r["split"]) != r["split"]:
                raise DatasetError(f"record {r['id']} leaks between splits: {key[0]} {key[1:] if key[0] == 'pair' else key[1][:60]!r}")


