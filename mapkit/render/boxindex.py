"""A uniform grid of axis-aligned boxes: which stored boxes touch a query box.

The label placer asks this tens of thousands of times per map with a few hundred
boxes stored; a dictionary of grid cells in plain Python answers in a few
microseconds, where an R-tree's ctypes round trip costs several times that.
Boxes are closed: two that only share an edge or a corner touch (as in an R-tree),
so the answers are exactly those of ``rtree.index.Index.intersection``.

>>> index = BoxIndex(cell=10.0)
>>> index.insert(1, (0.0, 0.0, 5.0, 5.0)); index.insert(2, (20.0, 0.0, 30.0, 8.0))
>>> sorted(index.hits((5.0, 5.0, 25.0, 6.0)))  # box 1 touched at its corner, box 2 overlapped
[1, 2]
>>> index.delete(1); index.touches((0.0, 0.0, 6.0, 6.0))
False
"""
from __future__ import annotations

import math

Box = tuple[float, float, float, float]


class BoxIndex:
    def __init__(self, cell: float):
        if not cell > 0:
            raise ValueError(f"grid cell size must be positive, got {cell!r}")
        self._cell = float(cell)
        self._cells: dict[tuple[int, int], set[int]] = {}
        self._boxes: dict[int, Box] = {}

    def _keys(self, box: Box) -> list[tuple[int, int]]:
        # floor(v / cell) is monotonic in v, so boxes that touch always share a cell
        c = self._cell
        gx0, gx1 = math.floor(box[0] / c), math.floor(box[2] / c)
        gy0, gy1 = math.floor(box[1] / c), math.floor(box[3] / c)
        return [(gx, gy) for gx in range(gx0, gx1 + 1) for gy in range(gy0, gy1 + 1)]

    def insert(self, i: int, box: Box) -> None:
        self._boxes[i] = box
        for key in self._keys(box):
            self._cells.setdefault(key, set()).add(i)

    def delete(self, i: int) -> None:
        for key in self._keys(self._boxes.pop(i)):
            cell = self._cells[key]
            cell.discard(i)
            if not cell:
                del self._cells[key]

    def hits(self, box: Box) -> set[int]:
        """Ids of the stored boxes that overlap or touch ``box``."""
        x0, y0, x1, y1 = box
        c = self._cell
        out: set[int] = set()
        boxes, cells = self._boxes, self._cells
        ys = range(math.floor(y0 / c), math.floor(y1 / c) + 1)
        for gx in range(math.floor(x0 / c), math.floor(x1 / c) + 1):
            for gy in ys:
                for i in cells.get((gx, gy), ()):
                    if i not in out:
                        b = boxes[i]
                        if b[0] <= x1 and x0 <= b[2] and b[1] <= y1 and y0 <= b[3]:
                            out.add(i)
        return out

    def touches(self, box: Box) -> bool:
        """True when some stored box overlaps or touches ``box`` (``bool(hits(box))``, sooner)."""
        x0, y0, x1, y1 = box
        c = self._cell
        boxes, cells = self._boxes, self._cells
        ys = range(math.floor(y0 / c), math.floor(y1 / c) + 1)
        for gx in range(math.floor(x0 / c), math.floor(x1 / c) + 1):
            for gy in ys:
                for i in cells.get((gx, gy), ()):
                    b = boxes[i]
                    if b[0] <= x1 and x0 <= b[2] and b[1] <= y1 and y0 <= b[3]:
                        return True
        return False
