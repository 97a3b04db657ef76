"""The label placer's fast paths give the answers of the exact tests they stand in for.

Oracles: a plain loop over boxes (for the grid index) and shapely's own predicates
(for the obstacle grid and the nearest-marker test), on random boxes that include
coordinates on the grid lines and boxes that only touch.
"""
from __future__ import annotations

import numpy as np
import shapely

from mapkit.render.boxindex import BoxIndex
from mapkit.render.obstacles import CertainHits, FixedObstacles


def _boxes(rng: np.random.Generator, n: int, lo: float, hi: float, snap: float | None = None) -> np.ndarray:
    x0, y0 = rng.uniform(lo, hi, n), rng.uniform(lo, hi, n)
    w, h = rng.uniform(0, 60, n), rng.uniform(0, 30, n)
    b = np.column_stack([x0, y0, x0 + w, y0 + h])
    if snap:
        b[: n // 2] = np.round(b[: n // 2] / snap) * snap  # edges on grid lines, many exact touches
    return b


def test_box_index_matches_a_plain_loop_through_inserts_and_deletes():
    rng = np.random.default_rng(0)
    for cell in (3.0, 10.0, 96.0):
        index = BoxIndex(cell)
        stored: dict[int, tuple] = {}
        for k, box in enumerate(_boxes(rng, 300, -50, 400, snap=cell).tolist()):
            index.insert(k, tuple(box))
            stored[k] = tuple(box)
        for k in list(stored)[::3]:
            index.delete(k)
            del stored[k]
        touching = 0
        for q in _boxes(rng, 400, -60, 420, snap=cell).tolist():
            want = {k for k, b in stored.items() if b[0] <= q[2] and q[0] <= b[2] and b[1] <= q[3] and q[1] <= b[3]}
            assert index.hits(tuple(q)) == want
            assert index.touches(tuple(q)) == bool(want)
            touching += any(b[2] == q[0] or b[0] == q[2] for b in (stored[k] for k in want))
        assert touching  # edge-only contacts were exercised, and count as hits (closed boxes)


def test_certain_hits_never_calls_a_free_box_blocked_and_catches_most_crossings():
    rng = np.random.default_rng(1)
    caught = exact_total = 0
    for cell in (1.0, 2.5, 4.2):
        segs = rng.uniform(-20, 420, (15, 2, 2))
        segs[:5, :, 1] = np.round(segs[:5, :1, 1] / cell) * cell  # horizontal, on a grid line
        markers = _boxes(rng, 12, 0, 400)
        strokes = CertainHits(400, 300, cell)
        strokes.add_segments(segs)
        strokes.build()
        marks = CertainHits(400, 300, cell)
        marks.add_boxes(markers)
        marks.build()
        query = _boxes(rng, 3000, -30, 420, snap=cell)
        geoms = shapely.box(*query.T)
        for hits, obstacles in ((strokes, shapely.linestrings(segs)), (marks, shapely.box(*markers.T))):
            exact = np.zeros(len(query), dtype=bool)
            exact[shapely.STRtree(obstacles).query(geoms, predicate="intersects")[0]] = True
            certain = hits.certain(query)
            assert not (certain & ~exact).any()
            caught += int(certain.sum())
            exact_total += int(exact.sum())
    assert caught > exact_total / 3  # it settles a good share, or it would not be worth having


def test_nearest_marker_test_equals_shapely_dwithin():
    rng = np.random.default_rng(2)
    for snap in (None, 1.0):
        centres = rng.uniform(0, 600, (40, 2))
        if snap:
            centres = np.round(centres)
        markers = [tuple(v) for v in np.column_stack([centres, centres + 12]).tolist()]
        fixed = FixedObstacles([], 5.0, markers, clearance=2.0, bounds=(0, 0, 600, 600), step=6.0)
        own = rng.integers(0, len(markers), 3000)
        m = np.array(markers)[own]
        boxes = _boxes(rng, 3000, -40, 40, snap=snap) + np.tile(m[:, :2], 2)  # labels near their own marker
        got = fixed.nearest_is_own(boxes, m, own.tolist())
        # oracle: the label's own distance as the placer defines it (edge to edge), then
        # shapely's distance test against every other marker
        gap = np.hypot(np.maximum(np.maximum(boxes[:, 0] - m[:, 2], 0), m[:, 0] - boxes[:, 2]),
                       np.maximum(np.maximum(boxes[:, 1] - m[:, 3], 0), m[:, 1] - boxes[:, 3]))
        others = shapely.box(*np.array(markers).T)
        want = np.ones(len(boxes), dtype=bool)
        for k, box in enumerate(shapely.box(*boxes.T)):
            near = shapely.dwithin(box, others, gap[k] + 4 * 2.0)
            near[own[k]] = False
            want[k] = not near.any()
        assert (got == want).all()
        assert (~want).sum() > 100 and want.sum() > 100  # both outcomes were exercised
