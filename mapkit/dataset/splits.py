"""Train/test splits: stratified by type and difficulty with no test item answerable from a
train item (split hygiene, the rules below), or whole cities held out."""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from mapkit.errors import DatasetError
from mapkit.vocab import ALL_TYPES as TYPE_ORDER  # noqa: F401 - folder and card import it from here
from mapkit.vocab import DIFFICULTY_LABELS as LABELS

# ------------------------------------------------------------------ what must not straddle splits
#
# Split hygiene: no test item may be answerable from a train item. Two records conflict
# (and must share a split, or one is dropped) when they have
#   - the same question text;
#   - the same (city, unordered station pair), whatever their types: TorF1, Counting1 and
#     planning about stations S and T all sit together;
#   - for records naming one station or none (TorF2, Counting2, Counting3): the same
#     (city, type, station); Grounding items: the same (city, station, line) whatever
#     their Grounding type;
#   - the same (city, line, station) fact where one of them asks it: a TorF2 item "is S on
#     L" conflicts with every item that states S is on L: a Counting1 item on L between S
#     and another station, a planning item whose reference route rides L through S (as its
#     departure, arrival or a via stop), and another TorF2 item about S on L.
# Items that only state facts (two Counting1 items, or a planning route and a Counting1
# item with one station in common) do not conflict through that fact.


def _shared_keys(r: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    keys: list[tuple[Any, ...]] = [("text", r["question"])]
    if str(r["type"]).startswith("Grounding"):
        # locating a station and reading its label answer each other: one split per
        # station (and per line for Grounding3)
        keys.append(("grounding", r["city"], r["station_1"] or "", r["line"] or ""))
    elif r["station_1"] and r["station_2"]:
        keys.append(("pair", r["city"], frozenset((r["station_1"], r["station_2"]))))
    else:
        keys.append(("one", r["city"], r["type"], r["station_1"] or ""))
    return keys


def _asked_fact(r: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The ("fact", city, line name, station name) a TorF2 record asks, if any."""
    if r["type"] == "TorF2" and r["line"] and r["station_1"]:
        return ("fact", r["city"], r["line"], r["station_1"])
    return None


def _told_facts(r: Mapping[str, Any], asked: Mapping[tuple[str, str], set[str]]) -> list[tuple[Any, ...]]:
    """The facts a record states that some record asks (``asked``: (city, line) -> stations
    asked about). A fact nobody asks conflicts with nothing, and a planning route states one
    per stop it rides through (hundreds of tuples per record), so only asked ones are kept."""
    city, t = r["city"], r["type"]
    if t == "Counting1" and r["line"]:
        on_line = asked.get((city, r["line"]), ())
        return [("fact", city, r["line"], s) for s in (r["station_1"], r["station_2"]) if s and s in on_line]
    if t == "planning":
        told = set()
        for route in r["reference_routes"] or []:
            for sec in route:
                on_line = asked.get((city, sec["route_name"]))
                if on_line:  # most sections ride a line no TorF2 asks about: skipped whole
                    told.update(("fact", city, sec["route_name"], s)
                                for s in (sec["departure_stop"], sec["arrival_stop"], *sec["via_stops"]) if s in on_line)
        return sorted(told)
    return []


class _Conflicts:
    """Which records of a list conflict (the rules above), as an index from keys to records.
    Stated facts are indexed only when some record of the list asks them: only those conflict."""

    def __init__(self, records: list[Mapping[str, Any]], keys: list[tuple[list[Any], list[Any], list[Any]]] | None = None):
        """``keys``: each record's (shared, asked, told) keys when already known (a subset of
        another index's records: the leak check after a split), else read off the records."""
        self.shared: dict[Any, list[int]] = defaultdict(list)
        self.asked: dict[Any, list[int]] = defaultdict(list)
        self.told: dict[Any, list[int]] = defaultdict(list)
        if keys is None:
            asks = [_asked_fact(r) for r in records]
            asked: dict[tuple[str, str], set[str]] = defaultdict(set)
            for fact in filter(None, asks):
                asked[fact[1], fact[2]].add(fact[3])
            keys = [(_shared_keys(r), [fact] if fact else [], _told_facts(r, asked)) for r, fact in zip(records, asks)]
        self.keys = keys
        for i, (shared, asks, tells) in enumerate(keys):
            for k in shared:
                self.shared[k].append(i)
            for k in asks:
                self.asked[k].append(i)
            for k in tells:
                self.told[k].append(i)

    def neighbours(self, i: int) -> set[int]:
        shared, asks, tells = self.keys[i]
        out = {j for k in shared for j in self.shared[k]}
        out.update(j for k in asks for j in (*self.asked[k], *self.told.get(k, ())))
        out.update(j for k in tells for j in self.asked.get(k, ()))
        out.discard(i)
        return out


def question_groups(records: list[Mapping[str, Any]], index: _Conflicts | None = None) -> list[list[int]]:
    """Indices of records that must share a split: the connected parts of the conflict
    rules above (same text, same station pair, a fact one asks and the other states)."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(members: list[int]) -> None:
        root = find(members[0])
        for j in members[1:]:
            parent[find(j)] = root

    index = index or _Conflicts(records)
    for members in index.shared.values():
        union(members)
    for k, askers in index.asked.items():
        union(askers + index.told.get(k, []))
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(records)):
        groups[find(i)].append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def assign_splits(records: list[dict[str, Any]], *, seed: int = 0, test_fraction: float = 0.2,
                  by: str = "question") -> list[dict[str, Any]]:
    """Set ``split`` on every record ("train" or "test") and return the records kept.

    ``by="question"``: stratified by (type, question difficulty) and, inside that, by
    city; conflicting records (same text, same station pair, a (line, station) fact one
    asks and the other states: the rules at the top of this module) stay together. When
    that leaves a city's type short of its share of test items, single items move to test
    and their few conflicting train items are dropped, so those are not all kept. ``by="city"``: whole cities are held out, stratified
    by map difficulty; a held-out question whose text also appears in train (two cities
    with a station of the same name) is dropped, so no text is in both splits. Either way the
    records returned have passed ``check_split_leaks``.
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
    return _split_by_question(records, rng, test_fraction)


# At most this many train items are dropped to move one item of a city into test when the
# city's conflicts leave a type without its share of test items.
MAX_CUT = 3


def _split_by_question(records: list[dict[str, Any]], rng: random.Random, test_fraction: float) -> list[dict[str, Any]]:
    index = _Conflicts(records)
    by_city: dict[str, list[list[int]]] = defaultdict(list)
    for group in question_groups(records, index):
        by_city[records[group[0]]["city"]].append(group)
    seen: Counter = Counter()
    in_test: Counter = Counter()
    dropped: set[int] = set()
    for city in sorted(by_city):
        groups = by_city[city]
        rng.shuffle(groups)
        for group in groups:
            seen.update(_stratum(records[i]) for i in group)
        # Running target per (type, difficulty) over the cities: small strata round both
        # ways instead of always down, so the overall share stays test_fraction.
        want = Counter({k: round(test_fraction * n) - in_test[k] for k, n in seen.items()})
        for group in groups:
            need = Counter(_stratum(records[i]) for i in group)
            split = "test" if all(n <= want[k] for k, n in need.items()) else "train"
            if split == "test":
                want.subtract(need)
                in_test.update(need)
            for i in group:
                records[i]["split"] = split
        members = sorted(i for g in groups for i in g)
        _cut(records, members, index, seen, in_test, dropped, rng, test_fraction)
    # After every cut: a cut in one city can drop a question of another with the same text.
    of_city: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        of_city[r["city"]].append(i)
    for city in sorted(of_city):
        _rebalance(records, of_city[city], dropped, rng, test_fraction)
    left = [i for i in range(len(records)) if i not in dropped]
    kept = [records[i] for i in left]
    _check_leaks(kept, _Conflicts(kept, [index.keys[i] for i in left]))  # the keys are known: not read again
    return kept


def _stratum(r: Mapping[str, Any]) -> tuple[str, str]:
    return r["type"], r["difficulty_question"]


def _cut(records: list[dict[str, Any]], members: list[int], index: _Conflicts, seen: Counter, in_test: Counter,
         dropped: set[int], rng: random.Random, test_fraction: float) -> None:
    """Give a city's type its floor share of test items when conflicts kept them all in train:
    move single items to test and drop their (at most MAX_CUT) train neighbours."""
    total = Counter(records[i]["type"] for i in members)
    tested = Counter(records[i]["type"] for i in members if records[i]["split"] == "test")
    short = {t for t, n in total.items() if tested[t] < int(test_fraction * n)}
    if not short:
        return
    order = sorted(i for i in members if records[i]["type"] in short and records[i]["split"] == "train")
    rng.shuffle(order)
    cost = {i: len(index.neighbours(i)) for i in order}
    for i in sorted(order, key=lambda i: cost[i]):  # stable: shuffled order among equal costs
        r = records[i]
        t = r["type"]
        s = _stratum(r)
        if (i in dropped or r["split"] != "train" or tested[t] >= int(test_fraction * total[t])
                or round(test_fraction * seen[s]) <= in_test[s]):
            continue
        losers = [j for j in index.neighbours(i) if j not in dropped and records[j]["split"] == "train"]
        if len(losers) > MAX_CUT:
            continue
        dropped.update(losers)
        seen.subtract(_stratum(records[j]) for j in losers)  # what is dropped leaves the running target
        r["split"] = "test"
        tested[t] += 1
        in_test[s] += 1


def _rebalance(records: list[dict[str, Any]], members: list[int], dropped: set[int], rng: random.Random,
               test_fraction: float) -> None:
    """Cuts drop yes-items (a TorF2 "is S on L" conflicts with the routes through S):
    drop items of the majority answer too, so yes/no stays as balanced as it was, taking
    them from test or train so that the type keeps its test share."""
    for t in ("TorF1", "TorF2"):
        of_type = [i for i in members if records[i]["type"] == t]
        before = Counter(records[i]["answer"] for i in of_type)
        left = [i for i in of_type if i not in dropped]
        after = Counter(records[i]["answer"] for i in left)
        excess = abs(after[1] - after[0]) - max(1, abs(before[1] - before[0]))
        if excess <= 0:
            continue
        major = 1 if after[1] > after[0] else 0
        pools = {split: [i for i in left if records[i]["answer"] == major and records[i]["split"] == split]
                 for split in ("train", "test")}
        for pool in pools.values():
            rng.shuffle(pool)
        tested = sum(records[i]["split"] == "test" for i in left)
        for k in range(excess):
            remaining = len(left) - k - 1
            split = "test" if pools["test"] and (tested > round(test_fraction * remaining) or not pools["train"]) else "train"
            dropped.add(pools[split].pop())
            tested -= split == "test"


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
    """Raise naming both record ids when two records in different splits conflict (the rules
    at the top of this module: same text, same station pair, a fact one asks and the other states)."""
    records = list(records)
    _check_leaks(records, _Conflicts(records))


def _check_leaks(records: list[Mapping[str, Any]], index: _Conflicts) -> None:
    problems = []
    for kind, table in (("shared", index.shared), ("asked", index.asked)):
        for key, members in table.items():
            a = members[0]  # for a fact: an asking record, compared with every record stating it
            others = members + index.told.get(key, []) if kind == "asked" else members
            b = next((i for i in others if records[i]["split"] != records[a]["split"]), None)
            if b is not None:
                problems.append(f"record {records[b]['id']} ({records[b]['type']}, {records[b]['split']}) leaks between "
                                f"splits: it shares {_describe(key)} with record {records[a]['id']} "
                                f"({records[a]['type']}, {records[a]['split']})")
    if problems:
        more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DatasetError(f"{len(problems)} split leak(s); move the records into one split or drop one:\n"
                           + "\n".join(problems[:10]) + more)


def _describe(key: tuple[Any, ...]) -> str:
    if key[0] == "text":
        return f"the question text {key[1][:60]!r}"
    if key[0] == "grounding":
        return f"the Grounding station {key[2]!r}" + (f" on {key[3]}" if key[3] else "") + f" of {key[1]}"
    if key[0] == "pair":
        return f"the station pair {' / '.join(sorted(key[2]))} of {key[1]}"
    if key[0] == "one":
        return f"the {key[2]} station {key[3]!r} of {key[1]}" if key[3] else f"the {key[2]} question of {key[1]}"
    return f"the fact that {key[3]} is on {key[2]} in {key[1]}"
