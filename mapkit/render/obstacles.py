"""Label boxes against the map's fixed obstacles: line strokes and station markers.

``FixedObstacles`` answers, for arrays of candidate boxes, which come too close to a
stroke or a marker, which sit nearer another station's marker than their own, and
where a leader line from the marker can run. Exact answers come from shapely; the
fast paths below only skip work whose answer is already certain.

``CertainHits``: a quick, never wrong answer to "does this box certainly touch a line
or a marker?".

Most candidates on a busy map are blocked, and a line running through the middle of a
box is visible without geometry. ``CertainHits`` keeps a coarse grid of
cells that certainly hold a point of an obstacle (points sampled along each stroke,
cells lying inside a marker box) and its summed-area table; a box that fully contains
such a cell certainly intersects that obstacle, so only the boxes it cannot decide go
to the exact test. It never calls a free box blocked: a sampled point is off its
segment by rounding only (~1e-12 px), and a box counts only cells at least
``MARGIN`` inside it.

>>> import numpy as np
>>> hits = CertainHits(width=100, height=100, cell=4.0)
>>> hits.add_segments(np.array([[[10.0, 50.0], [90.0, 50.0]]]))
>>> hits.add_boxes(np.array([[60.0, 8.0, 70.0, 18.0]]))
>>> hits.build()
>>> hits.certain(np.array([[20.0, 40.0, 40.0, 60.0], [20.0, 0.0, 40.0, 30.0], [56.0, 4.0, 74.0, 22.0]])).tolist()
[True, False, True]
"""
from __future__ import annotations

import math

import numpy as np
import shapely

MARGIN = 1e-6  # px: a cell must lie this far inside a box to count (far above rounding)


class CertainHits:
    def __init__(self, width: float, height: float, cell: float):
        self._cell = float(cell)
        self._nx = max(1, int(math.ceil(width / cell)) + 1)
        self._ny = max(1, int(math.ceil(height / cell)) + 1)
        self._grid = np.zeros((self._ny, self._nx), dtype=bool)
        self._sat: np.ndarray | None = None

    def add_segments(self, segs: np.ndarray) -> None:
        """Mark the cells of points sampled along each segment ((k, 2, 2) array)."""
        if not len(segs):
            return
        p, q = segs[:, 0], segs[:, 1]
        length = np.hypot(*(q - p).T)
        count = np.maximum(2, np.ceil(length / (0.5 * self._cell)).astype(int) + 1)
        owner = np.repeat(np.arange(len(segs)), count)
        start = np.cumsum(count) - count
        t = (np.arange(len(owner)) - start[owner]) / (count[owner] - 1)
        pts = p[owner] + t[:, None] * (q - p)[owner]
        self._mark(pts[:, 0], pts[:, 1])

    def add_boxes(self, boxes: np.ndarray) -> None:
        """Mark the cells lying wholly inside each box ((k, 4) array x0, y0, x1, y1)."""
        c = self._cell
        for x0, y0, x1, y1 in np.asarray(boxes, dtype=float).reshape(-1, 4):
            gx0, gx1 = int(math.ceil(x0 / c)), int(math.floor(x1 / c)) - 1
            gy0, gy1 = int(math.ceil(y0 / c)), int(math.floor(y1 / c)) - 1
            gx0, gy0 = max(gx0, 0), max(gy0, 0)
            gx1, gy1 = min(gx1, self._nx - 1), min(gy1, self._ny - 1)
            if gx0 <= gx1 and gy0 <= gy1:
                self._grid[gy0:gy1 + 1, gx0:gx1 + 1] = True

    def _mark(self, x: np.ndarray, y: np.ndarray) -> None:
        gx, gy = np.floor(x / self._cell).astype(int), np.floor(y / self._cell).astype(int)
        inside = (gx >= 0) & (gx < self._nx) & (gy >= 0) & (gy < self._ny)
        self._grid[gy[inside], gx[inside]] = True

    def build(self) -> None:
        sat = np.zeros((self._ny + 1, self._nx + 1), dtype=np.int32)
        sat[1:, 1:] = self._grid.cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32)
        self._sat = sat

    def certain(self, boxes: np.ndarray) -> np.ndarray:
        """True where a box ((k, 4) array) fully contains a marked cell: it certainly
        intersects an obstacle. False means undecided, not free."""
        assert self._sat is not None, "build() first"
        c = self._cell
        b = np.asarray(boxes, dtype=float).reshape(-1, 4)
        # cells [g c, (g + 1) c] inside [x0 + MARGIN, x1 - MARGIN]
        gx0 = np.clip(np.ceil((b[:, 0] + MARGIN) / c), 0, self._nx).astype(int)
        gy0 = np.clip(np.ceil((b[:, 1] + MARGIN) / c), 0, self._ny).astype(int)
        gx1 = np.clip(np.floor((b[:, 2] - MARGIN) / c), 0, self._nx).astype(int)  # exclusive
        gy1 = np.clip(np.floor((b[:, 3] - MARGIN) / c), 0, self._ny).astype(int)
        gx1, gy1 = np.maximum(gx1, gx0), np.maximum(gy1, gy0)
        s = self._sat
        return (s[gy1, gx1] - s[gy0, gx1] - s[gy1, gx0] + s[gy0, gx0]) > 0


class FixedObstacles:
    """The label placer's tests against what does not move: line strokes (2-point
    linestrings drawn ``stroke_half`` px either side) and station marker boxes, each
    kept ``clearance`` px away. Every test takes an array of boxes and answers per box."""

    def __init__(self, strokes: list, stroke_half: float, boxes: list, clearance: float, bounds: tuple, step: float):
        self._strokes = shapely.STRtree(strokes) if len(strokes) else None
        self._markers = shapely.STRtree([shapely.box(*b) for b in boxes]) if boxes else None
        self._marker_boxes = np.array(boxes, dtype=float).reshape(-1, 4)
        self._stroke_reach = stroke_half + clearance
        self._clearance = clearance
        # a coarse grid that settles most blocked candidates before the exact test
        cell = max(1.0, 0.7 * step)
        self._certain: list[tuple[CertainHits, float]] = []
        if len(strokes):
            hits = CertainHits(bounds[2], bounds[3], cell)
            hits.add_segments(shapely.get_coordinates(list(strokes)).reshape(-1, 2, 2))
            hits.build()
            self._certain.append((hits, self._stroke_reach))
        if len(boxes):
            hits = CertainHits(bounds[2], bounds[3], cell)
            hits.add_boxes(self._marker_boxes)
            hits.build()
            self._certain.append((hits, clearance))

    @property
    def has_markers(self) -> bool:
        return self._markers is not None

    def nearest_is_own(self, boxes: np.ndarray, m: np.ndarray, mine: list[int]) -> np.ndarray:
        """True where no other station's marker is nearer the box than the station's own
        (``m``: each box's own marker, ``mine``: its index in the marker tree): a reader
        takes a label for the station it is closest to."""
        dx = np.maximum(np.maximum(boxes[:, 0] - m[:, 2], 0), m[:, 0] - boxes[:, 2])
        dy = np.maximum(np.maximum(boxes[:, 1] - m[:, 3], 0), m[:, 1] - boxes[:, 3])
        own = np.hypot(dx, dy)  # box to own marker, edge to edge like the query below
        # with a margin: a label about as near another station as its own is ambiguous too
        reach = own + 4 * self._clearance
        # markers whose box comes within reach of a box's envelope (what a ``dwithin``
        # query looks at), then the rectangle distance; only a distance within rounding
        # of the reach is left to shapely's exact ``dwithin``
        grown = shapely.box(boxes[:, 0] - reach, boxes[:, 1] - reach, boxes[:, 2] + reach, boxes[:, 3] + reach)
        hits, markers = self._markers.query(grown)
        other = markers != np.asarray(mine, dtype=int)[hits]
        hits, markers = hits[other], markers[other]
        b, o = boxes[hits], self._marker_boxes[markers]
        gap = np.hypot(np.maximum(np.maximum(b[:, 0] - o[:, 2], o[:, 0] - b[:, 2]), 0),
                       np.maximum(np.maximum(b[:, 1] - o[:, 3], o[:, 1] - b[:, 3]), 0))
        tol = 1e-6 * (1.0 + reach[hits])
        near = gap <= reach[hits] - tol
        unsure = np.flatnonzero(~near & (gap <= reach[hits] + tol))
        if len(unsure):
            near[unsure] = shapely.dwithin(shapely.box(*b[unsure].T), shapely.box(*o[unsure].T), reach[hits][unsure])
        keep = np.ones(len(boxes), dtype=bool)
        keep[hits[near]] = False
        return keep

    def blocked(self, boxes: np.ndarray) -> np.ndarray:
        """True where a box comes within the clearance of a stroke or a marker.

        The box is grown by the clearance and tested with ``intersects``, which is
        cheaper than a distance test (a little stricter at the corners). Boxes that a
        stroke or marker certainly crosses (``CertainHits``) skip the exact test.
        """
        boxes = np.asarray(boxes)
        blocked = np.zeros(len(boxes), dtype=bool)
        for hits, reach in self._certain:
            blocked |= hits.certain(boxes + np.array([-reach, -reach, reach, reach]))
        rest = np.flatnonzero(~blocked)
        if not len(rest):
            return blocked
        boxes = boxes[rest]
        r = self._stroke_reach  # stroke half-width plus clearance: the wider of the two growths
        grown = shapely.box(boxes[:, 0] - r, boxes[:, 1] - r, boxes[:, 2] + r, boxes[:, 3] + r)
        if self._strokes is not None:
            hits, _ = self._strokes.query(grown, predicate="intersects")
            blocked[rest[hits]] = True
        if self._markers is not None:
            # two axis-parallel boxes intersect exactly when their closed extents overlap
            hits, k = self._markers.query(grown)  # envelopes: a superset
            b, m, c = boxes[hits], self._marker_boxes[k], self._clearance
            touch = (b[:, 0] - c <= m[:, 2]) & (m[:, 0] <= b[:, 2] + c) & (b[:, 1] - c <= m[:, 3]) & (m[:, 1] <= b[:, 3] + c)
            blocked[rest[hits[touch]]] = True
        return blocked

    def leaders(self, c: np.ndarray, m: np.ndarray, boxes: np.ndarray) -> list[tuple]:
        """For each box (``c``, ``m``: its station's centre and marker box), (leader, geometry)
        from the marker edge to the box's nearest point, or (None, None) when a stroke or
        marker is in the way."""
        if not len(boxes):
            return []
        b = np.asarray(boxes)
        cx, cy = c[:, 0], c[:, 1]
        hw = np.maximum(m[:, 2] - cx, cx - m[:, 0])
        hh = np.maximum(m[:, 3] - cy, cy - m[:, 1])
        bx = np.clip(cx, b[:, 0], b[:, 2])
        by = np.clip(cy, b[:, 1], b[:, 3])
        dx, dy = bx - cx, by - cy
        norm = np.maximum(np.hypot(dx, dy), 1e-9)
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = np.minimum(np.where(np.abs(dx) > 1e-9, hw / np.abs(dx / norm), np.inf),
                               np.where(np.abs(dy) > 1e-9, hh / np.abs(dy / norm), np.inf))
        # start beyond the marker (its own box must not count as being in the way)
        gap = 2.5 * self._clearance
        sx, sy = cx + dx / norm * (reach + gap), cy + dy / norm * (reach + gap)
        coords = np.stack([np.column_stack([sx, sy]), np.column_stack([bx, by])], axis=1)
        segs = shapely.linestrings(coords)
        bad = np.zeros(len(b), dtype=bool)
        for tree, dist in ((self._strokes, self._stroke_reach * 0.5), (self._markers, self._clearance * 0.5)):
            if tree is not None:
                hits, _ = tree.query(segs, predicate="dwithin", distance=dist)
                bad[hits] = True
        return [(None, None) if bad[k] else ((float(sx[k]), float(sy[k]), float(bx[k]), float(by[k])), segs[k])
                for k in range(len(b))]
