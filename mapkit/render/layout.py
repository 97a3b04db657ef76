"""Station positions for a schematic map: project, spread the dense centre, relax.

All stages are plain numpy on fixed inputs, so the same annotation always gives the
same positions. Positions are in *reference pixels*: the layout of a map whose long
side is ``REF_LONG`` px; the drawing code scales them to the requested width.

1. Project ``lonlat`` equirectangularly (longitude scaled by cos of the mean latitude),
   or take ``xy`` as they are (y already points down).
2. Spread (lonlat only): a smooth density equalisation (``_equalise``): every station
   is pushed away from the others through a wide Gaussian kernel and the pushes are
   averaged over neighbours, so a dense centre (central Tokyo) grows relative to the
   sparse suburbs while lines bend gently instead of kinking. (A per-axis rank
   equalisation and a fisheye exist as options, off by default.)
3. Relax: small steps that push stations apart from each other and from lines they
   are not on, straighten lines (each inner station towards the midpoint of its
   neighbours), even out spacing and nudge edges towards multiples of 45 degrees,
   while an anchor keeps every station near its spread position. Two edges that cross
   now but not in the geography are pushed back to the sides they were on.
   ``finish_layout(base, room)`` re-runs this step with extra personal space for
   chosen stations (the renderer gives it to stations whose labels found no place).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from mapkit.annotation import Annotation
from mapkit.errors import RenderError

REF_LONG = 3800.0  # long side of the map area in reference pixels (a 4000 px image less margins)


@dataclass(frozen=True)
class Layout:
    ids: tuple[str, ...]  # stations on at least one line, annotation order
    pos: np.ndarray  # (n, 2) reference pixels, y down, inside [0, width] x [0, height]
    edges: tuple[tuple[int, int], ...]  # unique undirected station edges (i < j)
    source: str  # "lonlat" or "xy"
    width: float
    height: float

    @property
    def index(self) -> dict[str, int]:
        return {sid: i for i, sid in enumerate(self.ids)}


@dataclass(frozen=True)
class LayoutParams:
    spread: float = 0.0  # per-axis rank equalisation, 0: off, 1: full (exaggerates tiny offsets: off by default)
    straighten: float = 0.1  # pull of a line's inner stations towards the midpoint of their neighbours
    fisheye: float = 0.0  # Sarkar-Brown distortion around the densest area: the centre is magnified (1 + fisheye) times
    equalise: int = 40  # steps of smooth density equalisation (Gaussian repulsion between all stations)
    equalise_sigma: float = 0.1  # kernel width, as a fraction of the map's long side
    min_station_gap: float = 115.0  # reference px between station centres
    min_edge_gap: float = 80.0  # reference px between a station and a line it is not on
    iterations: int = 160  # relaxation steps
    max_aspect: float = 1.35  # height / width of the map area, either way round


@dataclass(frozen=True)
class LayoutBase:
    """Positions before relaxation (projected and spread) and the station graph."""

    ids: tuple[str, ...]
    pos: np.ndarray
    edges: tuple[tuple[int, int], ...]
    source: str
    params: LayoutParams
    geo: np.ndarray  # projected positions before spreading: which side of a line each station is on
    allowed: frozenset  # edge pairs that cross in the geography itself
    triples: np.ndarray  # (k, 3) consecutive stations a, b, c along a line: b is pulled towards straight


def compute_layout(annotation: Annotation, params: LayoutParams = LayoutParams()) -> Layout:
    """Positions of every station that some line serves, in reference pixels."""
    return finish_layout(layout_base(annotation, params))


def layout_base(annotation: Annotation, params: LayoutParams = LayoutParams()) -> LayoutBase:
    """Project and spread; the relaxation (``finish_layout``) can then be re-run cheaply."""
    served: dict[str, None] = {}
    for line in annotation.lines:
        served.update(dict.fromkeys(line.station_ids))
    ids = tuple(sid for sid in annotation.stations if sid in served)
    stations = [annotation.stations[sid] for sid in ids]
    if all(s.lonlat is not None for s in stations):
        source = "lonlat"
        lon = np.array([s.lonlat[0] for s in stations], dtype=float)
        lat = np.array([s.lonlat[1] for s in stations], dtype=float)
        lat0 = math.radians(float(np.mean(lat)))
        lon0 = float(np.mean(lon))
        # Longitudes are unwrapped around the mean so a network crossing 180 degrees stays whole.
        dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
        pos = np.column_stack([dlon * math.cos(lat0), -lat])
    elif all(s.xy is not None for s in stations):
        source = "xy"
        pos = np.array([s.xy for s in stations], dtype=float)
    else:
        missing = [sid for sid, s in zip(ids, stations) if s.lonlat is None]
        no_xy = [sid for sid, s in zip(ids, stations) if s.xy is None]
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise RenderError(
            f"{annotation.city}: cannot draw a map: {len(missing)} of {len(ids)} stations have no lonlat ({shown})"
            + (f" and {len(no_xy)} have no xy" if no_xy else "")
            + "; give every station a lonlat (longitude, latitude), or every station an xy on the map image"
        )
    index = {sid: i for i, sid in enumerate(ids)}
    edge_set: set[tuple[int, int]] = set()
    for line in annotation.lines:
        for a, b, _ in line.edges():
            i, j = index[a], index[b]
            if i != j:
                edge_set.add((min(i, j), max(i, j)))
    edges = tuple(sorted(edge_set))
    e = np.array(edges, dtype=int).reshape(-1, 2)
    triple_set: set[tuple[int, int, int]] = set()
    for line in annotation.lines:
        for k, segment in enumerate(line.segments):
            seq = [index[sid] for sid in segment]
            if line.loop and k == 0 and len(seq) > 2:
                seq = [seq[-1], *seq, seq[0]]
            for a, b, c in zip(seq, seq[1:], seq[2:]):
                triple_set.add((min(a, c), b, max(a, c)))
    triples = np.array(sorted(triple_set), dtype=int).reshape(-1, 3)

    pos = _fit(pos, REF_LONG, params.max_aspect)
    geo = pos.copy()
    allowed = crossing_pairs(pos, e)  # the geography's own crossings
    if source == "lonlat" and len(ids) > 2:
        if params.spread > 0:
            pos = _fit(_spread(pos, params.spread), REF_LONG, params.max_aspect)
        if params.equalise > 0:
            pos = _fit(_equalise(pos, params.equalise, params.equalise_sigma * REF_LONG), REF_LONG, params.max_aspect)
        if params.fisheye > 0:
            pos = _fit(_fisheye(pos, _focus(pos), params.fisheye), REF_LONG, params.max_aspect)
    pos = _separate_duplicates(pos)
    return LayoutBase(ids, pos, edges, source, params, geo, frozenset(allowed), triples)


def finish_layout(base: LayoutBase, room: dict[int, float] | None = None) -> Layout:
    """Relax the base positions; ``room`` gives some stations extra personal space (ref px)."""
    pos = base.pos
    if base.params.iterations > 0 and len(base.ids) > 2:
        pos = _relax(pos, np.array(base.edges, dtype=int).reshape(-1, 2), base.params, room or {}, base.geo,
                     set(base.allowed), base.triples)
        pos = _fit(pos, REF_LONG, base.params.max_aspect)
    width = float(pos[:, 0].max()) if len(pos) else 1.0
    height = float(pos[:, 1].max()) if len(pos) else 1.0
    return Layout(base.ids, pos, base.edges, base.source, max(width, 1.0), max(height, 1.0))


def _fit(pos: np.ndarray, long_side: float, max_aspect: float) -> np.ndarray:
    """Translate to the origin and scale uniformly so the longer side is ``long_side``.

    A very elongated network is scaled so its extreme aspect ratio is capped; the short
    side then stays at long_side / max_aspect at least (uniform scale, no squashing).
    """
    pos = pos - pos.min(axis=0)
    extent = pos.max(axis=0)
    longest = float(extent.max())
    if longest <= 0:
        return pos + long_side / 2  # a single point (or all coincident)
    return pos * (long_side / longest)


def _spread(pos: np.ndarray, amount: float) -> np.ndarray:
    """Blend each axis with its rank-based (equal-density) version.

    The rank transform maps the k-th smallest coordinate to k/(n-1) of the extent, with
    ties sharing one value; interpolating keeps it monotone, hence order-preserving.
    """
    out = pos.copy()
    n = len(pos)
    if n < 3:
        return out
    for axis in (0, 1):
        v = pos[:, axis]
        lo, hi = float(v.min()), float(v.max())
        if hi - lo <= 0:
            continue
        uniq = np.unique(v)
        # empirical CDF at each unique value (mid-rank), smoothed by mixing with the identity
        counts = np.searchsorted(np.sort(v), uniq, side="right") - np.searchsorted(np.sort(v), uniq, side="left")
        cdf = (np.cumsum(counts) - counts / 2.0) / n
        cdf = (cdf - cdf[0]) / max(cdf[-1] - cdf[0], 1e-12)
        ranked = lo + cdf * (hi - lo)
        eq = np.interp(v, uniq, ranked)
        out[:, axis] = (1 - amount) * v + amount * eq
    return out


def _equalise(pos: np.ndarray, steps: int, sigma: float) -> np.ndarray:
    """Spread dense areas by a smooth repulsion field.

    Every station is pushed away from the others with a Gaussian kernel of width
    ``sigma``: stations close together get nearly the same push, so neighbourhoods move
    as a whole and lines keep their shapes, while a dense centre grows relative to the
    sparse suburbs (a cheap density-equalising cartogram). Each step moves a station at
    most a tenth of ``sigma``. Lines this makes cross are untangled by ``_relax``.
    """
    pos = pos.copy()
    n = len(pos)
    for _ in range(steps):
        x, y = pos[:, 0], pos[:, 1]
        # per axis, not as an (n, n, 2) array (reductions over a length-2 axis are slow):
        # ex[j, i] = x_i - x_j, so the push on i, sum over j of w[i, j] (p_i - p_j), is a
        # column sum (w is symmetric), added row after row as the (n, n, 2) sum did
        ex, ey = x[None, :] - x[:, None], y[None, :] - y[:, None]
        d2 = ex * ex + ey * ey
        w = np.exp(-d2 / (2 * sigma * sigma))
        np.fill_diagonal(w, 0.0)
        push = np.column_stack([(w * ex).sum(0), (w * ey).sum(0)]) / max(1.0, n ** 0.5)
        # neighbours move alike: average the pushes over a narrower kernel, so lines bend
        # gently instead of kinking where the density changes
        ws = np.exp(-d2 / (2 * (0.5 * sigma) ** 2))
        push = (ws @ push) / ws.sum(1, keepdims=True)
        norm = np.linalg.norm(push, axis=1, keepdims=True)
        cap = 0.1 * sigma
        pos = pos + np.where(norm > cap, push * (cap / np.maximum(norm, 1e-9)), push)
    return pos


def _focus(pos: np.ndarray) -> np.ndarray:
    """The densest place: the station with most others within a tenth of the map's size."""
    reach = 0.1 * float(np.ptp(pos, axis=0).max())
    tree = shapely.STRtree(shapely.points(pos))
    a, _ = tree.query(shapely.points(pos), predicate="dwithin", distance=reach)
    counts = np.bincount(a, minlength=len(pos))
    best = np.flatnonzero(counts == counts.max())
    # several equally dense: their mean (deterministic, independent of station order)
    return pos[best].mean(axis=0)


def _fisheye(pos: np.ndarray, focus: np.ndarray, d: float) -> np.ndarray:
    """Sarkar-Brown graphical fisheye: r -> R (d+1) (r/R) / (d r/R + 1), radially monotone."""
    v = pos - focus
    r = np.linalg.norm(v, axis=1)
    big_r = float(r.max())
    if big_r <= 0:
        return pos
    x = r / big_r
    scale = np.where(r > 0, (d + 1) / (d * x + 1), 1.0)
    return focus + v * scale[:, None]


def _separate_duplicates(pos: np.ndarray) -> np.ndarray:
    """Stations at identical coordinates get a small deterministic nudge apart."""
    pos = pos.copy()
    seen: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(pos):
        key = (round(float(x), 3), round(float(y), 3))
        k = seen.get(key, 0)
        if k:
            angle = k * 2.399963  # golden angle
            pos[i] += 8.0 * np.array([math.cos(angle), math.sin(angle)])
        seen[key] = k + 1
    return pos


def crossing_pairs(pos: np.ndarray, edges: np.ndarray) -> set[tuple[int, int]]:
    """Pairs of edge indices (i < j) that cross and share no station."""
    if len(edges) < 2:
        return set()
    segs = shapely.linestrings(np.stack([pos[edges[:, 0]], pos[edges[:, 1]]], axis=1))
    tree = shapely.STRtree(segs)
    left, right = tree.query(segs, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    share = (edges[left, 0] == edges[right, 0]) | (edges[left, 0] == edges[right, 1]) | \
            (edges[left, 1] == edges[right, 0]) | (edges[left, 1] == edges[right, 1])
    return set(zip(left[~share].tolist(), right[~share].tolist()))


def _near_pairs(pos: np.ndarray, edges: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate station pairs and (station, edge) pairs closer than ``cutoff``.

    Found with one STRtree query each; the relaxation re-uses them for several steps,
    which is safe because a station moves at most ``step_cap`` per step. The trees
    are asked for envelopes within ``cutoff`` and the distances are measured here:
    pairs a hair beyond the cutoff may stay in, and push with zero force.
    """
    pts = shapely.points(pos)
    x, y = pos[:, 0], pos[:, 1]
    reach = shapely.box(x - cutoff, y - cutoff, x + cutoff, y + cutoff)
    a, b = shapely.STRtree(pts).query(reach)
    keep = a < b
    a, b = a[keep], b[keep]
    dx, dy = x[a] - x[b], y[a] - y[b]
    keep = dx * dx + dy * dy <= cutoff * cutoff * (1 + 1e-9)
    sa, sb = a[keep], b[keep]
    if len(edges):
        segs = shapely.linestrings(np.stack([pos[edges[:, 0]], pos[edges[:, 1]]], axis=1))
        st, se = shapely.STRtree(segs).query(reach)
        e0, e1 = edges[se, 0], edges[se, 1]
        incident = (e0 == st) | (e1 == st)
        st, se, e0, e1 = st[~incident], se[~incident], e0[~incident], e1[~incident]
        abx, aby = x[e1] - x[e0], y[e1] - y[e0]
        t = np.clip(((x[st] - x[e0]) * abx + (y[st] - y[e0]) * aby) / np.maximum(abx * abx + aby * aby, 1e-9), 0.0, 1.0)
        ox, oy = x[st] - (x[e0] + t * abx), y[st] - (y[e0] + t * aby)
        keep = ox * ox + oy * oy <= cutoff * cutoff * (1 + 1e-9)
        st, se = st[keep], se[keep]
    else:
        st = se = np.zeros(0, dtype=int)
    return sa, sb, st, se


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise dot product of (k, 2) arrays (as ``(u * v).sum(1)``, without a slow length-2 reduction)."""
    return u[:, 0] * v[:, 0] + u[:, 1] * v[:, 1]


def _norm(v: np.ndarray) -> np.ndarray:
    """Row lengths of a (k, 2) array, bit for bit ``np.linalg.norm(v, axis=1)``."""
    return np.sqrt(_dot(v, v))


def _accumulate(force: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """force[index] += values, summing repeated indices (np.add.at, but much faster)."""
    n = len(force)
    force[:, 0] += np.bincount(index, weights=values[:, 0], minlength=n)
    force[:, 1] += np.bincount(index, weights=values[:, 1], minlength=n)


def _untangle(pos: np.ndarray, geo: np.ndarray, edges: np.ndarray, pairs: list[tuple[int, int]], margin: float) -> np.ndarray:
    """Forces that move the ends of two crossing edges back to the side of each other
    they are on in the geography (only for crossings the geography does not have)."""
    force = np.zeros_like(pos)
    for e1, e2 in pairs:
        for mover, line in ((e1, e2), (e2, e1)):
            c, d = edges[line]
            dv = pos[d] - pos[c]
            length = float(np.hypot(*dv))
            gv = geo[d] - geo[c]
            if length < 1e-9:
                continue
            normal = np.array([-dv[1], dv[0]]) / length
            for end in edges[mover]:
                was = gv[0] * (geo[end][1] - geo[c][1]) - gv[1] * (geo[end][0] - geo[c][0])
                side = float(normal @ (pos[end] - pos[c]))
                if was == 0 or np.sign(side) == np.sign(was):
                    continue
                want = np.sign(was) * (abs(side) + margin)
                shift = normal * want
                force[end] += 0.5 * shift
                force[c] -= 0.25 * shift
                force[d] -= 0.25 * shift
    return force


def _relax(pos: np.ndarray, edges: np.ndarray, p: LayoutParams, room: dict[int, float], geo: np.ndarray,
           allowed: set[tuple[int, int]], triples: np.ndarray | None = None) -> np.ndarray:
    anchor = pos.copy()
    n = len(pos)
    extra = np.zeros(n)
    for k, v in room.items():
        extra[k] = v
    i, j = (edges[:, 0], edges[:, 1]) if len(edges) else (np.zeros(0, int), np.zeros(0, int))
    lengths = np.linalg.norm(pos[j] - pos[i], axis=1) if len(edges) else np.zeros(0)
    target = max(float(np.median(lengths)) if len(lengths) else p.min_station_gap, p.min_station_gap)
    step_cap = 6.0
    refresh = 5
    reach = max(p.min_station_gap, p.min_edge_gap) + 2 * float(extra.max(initial=0.0)) + 2 * refresh * step_cap
    sa = sb = st = se = np.zeros(0, dtype=int)
    fresh: list[tuple[int, int]] = []
    for it in range(p.iterations):
        if it % refresh == 0:
            sa, sb, st, se = _near_pairs(pos, edges, reach)
            fresh = sorted(crossing_pairs(pos, edges) - allowed)
            ise, jse = i[se], j[se]
            want_ss = p.min_station_gap + extra[sa] + extra[sb]
            want_se = p.min_edge_gap + extra[st]
        force = 0.04 * (anchor - pos)
        if fresh:
            fix = _untangle(pos, geo, edges, fresh, margin=p.min_edge_gap * 0.5)
            force += fix
            anchor += 0.2 * fix  # move the anchor too, or it pulls the crossing back
        if len(edges):
            d = pos[j] - pos[i]
            length = np.maximum(_norm(d), 1e-6)
            # even spacing: stretch short edges, shrink long ones, gently
            pull = 0.05 * ((length - target) / length)[:, None] * d
            # octilinear: rotate each edge towards the nearest multiple of 45 degrees
            angle = np.arctan2(d[:, 1], d[:, 0])
            snapped = np.round(angle / (math.pi / 4)) * (math.pi / 4)
            want = np.column_stack([np.cos(snapped), np.sin(snapped)]) * length[:, None]
            turn = 0.06 * (want - d)
            edge_force = pull - turn
            _accumulate(force, i, edge_force / 2)
            _accumulate(force, j, -edge_force / 2)
        # straighten: a station between two neighbours on a line moves towards their midpoint
        if triples is not None and len(triples):
            a, b, c = triples[:, 0], triples[:, 1], triples[:, 2]
            _accumulate(force, b, p.straighten * ((pos[a] + pos[c]) / 2 - pos[b]))
        # station-station repulsion
        if len(sa):
            diff = pos[sa] - pos[sb]
            dist = np.maximum(_norm(diff), 1e-6)
            mag = np.where(dist < want_ss, (want_ss - dist) / dist, 0.0)
            push = 0.25 * mag[:, None] * diff
            _accumulate(force, sa, push)
            _accumulate(force, sb, -push)
        # station-edge repulsion: keep stations off lines they are not on
        if len(st):
            a, b, s = pos[ise], pos[jse], pos[st]
            ab = b - a
            denom = np.maximum(_dot(ab, ab), 1e-9)
            t = np.clip(_dot(s - a, ab) / denom, 0.0, 1.0)
            away = s - (a + t[:, None] * ab)
            dd = np.maximum(_norm(away), 1e-6)
            mag = np.where(dd < want_se, (want_se - dd) / dd, 0.0)
            vec = mag[:, None] * away
            _accumulate(force, st, 0.3 * vec)
            # the edge moves the other way, shared between its ends by where the station is
            _accumulate(force, ise, -0.15 * vec * (1 - t)[:, None])
            _accumulate(force, jse, -0.15 * vec * t[:, None])
        norm = _norm(force)[:, None]
        force = np.where(norm > step_cap, force * (step_cap / np.maximum(norm, 1e-9)), force)
        pos = pos + force
    return pos
