"""A quick, never wrong answer to "does this box certainly touch a line or a marker?".

Label candidates are tested against the map's fixed obstacles by exact geometry
(shapely); most candidates on a busy map are blocked, and a line running through the
middle of a box is visible without geometry. ``CertainHits`` keeps a coarse grid of
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
