"""Riding one-way lines: what a line with stop ``patterns`` (schema v2) lets a rider do.

A line with patterns is ridden only along a pattern, from a station to a later one of
the same pattern; the stops passed are exactly the pattern's stops in between, as on
any vehicle that runs it. Lines without patterns run both ways along their segments
(``mapkit.graph`` answers for them as before). On a map with at least one one-way line,
routes come from ``routes``: a search over rides of both kinds.

Conventions (relied on by ``TransitMap``):
- ``pattern_paths(line, a, b)`` lists every distinct station path a rider can take
  from ``a`` to ``b`` on the line; none means no vehicle runs that way.
- Routes have the fewest rides first, then the fewest stops; a ride on a one-way line
  carries the via stops of the pattern ridden.
"""
from __future__ import annotations

import itertools
from collections import deque
from functools import cached_property
from typing import TYPE_CHECKING, Iterator

import networkx as nx

from mapkit.annotation import Line, Pattern

if TYPE_CHECKING:
    from mapkit.graph import Route, TransitMap


def pattern_ride(pattern: Pattern, a: str, b: str) -> tuple[str, ...] | None:
    """Stations from ``a`` to ``b`` (both included) on one pattern, or None when the
    pattern does not run from ``a`` to ``b``. A loop's closing station counts twice
    (start and end); the shortest ride wins."""
    stops = pattern.stops
    best = None
    for i, s in enumerate(stops):
        if s != a:
            continue
        for j in range(i + 1, len(stops)):
            if stops[j] == b:
                if best is None or j - i < best[1] - best[0]:
                    best = (i, j)
                break
    return None if best is None else stops[best[0]:best[1] + 1]


def pattern_paths(line: Line, a: str, b: str) -> list[tuple[str, ...]]:
    """Distinct station paths from ``a`` to ``b`` over the line's patterns, in pattern order."""
    out: list[tuple[str, ...]] = []
    for pattern in line.patterns:
        path = pattern_ride(pattern, a, b)
        if path is not None and path not in out:
            out.append(path)
    return out


def serves_in_order(line: Line, a: str, b: str) -> bool:
    return any(pattern_ride(p, a, b) is not None for p in line.patterns)


class Rides:
    """Every ride the map offers, for route search on maps with one-way lines.

    A ride unit is a pattern of a one-way line, or a connected part (of certain order)
    of a two-way line. ``reach(unit, s)`` gives station -> (hops, path) for every
    station the unit takes a rider to from ``s``."""

    def __init__(self, tm: "TransitMap"):
        self.tm = tm
        self.units: list[tuple[str, Pattern | frozenset[str]]] = []
        self.through: dict[str, list[int]] = {sid: [] for sid in tm.annotation.stations}
        for line in tm.annotation.lines:
            if line.one_way:
                for pattern in line.patterns:
                    self._add(line.id, pattern, dict.fromkeys(pattern.stops))
            else:
                graph = tm._certain_graphs[line.id]
                for comp in sorted(nx.connected_components(graph), key=min):
                    if len(comp) >= 2:
                        self._add(line.id, frozenset(comp), sorted(comp))
        self._reach: dict[tuple[int, str], dict[str, tuple[int, tuple[str, ...]]]] = {}

    def _add(self, lid: str, unit, stations) -> None:
        index = len(self.units)
        self.units.append((lid, unit))
        for sid in stations:
            self.through[sid].append(index)

    def reach(self, u: int, s: str) -> dict[str, tuple[int, tuple[str, ...]]]:
        key = (u, s)
        if key not in self._reach:
            lid, unit = self.units[u]
            out: dict[str, tuple[int, tuple[str, ...]]] = {}
            if isinstance(unit, Pattern):
                stops = unit.stops
                for i, x in enumerate(stops):
                    if x != s:
                        continue
                    for j in range(i + 1, len(stops)):
                        t = stops[j]
                        if t != s and (t not in out or j - i < out[t][0]):
                            out[t] = (j - i, stops[i:j + 1])
            else:
                paths = nx.single_source_shortest_path(self.tm._certain_graphs[lid], s)
                out = {t: (len(p) - 1, tuple(p)) for t, p in paths.items() if t != s}
            self._reach[key] = out
        return self._reach[key]

    @cached_property
    def _reverse(self) -> dict[int, dict[str, set[str]]]:
        """unit -> station -> stations the unit brings a rider from to it."""
        rev: dict[int, dict[str, set[str]]] = {}
        for u, (_, unit) in enumerate(self.units):
            table: dict[str, set[str]] = {}
            stations = dict.fromkeys(unit.stops) if isinstance(unit, Pattern) else sorted(unit)
            for s in stations:
                for t in self.reach(u, s):
                    table.setdefault(t, set()).add(s)
            rev[u] = table
        return rev

    def _rides_from(self, start: str, forward: bool) -> dict[str, int]:
        """Fewest rides from ``start`` to every station (to ``start`` when not forward)."""
        dist = {start: 0}
        queue = deque([start])
        while queue:
            s = queue.popleft()
            for u in self.through[s]:
                nexts = self.reach(u, s) if forward else self._reverse[u].get(s, ())
                for t in nexts:
                    if t not in dist:
                        dist[t] = dist[s] + 1
                        queue.append(t)
        return dist

    def routes(self, a: str, b: str, k: int) -> list["Route"]:
        """Up to ``k`` routes with the fewest rides, fewest stops first (ties: line ids,
        then transfer stations, so the result is deterministic)."""
        from mapkit.graph import Route, Section

        to_b = self._rides_from(b, forward=False)
        if a not in to_b:
            return []
        rides = to_b[a]
        # labels: (stops, lines, stations, moves) per station, the k best, layer by layer
        layer: dict[str, list[tuple[int, tuple[str, ...], tuple[str, ...], tuple]]] = {a: [(0, (), (a,), ())]}
        for i in range(rides):
            left = rides - i - 1
            nxt: dict[str, list] = {}
            for s, labels in layer.items():
                for u in self.through[s]:
                    lid = self.units[u][0]
                    for t, (hops, path) in self.reach(u, s).items():
                        if to_b.get(t, rides + 1) > left or (left == 0 and t != b):
                            continue
                        bucket = nxt.setdefault(t, [])
                        for stops, lines, points, moves in labels:
                            bucket.append((stops + hops, lines + (lid,), points + (t,), moves + ((lid, path),)))
            layer = {t: sorted(set(ls))[:k] for t, ls in nxt.items()}
        routes: list[Route] = []
        for _, _, _, moves in layer.get(b, []):
            sections = tuple(Section(lid, self.tm._lines[lid].name, path[0], path[-1], tuple(path[1:-1])) for lid, path in moves)
            route = Route(sections)
            if route not in routes:
                routes.append(route)
        return routes[:k]


def ordered_pairs(line: Line) -> Iterator[tuple[str, str]]:
    """Station pairs (a, b) that some pattern of a one-way line runs from a to b."""
    seen: set[tuple[str, str]] = set()
    for pattern in line.patterns:
        for a, b in itertools.combinations(pattern.stops, 2):
            if a != b and (a, b) not in seen:
                seen.add((a, b))
                yield a, b
