"""Lay out one synthetic transit network on a plane and turn it into an annotation dict.

Geometry first, stations second, the way real networks read:

1. every line is a smooth path in kilometres: a gently curving chord across a disc of
   radius R that passes near the centre (radial lines), a wobbly ellipse (loops), or a
   spur leaving a trunk at a fork station (branches);
2. where paths of two lines cross, a shared station is made until the city has as many
   interchanges as it asked for (a crossing next to an existing interchange joins it, so
   some interchanges serve three or more lines); the other crossings stay plain crossings;
3. the gaps between fixed stations (ends, forks, interchanges) are filled with evenly
   spaced stations at the spacing that gives the asked station count; a station that
   would sit on top of another line's station is left out;
4. kilometres become ``lonlat`` around a seeded centre.

``layout_city`` returns None when this draw misses the asked ranges; the caller draws
again with the next attempt's generator.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from mapkit.generate.config import CityConfig
from mapkit.generate.names import NameGenerator

_SAMPLES = 64  # points per path: smooth enough for crossings, cheap for shapely


@dataclass
class _Path:
    line: int
    points: np.ndarray  # (n, 2) km
    closed: bool = False
    fork: str | None = None  # branch: the trunk station it starts at
    fixed: list[tuple[float, str]] = field(default_factory=list)  # (arc length, station id)

    def __post_init__(self) -> None:
        coords = np.vstack([self.points, self.points[:1]]) if self.closed else self.points
        self.geom = LineString(coords)
        self.length = self.geom.length

    def at(self, arc: float) -> tuple[float, float]:
        p = self.geom.interpolate(arc % self.length if self.closed else arc)
        return p.x, p.y

    def free_at(self, arc: float, gap: float) -> bool:
        for other, _ in self.fixed:
            d = abs(other - arc)
            if self.closed:
                d = min(d, self.length - d)
            if d < gap:
                return False
        return True


def _catmull_rom(waypoints: np.ndarray, samples: int) -> np.ndarray:
    """A smooth curve through the waypoints (centripetal enough for gentle bends)."""
    pts = np.vstack([2 * waypoints[0] - waypoints[1], waypoints, 2 * waypoints[-1] - waypoints[-2]])
    out = []
    per = max(2, samples // (len(waypoints) - 1))
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for t in np.linspace(0, 1, per, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(waypoints[-1])
    return np.array(out)


def _radial(rng: random.Random, radius: float, line: int) -> _Path:
    theta = rng.uniform(0, 2 * math.pi)
    d = np.array([math.cos(theta), math.sin(theta)])
    n = np.array([-d[1], d[0]])
    offset = rng.uniform(-0.3, 0.3) * radius
    a, b = -radius * rng.uniform(0.7, 1.0), radius * rng.uniform(0.7, 1.0)
    ts = np.linspace(a, b, 5)
    waypoints = np.array([t * d + (offset + (rng.uniform(-0.12, 0.12) * radius if 0 < k < 4 else 0)) * n
                          for k, t in enumerate(ts)])
    return _Path(line, _catmull_rom(waypoints, _SAMPLES))


def _loop(rng: random.Random, radius: float, line: int) -> _Path:
    r = rng.uniform(0.35, 0.55) * radius
    squash, tilt, phase = rng.uniform(0.7, 1.0), rng.uniform(0, math.pi), rng.uniform(0, 2 * math.pi)
    wobble = rng.uniform(0.03, 0.08)
    t = np.linspace(0, 2 * math.pi, _SAMPLES, endpoint=False)
    rr = r * (1 + wobble * np.sin(3 * t + phase))
    x, y = rr * np.cos(t), rr * squash * np.sin(t)
    c, s = math.cos(tilt), math.sin(tilt)
    return _Path(line, np.column_stack([c * x - s * y, s * x + c * y]), closed=True)


def _branch(rng: random.Random, trunk: _Path, fork_arc: float, fork_id: str, radius: float) -> _Path:
    start = np.array(trunk.at(fork_arc))
    ahead = np.array(trunk.at(min(trunk.length, fork_arc + 0.05 * trunk.length)))
    heading = math.atan2(*(ahead - start)[::-1]) + rng.choice((-1, 1)) * rng.uniform(0.6, 1.0)
    length = rng.uniform(0.4, 0.65) * radius
    bend = rng.uniform(-0.25, 0.25)
    waypoints = [start]
    for k in (1, 2, 3):
        h = heading + bend * k / 3
        waypoints.append(waypoints[-1] + length / 3 * np.array([math.cos(h), math.sin(h)]))
    return _Path(trunk.line, _catmull_rom(np.array(waypoints), _SAMPLES // 2), fork=fork_id)


@dataclass
class _Net:
    names: NameGenerator
    xy: dict[str, tuple[float, float]] = field(default_factory=dict)  # station id -> km
    latin: dict[str, str] = field(default_factory=dict)  # station id -> display name
    native: dict[str, str] = field(default_factory=dict)  # station id -> name in its own script
    lines_of: dict[str, set[int]] = field(default_factory=dict)

    def new_station(self, xy: tuple[float, float]) -> str:
        name = self.names.station()
        sid = base = re.sub(r"[^a-z0-9]+", "-", name.latin.casefold()).strip("-") or "station"
        k = 2
        while sid in self.xy:
            sid, k = f"{base}-{k}", k + 1
        self.xy[sid] = xy
        self.lines_of[sid] = set()
        self.latin[sid] = name.latin
        if name.native:
            self.native[sid] = name.native
        return sid

    def name(self, sid: str) -> str:
        return self.latin[sid]


Drawn = tuple[_Net, list[tuple[int, list[list[str]], bool]]]  # stations; (line, segments, loop) per line


def layout_city(cfg: CityConfig, rng: random.Random) -> Drawn | None:
    """Stations and line segments for one draw, or None when it misses the ranges
    (or the network falls apart): the caller draws again."""
    n_lines = rng.randint(*cfg.lines)
    target_stations = rng.randint(*cfg.stations)
    target_transfers = rng.randint(*cfg.transfers)
    n_loops = min(cfg.loops, n_lines)
    n_branches = min(cfg.branches, n_lines - n_loops)
    # Radius from the wanted station count at ~1.2 km between stations (a chord is ~2R).
    spacing_km = 1.2
    radius = spacing_km * target_stations / (2.0 * (n_lines - n_loops) + 2.8 * n_loops + 0.5 * n_branches)
    paths: list[_Path] = [_loop(rng, radius, i) if i < n_loops else _radial(rng, radius, i) for i in range(n_lines)]
    net = _Net(NameGenerator(cfg.language, rng))

    branch_of = sorted(rng.sample(range(n_loops, n_lines), n_branches))
    for i in branch_of:
        trunk = paths[i]
        arc = rng.uniform(0.45, 0.7) * trunk.length
        fork = net.new_station(trunk.at(arc))
        net.lines_of[fork].add(i)
        trunk.fixed.append((arc, fork))
        paths.append(_branch(rng, trunk, arc, fork, radius))
        paths[-1].fixed.append((0.0, fork))

    total = sum(p.length for p in paths)
    spacing = total / max(target_stations + target_transfers, 2 * len(paths))
    transfers = _interchanges(paths, net, rng, target_transfers, gap=0.6 * spacing)
    if not cfg.transfers[0] <= transfers <= cfg.transfers[1]:
        return None
    lines = _fill(paths, net, spacing)
    if len(lines) != n_lines or any(loop and len(segs[0]) < 3 for _, segs, loop in lines):
        return None
    served: dict[str, set[int]] = {}
    for line, segs, _ in lines:
        for seg in segs:
            for s in seg:
                served.setdefault(s, set()).add(line)
    real_transfers = sum(1 for on in served.values() if len(on) >= 2)
    if not (cfg.stations[0] <= len(served) <= cfg.stations[1] and cfg.transfers[0] <= real_transfers <= cfg.transfers[1]):
        return None
    if not _connected(served, n_lines):
        return None
    return net, lines


def _connected(served: dict[str, set[int]], n_lines: int) -> bool:
    """Every line reachable from line 0 through shared stations (routes exist everywhere)."""
    reach, frontier = {0}, [0]
    while frontier:
        line = frontier.pop()
        for on in served.values():
            if line in on:
                for other in on - reach:
                    reach.add(other)
                    frontier.append(other)
    return len(reach) == n_lines


def _interchanges(paths: list[_Path], net: _Net, rng: random.Random, target: int, gap: float) -> int:
    crossings = []
    for a in range(len(paths)):
        for b in range(a + 1, len(paths)):
            if paths[a].line == paths[b].line:
                continue
            hit = paths[a].geom.intersection(paths[b].geom)
            for point in shapely.get_parts(hit):
                if isinstance(point, Point):
                    crossings.append((round(point.x, 9), round(point.y, 9), a, b))
    crossings.sort()
    rng.shuffle(crossings)
    made = 0
    for x, y, a, b in crossings:
        if made >= target:
            break
        pa, pb = paths[a], paths[b]
        near = [s for s in net.xy if net.lines_of[s] and math.dist(net.xy[s], (x, y)) < gap]
        if near:
            # Join an existing interchange when it lies on one of the two lines already.
            s = near[0]
            on = net.lines_of[s]
            if len(near) == 1 and len(on) >= 2 and (pa.line in on) != (pb.line in on):
                other = pb if pa.line in on else pa
                arc = other.geom.project(Point(net.xy[s]))
                if other.free_at(arc, gap) and (other.fork is None or arc > gap):
                    other.fixed.append((arc, s))
                    on.add(other.line)
            continue
        arc_a, arc_b = pa.geom.project(Point(x, y)), pb.geom.project(Point(x, y))
        if not (pa.free_at(arc_a, gap) and pb.free_at(arc_b, gap)):
            continue
        if (pa.fork and arc_a < gap) or (pb.fork and arc_b < gap):
            continue
        sid = net.new_station((x, y))
        net.lines_of[sid].update((pa.line, pb.line))
        pa.fixed.append((arc_a, sid))
        pb.fixed.append((arc_b, sid))
        made += 1
    return made


def _fill(paths: list[_Path], net: _Net, spacing: float) -> list[tuple[int, list[list[str]], bool]]:
    """Every path's station sequence: fixed stations plus evenly spaced new ones."""
    sequences: dict[int, list[list[str]]] = {}
    loops: dict[int, bool] = {}
    too_close = 0.35 * spacing
    for path in paths:  # trunks come before their branches in `paths`
        fixed = sorted(path.fixed)
        anchors: list[tuple[float, str | None]] = list(fixed)
        if path.closed:
            if not anchors:
                anchors = [(0.0, None)]
            stops = []
            for k, (arc, sid) in enumerate(anchors):
                nxt = anchors[(k + 1) % len(anchors)][0] + (path.length if k == len(anchors) - 1 else 0)
                stops.append((arc, sid))
                stops.extend((arc + (nxt - arc) * j / n, None) for n in [max(1, round((nxt - arc) / spacing))] for j in range(1, n))
        else:
            if not anchors or anchors[0][0] > 0.5 * spacing:
                anchors.insert(0, (0.0, None))
            if anchors[-1][0] < path.length - 0.5 * spacing:
                anchors.append((path.length, None))
            stops = []
            for k, (arc, sid) in enumerate(anchors):
                stops.append((arc, sid))
                if k + 1 < len(anchors):
                    nxt = anchors[k + 1][0]
                    n = max(1, round((nxt - arc) / spacing))
                    stops.extend((arc + (nxt - arc) * j / n, None) for j in range(1, n))
        ids = []
        for k, (arc, sid) in enumerate(stops):
            if sid is None:
                xy = path.at(arc)
                end = not path.closed and k in (0, len(stops) - 1)
                if not end and any(math.dist(xy, net.xy[o]) < too_close for o in net.xy if net.lines_of[o]):
                    continue  # would sit on another station: leave it out
                sid = net.new_station(xy)
            if path.line in net.lines_of[sid] and sid in ids:
                continue
            net.lines_of[sid].add(path.line)
            ids.append(sid)
        segs = sequences.setdefault(path.line, [])
        if path.fork is not None and (not ids or ids[0] != path.fork):
            ids.insert(0, path.fork)
        if len(ids) >= 2:
            segs.append(ids)
        loops[path.line] = loops.get(path.line, False) or path.closed
    return [(line, segs, loops[line]) for line, segs in sorted(sequences.items()) if segs]
