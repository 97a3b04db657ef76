"""Parallel lines: where several lines share consecutive stations, draw them side by side.

Each undirected station edge carries the lines that use it. Within that bundle every
line gets a slot; slot k of n is offset ``(k - (n-1)/2) * gap`` along the edge's normal.
Slots are ordered so that lines leave a shared corridor on the side they turn to: two
lines are walked together beyond the edge, in both directions, until they part, and
the one that turns towards the normal goes on that side. Because every edge of a
corridor finds the same parting stations, the order is the same all along it and
lines do not swap sides (cross) inside it.

A line's drawn position at a station is where its offset lines on the two incident
edges meet (a mitre, capped at sharp turns), so each drawn segment stays parallel to
its edge at its slot's distance.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cmp_to_key

import numpy as np

from mapkit.annotation import Annotation


@dataclass(frozen=True)
class Bundles:
    # (i, j) with i < j -> line ids in slot order (slot 0 furthest towards -normal)
    slots: dict[tuple[int, int], tuple[str, ...]]
    # (line id, station index) -> drawn position in the same units as the layout
    points: dict[tuple[str, int], np.ndarray]


def bundle_lines(annotation: Annotation, ids: tuple[str, ...], pos: np.ndarray, gap: float) -> Bundles:
    index = {sid: i for i, sid in enumerate(ids)}
    order = {line.id: k for k, line in enumerate(annotation.lines)}
    adjacency: dict[str, dict[int, list[int]]] = {}
    on_edge: dict[tuple[int, int], list[str]] = {}
    for line in annotation.lines:
        adj: dict[int, list[int]] = {}
        for a, b, _ in line.edges():
            u, v = index[a], index[b]
            if u == v:
                continue
            key = (min(u, v), max(u, v))
            lines_here = on_edge.setdefault(key, [])
            if line.id in lines_here:
                continue
            lines_here.append(line.id)
            adj.setdefault(u, []).append(v)
            adj.setdefault(v, []).append(u)
        adjacency[line.id] = {k: sorted(vs) for k, vs in adj.items()}

    def unit(u: int, v: int) -> np.ndarray:
        d = pos[v] - pos[u]
        n = float(np.hypot(d[0], d[1]))
        return d / n if n > 0 else np.array([1.0, 0.0])

    def turn_preference(a: str, b: str, u: int, v: int) -> int:
        """+1 when a belongs on the +normal side of b walking u->v, -1 the other side, 0 unknown."""
        prev, cur = u, v
        for _ in range(len(ids)):
            na = [w for w in adjacency[a].get(cur, []) if w != prev]
            nb = [w for w in adjacency[b].get(cur, []) if w != prev]
            if not na or not nb:
                return 0  # one of them ends here: no side is better
            common = [w for w in na if w in nb]
            if common:
                if len(na) == 1 and len(nb) == 1:
                    prev, cur = cur, common[0]
                    continue
                return 0  # a fork shared by both: undecided
            d = unit(prev, cur)
            ta, tb = unit(cur, na[0]), unit(cur, nb[0])
            # signed turn towards the normal n = (-dy, dx): cross(d, t)
            ca = d[0] * ta[1] - d[1] * ta[0]
            cb = d[0] * tb[1] - d[1] * tb[0]
            # turning the same way: the sharper turn is the inner one
            if abs(ca - cb) < 1e-9:
                return 0
            return 1 if ca > cb else -1
        return 0

    slots: dict[tuple[int, int], tuple[str, ...]] = {}
    for (u, v), lines_here in on_edge.items():
        if len(lines_here) == 1:
            slots[(u, v)] = tuple(lines_here)
            continue

        def compare(a: str, b: str, u: int = u, v: int = v) -> int:
            forward = turn_preference(a, b, u, v)
            backward = -turn_preference(a, b, v, u)  # walking v->u flips the normal
            if forward and backward and forward != backward:
                # the lines part on opposite sides at the two ends: one crossing is
                # unavoidable; decide by an end every edge of the corridor agrees on
                pref = forward if _parting_key(adjacency, a, b, u, v, len(ids)) <= _parting_key(adjacency, a, b, v, u, len(ids)) else backward
            else:
                pref = forward or backward
            if pref:
                return pref  # +1: a after b (towards +normal)
            return order[a] - order[b]

        slots[(u, v)] = tuple(sorted(lines_here, key=cmp_to_key(compare)))

    offsets: dict[tuple[str, tuple[int, int]], tuple[np.ndarray, float]] = {}
    for (u, v), lines_here in slots.items():
        d = unit(u, v)
        normal = np.array([-d[1], d[0]])
        n = len(lines_here)
        for k, lid in enumerate(lines_here):
            offsets[(lid, (u, v))] = (normal, (k - (n - 1) / 2.0) * gap)

    points: dict[tuple[str, int], np.ndarray] = {}
    for line in annotation.lines:
        for node, neighbours in adjacency[line.id].items():
            constraints = [offsets[(line.id, (min(node, w), max(node, w)))] for w in neighbours]
            points[(line.id, node)] = pos[node] + _mitre(constraints, gap)
    return Bundles(slots, points)


def _parting_key(adjacency, a: str, b: str, u: int, v: int, limit: int) -> int:
    """Station index where a and b part walking u->v (a corridor-wide tie-breaker)."""
    prev, cur = u, v
    for _ in range(limit):
        na = [w for w in adjacency[a].get(cur, []) if w != prev]
        nb = [w for w in adjacency[b].get(cur, []) if w != prev]
        common = [w for w in na if w in nb]
        if len(na) == 1 and len(nb) == 1 and common:
            prev, cur = cur, common[0]
            continue
        return cur
    return cur


def _mitre(constraints: list[tuple[np.ndarray, float]], gap: float) -> np.ndarray:
    """Offset of a line's vertex: the point at signed distance s along normal n of each
    incident edge (x . n = s); nearly parallel edges and forks take the average."""
    if len(constraints) == 1:
        n, s = constraints[0]
        return n * s
    if len(constraints) == 2:
        (n1, s1), (n2, s2) = constraints
        det = n1[0] * n2[1] - n1[1] * n2[0]
        if abs(det) < 0.25:  # straight on (or a U-turn): the offsets nearly agree
            return (n1 * s1 + n2 * s2) / 2
        x = np.linalg.solve(np.array([n1, n2]), np.array([s1, s2]))
        cap = 2.5 * max(abs(s1), abs(s2), gap * 0.5)
        norm = float(np.linalg.norm(x))
        return x * (cap / norm) if norm > cap else x
    return np.mean([n * s for n, s in constraints], axis=0)
