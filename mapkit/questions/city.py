"""One map prepared for question sampling: usable stations and lines, labels, caches."""
from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx

from mapkit.difficulty import map_difficulty
from mapkit.errors import MapkitError
from mapkit.graph import TransitMap
from mapkit.names import name_key  # one rule for "the same name" (NFC, case, spaces)

SCAN_LIMIT = 20_000  # candidates looked at per type and city, at most (big cities have ~80k pairs)
_LINE_WORD = re.compile(r"line|线|線|ライン|linie|ligne|linea|línea|linha", re.IGNORECASE)


@dataclass
class Candidate:
    params: dict[str, str]
    raw: Any  # what the query returned
    result: Any  # its JSON form, kept in the program
    measure: float | None = None
    difficulty: str | None = None


class City:
    """One map prepared for sampling: usable stations and lines, labels, caches."""

    def __init__(self, tm: TransitMap):
        self.tm = tm
        a = tm.annotation
        self.annotation = a
        names = Counter(name_key(s.name) for s in a.stations.values())
        served = [sid for sid in sorted(a.stations) if tm.lines_through(sid)]
        # Stations whose display names collide cannot be named unambiguously: never asked.
        self.stations = [sid for sid in served if names[name_key(a.stations[sid].name)] == 1]
        self.collided = len(served) - len(self.stations)
        line_names = Counter(name_key(line.name) for line in a.lines)
        self.lines = sorted(line.id for line in a.lines if line_names[name_key(line.name)] == 1)
        stats = tm.stats()
        self.line_count, self.transfer_count = stats.line_count, stats.transfer_count
        self.difficulty = map_difficulty(stats.line_count, stats.transfer_count)
        self._bfs: dict[str, dict[str, int]] = {}
        self.memo: dict[Any, Any] = {}  # samplers' per-city caches (engine._transfer_hint)

    def hops(self, a: str, b: str) -> float:
        if a not in self._bfs and b in self._bfs:  # the station graph is undirected: b's search answers too
            return self._bfs[b].get(a, float("inf"))
        if a not in self._bfs:
            self._bfs[a] = _bfs(self._adjacency, a)
        return self._bfs[a].get(b, float("inf"))

    @cached_property
    def _adjacency(self) -> dict[str, list[str]]:
        graph = self.tm.station_graph
        return {n: list(graph[n]) for n in graph}

    @cached_property
    def _line_hops(self) -> dict[str, dict[str, int]]:
        return dict(nx.all_pairs_shortest_path_length(self.tm.line_graph))

    def min_line_hops(self, a: str, b: str) -> float:
        """Fewest changes between a line through ``a`` and one through ``b`` (line graph)."""
        d, sets = self._line_hops, self.line_sets
        through_a = sets[a] if a in sets else self.tm.lines_through(a)
        through_b = sets[b] if b in sets else self.tm.lines_through(b)
        return min((d[x].get(y, float("inf")) for x in through_a for y in through_b), default=float("inf"))

    @cached_property
    def line_sets(self) -> dict[str, tuple[str, ...]]:
        """Station -> the lines through it: a cache key for what depends only on those lines."""
        return {sid: tuple(self.tm.lines_through(sid)) for sid in self.stations}

    @cached_property
    def map_text(self) -> str:
        name = re.sub(r"\s*\([^)]*\)\s*$", "", self.annotation.name).strip()
        return name or self.annotation.city.replace("_", " ").title()

    def line_text(self, lid: str) -> str:
        name = self.annotation.line(lid).name
        return name if _LINE_WORD.search(name) else f"line {name}"

    def pair_candidates(self, rng: random.Random, limit: int = SCAN_LIMIT) -> Iterator[tuple[str, str]]:
        """``candidates`` of a station-pair query as bare (station_1, station_2) tuples: the
        same pairs in the same order from the same draws, without a dict per pair (the
        planning sampler looks at up to ``limit`` pairs per city and asks most of them nothing)."""
        st = self.stations
        n = len(st)
        order = self.pair_order(rng, limit)
        one_way = self.tm.has_one_way  # with one-way lines the two directions of a pair are different questions
        seen: set[int] = set()
        for i in order:
            x, y = divmod(i, n)
            if x == y:
                continue
            key = i if one_way or x < y else y * n + x  # the unordered pair: its index written smaller station first
            if key not in seen:
                seen.add(key)
                yield st[x], st[y]

    def pair_order(self, rng: random.Random, limit: int = SCAN_LIMIT) -> list[int]:
        """The draws behind ``pair_candidates``: indices ``x * n + y`` of ordered station pairs
        (x, y), the whole space shuffled or ``limit`` of it sampled."""
        size = len(self.stations) ** 2
        if size <= limit:
            order = list(range(size))
            rng.shuffle(order)
            return order
        return rng.sample(range(size), limit)

    @cached_property
    def line_set_ids(self) -> list[int]:
        """Per usable station (by index): a small number naming the set of lines through it."""
        ids: dict[tuple[str, ...], int] = {}
        return [ids.setdefault(self.line_sets[sid], len(ids)) for sid in self.stations]

    def candidates(self, op: str, rng: random.Random, limit: int = SCAN_LIMIT) -> Iterator[dict[str, str]]:
        """Parameter sets of a query over usable stations and lines, in random order, each
        unordered station pair once (its direction random). Spaces larger than ``limit``
        are sampled (``limit`` draws without replacement) instead of enumerated."""
        st, lines = self.stations, self.lines
        n = len(st)
        # With one-way lines the two directions of a pair are different questions.
        pair = tuple if self.tm.has_one_way else frozenset
        if op in ("on_common_line", "plan_routes"):
            for a, b in self.pair_candidates(rng, limit):
                yield {"station_1": a, "station_2": b}
            return
        if op == "on_line":
            size = n * len(lines)

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                s, lid = st[i // len(lines)], lines[i % len(lines)]
                return (s, lid), {"station": s, "line": lid}
        elif op == "count_stops_between":
            usable = set(st)
            ordered = [(lid, a, b) for lid in lines for on in [sorted(s for s in self.tm.stations_of(lid) if s in usable)]
                       for a in on for b in on if a != b]
            size = len(ordered)

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                lid, a, b = ordered[i]
                return (lid, pair((a, b))), {"line": lid, "station_1": a, "station_2": b}
        elif op == "count_lines_through":
            size = n

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                return st[i], {"station": st[i]}
        elif op == "count_lines":
            size = 1

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                return (), {}
        else:
            raise MapkitError(f"no candidate enumerator for query {op!r}")
        if size <= limit:
            order = list(range(size))
            rng.shuffle(order)
        else:
            order = rng.sample(range(size), limit)
        seen: set[Any] = set()
        for i in order:
            found = decode(i)
            if found is not None and found[0] not in seen:
                seen.add(found[0])
                yield found[1]


def _bfs(adjacency: dict[str, list[str]], source: str) -> dict[str, int]:
    """Hops from ``source`` to every reachable station: the numbers networkx's
    single_source_shortest_path_length gives, over plain lists (TorF1 labels ask it
    for most stations of a city)."""
    seen = {source: 0}
    frontier = [source]
    level = 0
    while frontier:
        level += 1
        nxt = []
        for node in frontier:
            for other in adjacency[node]:
                if other not in seen:
                    seen[other] = level
                    nxt.append(other)
        frontier = nxt
    return seen


