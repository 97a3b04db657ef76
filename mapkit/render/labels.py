"""Station label placement: candidate positions around each station, the first free one kept.

Every station gets candidate boxes in 16 directions around its marker at growing
distances (near first; at each distance the directions furthest from the station's own
lines first), for its name on one line and, when it has a space or hyphen, on two. Far
candidates get a thin leader line back to the marker.

Fixed obstacles (line strokes as short segments, station markers, the map area's edge)
are tested once for all candidates of a call, as arrays (``mapkit.render.obstacles``),
so a label keeps a small clearance from every stroke. Placed labels go into a grid of
boxes (``mapkit.render.boxindex``).

A candidate nearer another station's marker than its own is refused too: readers
take a name for the station it is closest to.

Stations are placed most constrained first (fewest candidates free of fixed
obstacles), each taking its first candidate that no placed label or leader touches.
A repair pass then retries each station left without a label: when a single placed
label blocks one of its candidates, that label is pushed to another free candidate of
its own, along a chain of at most ``REPAIR_DEPTH`` labels. A label that still finds no
free position is reported, never drawn over anything.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from PIL import ImageFont

from mapkit.render.boxindex import BoxIndex
from mapkit.render.obstacles import FixedObstacles

Box = tuple[float, float, float, float]

# 16 directions (radians, y down) and a tie-break rank: right, left, above, below first,
# then the diagonals, then the in-between directions
_ANGLES = [k * math.pi / 8 for k in range(16)]
_COS = np.cos(np.array(_ANGLES))
_SIN = np.sin(np.array(_ANGLES))
_DIR_RANK = {0: 0, 8: 1, 12: 2, 4: 3, 14: 4, 10: 5, 2: 6, 6: 7, 15: 8, 1: 9, 9: 10, 7: 11, 13: 12, 11: 13, 3: 14, 5: 15}
# distances from the marker, in units of `step`; from LEADER_RING on a leader line is drawn
_RINGS = (0.6, 1.6, 3.2, 6.0, 10.0, 16.0, 24.0, 34.0)
LEADER_RING = 3
REPAIR_DEPTH = 2  # labels pushed along a chain to make room for one that found no place
REPAIR_WIDTH = 40  # candidates tried per label while pushing
# overlap tests one repair may spend: crowded maps (hundreds of labels without room) made
# the chains cost minutes; successful repairs on Tokyo and a 430-stop network need < 1,400
REPAIR_TESTS = 3000


@dataclass(frozen=True)
class LabelText:
    lines: tuple[str, ...]
    width: float
    height: float
    line_height: float
    font_size: int = 0  # the size it was measured at (px)


@dataclass(frozen=True)
class PlacedLabel:
    station: str
    text: LabelText
    box: Box  # ink box incl. halo, image pixels
    anchor: tuple[float, float]  # top-left corner of the box
    leader: tuple[float, float, float, float] | None  # line from marker to label, if far


@dataclass(frozen=True)
class LabelSpec:
    station: str
    center: tuple[float, float]
    marker: Box
    texts: tuple[LabelText, ...]
    avoid_angles: tuple[float, ...]  # directions of the station's own lines
    first: bool = False  # place before everything else (e.g. stations of a highlighted route)
    marker_index: int = -1  # position of its own marker in the placer's ``boxes``


@dataclass(frozen=True)
class _Candidate:
    box: Box
    text: LabelText
    leader: tuple[float, float, float, float] | None
    leader_geom: object | None


def measure(text: str, font: ImageFont.FreeTypeFont, halo: float) -> LabelText:
    lines = tuple(text.split("\n"))
    ascent, descent = font.getmetrics()
    lh = ascent + descent
    width = max(font.getlength(line) for line in lines)
    return LabelText(lines, width + 2 * halo, lh * len(lines) + 2 * halo, lh, int(getattr(font, "size", 0)))


def wrap_two(name: str) -> str | None:
    """The name on two lines split at the space or hyphen nearest the middle, or None."""
    cuts = [i for i, ch in enumerate(name) if ch in " -"]
    if not cuts:
        return None
    mid = len(name) / 2
    cut = min(cuts, key=lambda i: (abs(i - mid), i))
    first, second = name[: cut + (1 if name[cut] == "-" else 0)].rstrip(), name[cut + 1:].lstrip()
    if not first or not second:
        return None
    return f"{first}\n{second}"


class LabelPlacer:
    """Label placement against fixed strokes and boxes plus the labels placed so far.

    ``strokes`` are line centre segments (short straight pieces keep distance tests
    cheap) drawn ``stroke_half`` px either side; ``boxes`` are station markers. A label
    keeps ``clearance`` px from both and stays inside ``bounds``.
    """

    def __init__(self, strokes: list, stroke_half: float, boxes: list[Box], clearance: float, bounds: Box, step: float):
        self._fixed = FixedObstacles(strokes, stroke_half, boxes, clearance, bounds, step)
        self._bounds = bounds
        self._step = step
        # placed label boxes and the bounding boxes of their leader lines; a grid cell about
        # the size of a short label keeps each query to a few cells
        self._index = BoxIndex(cell=16 * step)
        self._leader_index = BoxIndex(cell=16 * step)
        self._box_geoms: dict[int, object] = {}  # placement id -> shapely box of a placed label, made when needed
        self._placed: dict[int, tuple[str, _Candidate]] = {}  # placement id -> (station, candidate)
        self._next_id = 0
        self._options: dict[str, list[_Candidate]] = {}  # every station's free candidates, across calls
        self.strict_nearest = True  # refuse boxes nearer another station than their own (off for a last try)
        self._at: dict[str, int] = {}  # station -> placement id of its label

    # ------------------------------------------------------------ public
    def place_all(self, specs: list[LabelSpec]) -> tuple[dict[str, PlacedLabel], list[str]]:
        """Place every label; returns the placed ones by station and the stations left out."""
        near = range(LEADER_RING)
        found = self._candidates(specs, near)
        crowded = [k for k, c in enumerate(found) if len(c) < 8]
        # crowded stations also try boxes slid sideways along each direction
        for k, more in zip(crowded, self._candidates([specs[k] for k in crowded], near, slide_groups=((-0.35, 0.35),))):
            found[k] = found[k] + more
        self._options.update({spec.station: c for spec, c in zip(specs, found)})
        options = self._options
        order = sorted(range(len(specs)), key=lambda k: (not specs[k].first, min(len(options[specs[k].station]), 12), k))
        at = self._at  # station -> placement id of its label
        unplaced: list[str] = []
        far = range(LEADER_RING, len(_RINGS))
        for k in order:
            spec = specs[k]
            sid = spec.station
            cand = next((c for c in options[sid] if not self._conflicts(c)), None)
            if cand is None:  # nothing close: try further out, with a leader line
                extra = self._candidates([spec], far, slide_groups=((0.0,), (-0.35, 0.35)))[0]
                options[sid] = options[sid] + extra
                cand = next((c for c in extra if not self._conflicts(c)), None)
            if cand is None:
                unplaced.append(sid)
            else:
                at[sid] = self._add(sid, cand)
        # repair: free a spot by moving one blocking label to another free spot of its own
        for _ in range(2):
            still: list[str] = []
            for sid in unplaced:
                if not self._repair(sid, options, at):
                    still.append(sid)
            if len(still) == len(unplaced):
                break  # nothing moved: a second pass would fail the same way
            unplaced = still
        placed = {sid: self._label(self._placed[i]) for sid, i in at.items()}
        return placed, unplaced  # placed: every label so far, this call's and earlier ones

    # ------------------------------------------------------------ candidates
    def _candidates(self, specs: list[LabelSpec], rings: range,
                    slide_groups: tuple[tuple[float, ...], ...] = ((0.0,),)) -> list[list[_Candidate]]:
        """For each spec, its candidates on the given rings that no stroke or marker blocks,
        in preference order: per group of slides, by ring, text, slide, then direction.
        All specs and groups are built as one array and tested together: one tree query
        per obstacle kind (a candidate's fate depends on its own box only)."""
        out: list[list[_Candidate]] = [[] for _ in specs]
        if not specs or not len(rings):
            return out
        n = len(specs)
        centers = np.array([spec.center for spec in specs], dtype=float).reshape(n, 2)
        markers = np.array([spec.marker for spec in specs], dtype=float).reshape(n, 4)
        cx, cy = centers[:, :1], centers[:, 1:]
        hw = np.maximum(markers[:, 2:3] - cx, cx - markers[:, 0:1])
        hh = np.maximum(markers[:, 3:4] - cy, cy - markers[:, 1:2])
        dirs = np.array([_directions(spec.avoid_angles) for spec in specs]).reshape(n, 16)
        ux, uy = _COS[dirs], _SIN[dirs]  # (n, 16)
        with np.errstate(divide="ignore"):
            reach = np.minimum(np.where(np.abs(ux) > 1e-9, hw / np.abs(ux), np.inf),
                               np.where(np.abs(uy) > 1e-9, hh / np.abs(uy), np.inf))
        # the side of the box facing the station touches the point beyond the marker in direction u
        fx0 = 0.5 * (1 - np.clip(ux * 2.4, -1, 1))
        fy0 = 0.5 * (1 - np.clip(uy * 2.4, -1, 1))
        ring_list = list(rings)
        dist = reach[:, None, :] + (np.array([_RINGS[r] for r in ring_list]) * self._step)[None, :, None]  # (n, R, 16)
        px = cx[:, :, None] + ux[:, None, :] * dist
        py = cy[:, :, None] + uy[:, None, :] * dist
        n_texts = max(len(spec.texts) for spec in specs)
        tw = np.zeros((n, n_texts))
        th = np.zeros((n, n_texts))
        has = np.zeros((n, n_texts), dtype=bool)
        for k, spec in enumerate(specs):
            for t, text in enumerate(spec.texts):
                tw[k, t], th[k, t], has[k, t] = text.width, text.height, True
        ring_no = np.array(ring_list)
        boxes_l, meta_l, owner_l = [], [], []
        for slides in slide_groups:
            sl = np.array(slides, dtype=float)[None, None, None, :, None]  # (1, 1, 1, S, 1)
            # a slide moves the box across the direction (sideways for up/down, up/down for sideways)
            ax = np.clip(fx0[:, None, None, None, :] + sl * np.abs(uy)[:, None, None, None, :], 0, 1)
            ay = np.clip(fy0[:, None, None, None, :] + sl * np.abs(ux)[:, None, None, None, :], 0, 1)
            w = tw[:, None, :, None, None]
            h = th[:, None, :, None, None]
            x0 = px[:, :, None, None, :] - ax * w  # (n, R, T, S, 16)
            y0 = py[:, :, None, None, :] - ay * h
            shape = x0.shape
            valid = np.broadcast_to(has[:, None, :, None, None], shape).ravel()
            x0, y0 = x0.ravel()[valid], y0.ravel()[valid]
            w = np.broadcast_to(w, shape).ravel()[valid]
            h = np.broadcast_to(h, shape).ravel()[valid]
            boxes_l.append(np.column_stack([x0, y0, x0 + w, y0 + h]))
            meta = np.arange(n_texts)[None, None, :, None, None] * 100 + ring_no[None, :, None, None, None]
            meta_l.append(np.broadcast_to(meta, shape).ravel()[valid])
            owner_l.append(np.broadcast_to(np.arange(n)[:, None, None, None, None], shape).ravel()[valid])
        boxes, meta, owner = np.concatenate(boxes_l), np.concatenate(meta_l), np.concatenate(owner_l)
        bx0, by0, bx1, by1 = self._bounds
        ok = (boxes[:, 0] >= bx0) & (boxes[:, 1] >= by0) & (boxes[:, 2] <= bx1) & (boxes[:, 3] <= by1)
        if ok.any():
            ok[ok] = ~self._fixed.blocked(boxes[ok])
        # a label must not sit nearer another station than its own: readers take it for that one
        if ok.any() and self._fixed.has_markers and self.strict_nearest:
            ok[ok] = self._fixed.nearest_is_own(boxes[ok], markers[owner[ok]], [specs[k].marker_index for k in owner[ok]])
        keep = np.flatnonzero(ok)
        far = keep[meta[keep] % 100 >= LEADER_RING]
        leader_of = dict(zip(far.tolist(), self._fixed.leaders(centers[owner[far]], markers[owner[far]], boxes[far]))) if len(far) else {}
        rows = boxes[keep].tolist()  # plain floats, converted once
        owners, texts = owner[keep].tolist(), (meta[keep] // 100).tolist()
        for k, row, o, t in zip(keep.tolist(), rows, owners, texts):
            leader = geom = None
            if k in leader_of:
                leader, geom = leader_of[k]
                if leader is None:
                    continue
            out[o].append(_Candidate(tuple(row), specs[o].texts[t], leader, geom))
        return out

    # ------------------------------------------------------------ placed labels
    def _blockers(self, cand: _Candidate) -> set[int]:
        """Ids of placed labels whose box or leader touches the candidate's box or leader."""
        out = self._index.hits(cand.box)
        if cand.leader_geom is not None:
            for i in self._index.hits(_bounds(cand.leader)):
                if i not in out and shapely.intersects(cand.leader_geom, self._box_geom(i)):
                    out.add(i)
        hits = [i for i in self._leader_index.hits(cand.box) if i not in out]
        if hits:
            box_geom = shapely.box(*cand.box)
            out.update(i for i in hits if shapely.intersects(box_geom, self._placed[i][1].leader_geom))
        return out

    def _conflicts(self, cand: _Candidate) -> bool:
        """``bool(self._blockers(cand))``, stopping at the first blocker."""
        if self._index.touches(cand.box):
            return True
        if cand.leader_geom is not None:
            for i in self._index.hits(_bounds(cand.leader)):
                if shapely.intersects(cand.leader_geom, self._box_geom(i)):
                    return True
        hits = self._leader_index.hits(cand.box)
        if hits:
            box_geom = shapely.box(*cand.box)
            return any(shapely.intersects(box_geom, self._placed[i][1].leader_geom) for i in hits)
        return False

    def _box_geom(self, i: int):
        geom = self._box_geoms.get(i)
        if geom is None:
            geom = self._box_geoms[i] = shapely.box(*self._placed[i][1].box)
        return geom

    def _add(self, station: str, cand: _Candidate) -> int:
        i = self._next_id
        self._next_id += 1
        self._index.insert(i, cand.box)
        if cand.leader is not None:
            self._leader_index.insert(i, _bounds(cand.leader))
        self._placed[i] = (station, cand)
        return i

    def _remove(self, i: int) -> tuple[str, _Candidate]:
        station, cand = self._placed.pop(i)
        self._box_geoms.pop(i, None)
        self._index.delete(i)
        if cand.leader is not None:
            self._leader_index.delete(i)
        return station, cand

    def _repair(self, sid: str, options: dict[str, list[_Candidate]], at: dict[str, int]) -> bool:
        self._tests_left = REPAIR_TESTS
        return self._place_pushing(sid, options, at, REPAIR_DEPTH, {sid}, None)

    def _spend(self) -> bool:
        self._tests_left -= 1
        return self._tests_left >= 0

    def _place_pushing(self, sid: str, options: dict[str, list[_Candidate]], at: dict[str, int], depth: int,
                       moving: set[str], exclude: _Candidate | None) -> bool:
        """Place ``sid`` at a free candidate (not ``exclude``), or at one blocked by a single
        label that can itself be re-placed the same way: at most ``depth`` labels are
        pushed along a chain. Everything is undone when the chain fails."""
        mine_options = [c for c in options.get(sid, ()) if c is not exclude]
        for cand in mine_options:
            if not self._spend():
                return False
            if not self._conflicts(cand):
                at[sid] = self._add(sid, cand)
                return True
        if depth == 0:
            return False
        for cand in mine_options[:REPAIR_WIDTH]:
            if not self._spend():
                return False
            blockers = self._blockers(cand)
            if len(blockers) != 1:
                continue
            (b,) = blockers
            other_sid = self._placed[b][0]
            if other_sid in moving:
                continue
            _, other_cand = self._remove(b)
            del at[other_sid]
            at[sid] = self._add(sid, cand)
            if self._place_pushing(other_sid, options, at, depth - 1, moving | {other_sid}, other_cand):
                return True
            self._remove(at.pop(sid))  # the blocker found no other place: undo
            at[other_sid] = self._add(other_sid, other_cand)
        return False

    @staticmethod
    def _label(entry: tuple[str, _Candidate]) -> PlacedLabel:
        station, cand = entry
        return PlacedLabel(station, cand.text, cand.box, (cand.box[0], cand.box[1]), cand.leader)


@lru_cache(maxsize=4096)
def _directions(avoid: tuple[float, ...]) -> np.ndarray:
    """The 16 directions, furthest from the station's own lines first (then the fixed rank)."""
    return np.array(sorted(range(16), key=lambda k: (-round(_clearance_angle(_ANGLES[k], avoid), 2), _DIR_RANK[k])))


def _bounds(leader: tuple[float, float, float, float]) -> Box:
    x0, y0, x1, y1 = leader
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _clearance_angle(a: float, avoid: tuple[float, ...] | list[float]) -> float:
    """Smallest angle between a candidate direction and the station's own lines."""
    if not avoid:
        return math.pi
    return min(abs((a - b + math.pi) % (2 * math.pi) - math.pi) for b in avoid)
