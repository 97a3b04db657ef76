"""Visual difficulty: how cluttered a map looks, overall and where a question points.

Graph-based labels (``difficulty_city``, ``difficulty_question``) say how hard a question
is to *reason* about; this module measures how hard the picture is to *read*. Three
measures, each divided by a reference value and capped at 1, averaged into one figure in
[0, 1] stored per record as ``difficulty_visual``:

- **local edges**: share of Canny edge pixels in square windows (side
  ``WINDOW`` x the image's longer side) centred on the stations the question names (the
  whole image for questions that name none, and for images without station positions);
- **label density**: share of the map area covered by station labels: the label boxes of
  the geometry JSON for rendered maps; for a real image without geometry, the boxes of
  small dark connected components (glyph strokes), an estimate;
- **line crossings**: points where the drawn paths of two different lines cross away from
  a station: the geometry JSON's paths, or polylines through the annotation's ``xy``;
  unknown (left out of the average) when neither exists.

References and the easy/middle/hard cut-offs live in ``mapkit.difficulty``
(``VISUAL_REFERENCES``, ``VISUAL_THRESHOLDS``) and the README's table.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import cv2
import numpy as np

from mapkit.annotation import Annotation
from mapkit.difficulty import VISUAL_REFERENCES

WINDOW = 0.08  # window side as a share of the image's longer side


@dataclass
class MapClutter:
    """Measures of one map image and what is needed to measure its questions."""

    local: dict[str, float]  # station id -> share of edge pixels in the window around it
    edge_density: float
    label_density: float
    crossings: int | None
    label_source: str  # geometry | image estimate

    def local_edges(self, station_ids: Iterable[str]) -> float:
        shares = [self.local[s] for s in station_ids if s in self.local]
        return float(np.mean(shares)) if shares else self.edge_density

    def score(self, station_ids: Iterable[str]) -> float:
        """The item's ``difficulty_visual``: mean of the capped, referenced measures."""
        parts = [min(1.0, self.local_edges(station_ids) / VISUAL_REFERENCES["local_edges"]),
                 min(1.0, self.label_density / VISUAL_REFERENCES["label_density"])]
        if self.crossings is not None:
            parts.append(min(1.0, self.crossings / VISUAL_REFERENCES["crossings"]))
        return round(float(np.mean(parts)), 3)

    def summary(self) -> dict[str, Any]:
        return {"edge_density": round(self.edge_density, 4), "label_density": round(self.label_density, 4),
                "label_source": self.label_source, "crossings": self.crossings}


def measure_map(png: str | Path, annotation: Annotation | None = None, geometry: Mapping[str, Any] | None = None,
                gray: np.ndarray | None = None) -> MapClutter:
    """Measure one map image; ``geometry`` defaults to ``<stem>.geometry.json`` beside it,
    ``gray`` (the image as 8-bit grey) to the decoded file."""
    png = Path(png)
    if geometry is None:
        geo_path = png.with_name(png.stem + ".geometry.json")
        geometry = json.loads(geo_path.read_text("utf-8")) if geo_path.is_file() else None
    if gray is None:
        gray = cv2.imdecode(np.fromfile(str(png), dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        from mapkit.errors import RenderError

        raise RenderError(f"{png}: not an image OpenCV can read; re-render or re-convert the map")
    h, w = gray.shape
    edges = cv2.Canny(gray, 60, 180)
    integral = cv2.integral((edges > 0).astype(np.uint8))
    edge_density = float(integral[h, w]) / (w * h)
    if geometry is not None:
        centres = {sid: tuple(st["center"]) for sid, st in geometry["stations"].items()}
        area = _map_area(geometry, w, h)
        covered = sum(max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) for b in geometry["labels"].values())
        label_density, source = covered / area, "geometry"
        crossings = _crossings({lid: paths for lid, paths in geometry["lines"].items()}, centres.values(), w)
    else:
        centres = {sid: st.xy for sid, st in (annotation.stations.items() if annotation else []) if st.xy is not None}
        label_density, source = _glyph_share(gray), "image estimate"
        crossings = None
        if annotation is not None and centres:
            paths = {line.id: [[centres[s] for s in seg if s in centres] for seg in line.segments] for line in annotation.lines}
            crossings = _crossings(paths, centres.values(), w)
    half = max(8, round(WINDOW * max(w, h) / 2))
    local = {}
    for sid, (x, y) in centres.items():  # window sums from the summed-area table
        x0, x1 = min(w, max(0, round(x) - half)), min(w, max(0, round(x) + half))
        y0, y1 = min(h, max(0, round(y) - half)), min(h, max(0, round(y) + half))
        total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
        local[sid] = float(total) / max(1, (x1 - x0) * (y1 - y0))
    return MapClutter(local, edge_density, label_density, crossings, source)


def _map_area(geometry: Mapping[str, Any], w: int, h: int) -> float:
    box = geometry.get("map_area")
    if isinstance(box, list) and len(box) == 4:
        return max(1.0, (box[2] - box[0]) * (box[3] - box[1]))
    return float(w * h)


def _crossings(paths: Mapping[str, list[list[Any]]], centres: Iterable[tuple[float, float]], width: int) -> int:
    """Crossings of different lines' paths farther than a marker's size from any station."""
    from shapely import STRtree, points
    from shapely.geometry import LineString, MultiLineString

    geoms = {}
    for lid, parts in paths.items():
        pieces = [[tuple(p) for p in part] for part in parts if len(part) >= 2]
        if pieces:
            geoms[lid] = MultiLineString(pieces) if len(pieces) > 1 else LineString(pieces[0])
    station_tree = STRtree(points(np.array(list(centres), dtype=float).reshape(-1, 2)))
    near = 0.006 * width  # about a marker's radius
    ids = sorted(geoms)
    count = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            hit = geoms[a].intersection(geoms[b])
            if hit.is_empty:
                continue
            for part in getattr(hit, "geoms", [hit]):
                if part.geom_type != "Point":
                    continue  # shared stretches (lines side by side) are not crossings
                if len(station_tree.query(part, predicate="dwithin", distance=near)) == 0:
                    count += 1
    return count


def _glyph_share(gray: np.ndarray) -> float:
    """Share of the image inside boxes of small dark blobs: letters, roughly."""
    h, w = gray.shape
    dark = (gray < 100).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    tall = max(3, int(0.02 * max(h, w)))
    boxes = stats[1:]
    glyphs = boxes[(boxes[:, cv2.CC_STAT_HEIGHT] <= tall) & (boxes[:, cv2.CC_STAT_WIDTH] <= tall) & (boxes[:, cv2.CC_STAT_AREA] >= 4)]
    return float((glyphs[:, cv2.CC_STAT_WIDTH] * glyphs[:, cv2.CC_STAT_HEIGHT]).sum()) / (w * h)


def asked_stations(record: Mapping[str, Any]) -> list[str]:
    """Station ids a record's question names, from its ``program``."""
    program = json.loads(record["program"])
    args = program.get("args", {}) if isinstance(program, dict) else {}
    return [args[k] for k in ("station", "station_1", "station_2") if isinstance(args.get(k), str)]


def score_records(records: list[dict[str, Any]], clutter: MapClutter) -> dict[str, Any]:
    """Fill ``difficulty_visual`` of one map's records that show it; returns the map's measures."""
    for r in records:
        r["difficulty_visual"] = clutter.score(asked_stations(r)) if r.get("figure") else None
    return clutter.summary()
