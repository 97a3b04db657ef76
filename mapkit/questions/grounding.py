"""Grounding questions: perception answered in pixels of the map image.

Three record types (templates in ``templates/grounding.json``):

* ``Grounding1``, locate a station: its marker box ``[x1, y1, x2, y2]`` on a rendered map,
  or its point ``(x, y)`` on a supplied image whose annotation gives ``xy``;
* ``Grounding2``, read a label: the name of the station marked at a point (its marker's
  centre) or inside a box (its marker box);
* ``Grounding3``, identify a line: which line is drawn through a point of its path that
  lies away from every other line, marker and label (rendered maps only: a supplied
  image has no drawn paths to sample).

What is drawn where comes from a :class:`Scene`: the renderer's geometry JSON
(``scene_from_geometry``) or the annotation's ``xy`` on its own image
(``scene_from_xy``, where a station's "marker" is a disc of half the distance to its
nearest neighbour, at most 1% of the image's longer side). Only stations whose label is
drawn (not in the geometry's ``unplaced_labels``) and whose display name is unique are
asked about, and no line whose colour the renderer could not make distinct
(``indistinct_lines``) is an answer; the build's answerability gate checks them again.
Coordinates are pixels of that image (``frame`` in the record; see ``mapkit.frames`` for
the model's resized frame).

Difficulty is clutter around the target (``mapkit.difficulty.QUESTION_THRESHOLDS``):
other stations (markers or labels) within ``CLUTTER_RADIUS`` of the map's longer side
for Grounding1/2, other lines within that radius for Grounding3.
"""
from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mapkit.annotation import Annotation
from mapkit.difficulty import LABELS, question_difficulty
from mapkit.frames import GROUNDING_TYPES, fmt_box, fmt_point
from mapkit.questions.city import City
from mapkit.questions.records import _even_picks, record_head
from mapkit.questions.templates import Template, TemplateSet

CLUTTER_RADIUS = 0.05  # of the image's longer side: what counts as "around" the target
XY_RADIUS_CAP = 0.01  # supplied images: a station's disc is at most this share of the longer side
LINE_CLEARANCE = 0.0075  # Grounding3: the point is this far (share of the width) from other lines
OBJECT_CLEARANCE = 0.005  # ... and this far from every marker and label
LINE_SAMPLES = (0.25, 0.5, 0.75)  # where along each drawn segment a point is tried
DEFAULT_COUNT = 30


@dataclass
class Scene:
    """What is drawn on one map image, in its pixels."""

    size: tuple[int, int]  # (W, H) of the image
    source: str  # rendered | xy
    centers: dict[str, tuple[float, float]]  # station id -> marker centre
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # rendered markers
    radii: dict[str, float] = field(default_factory=dict)  # xy stations: disc radius
    labels: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # drawn label boxes
    unlabelled: frozenset[str] = frozenset()  # stations whose name is not drawn
    lines: dict[str, list[list[tuple[float, float]]]] = field(default_factory=dict)  # line id -> drawn paths
    indistinct: frozenset[str] = frozenset()  # lines drawn in a colour too close to another's: never the answer
    area: tuple[float, float, float, float] | None = None  # where the network is drawn

    @property
    def coords(self) -> tuple[str, ...]:
        """How a station's place can be shown: a marker box and a point, or a point only."""
        return ("box", "point") if self.source == "rendered" else ("point",)

    def contains(self, sid: str, x: float, y: float) -> bool:
        """Is (x, y) on station ``sid``'s marker?"""
        if sid in self.boxes:
            x1, y1, x2, y2 = self.boxes[sid]
            return x1 <= x <= x2 and y1 <= y <= y2
        cx, cy = self.centers[sid]
        return math.hypot(x - cx, y - cy) <= self.radii.get(sid, 0.0)


def scene_from_geometry(geometry: Mapping[str, Any]) -> Scene:
    """The scene of a rendered map from its geometry JSON (``Rendered.geometry``)."""
    stations = geometry["stations"]
    return Scene(
        size=(int(geometry["width"]), int(geometry["height"])), source="rendered",
        centers={sid: tuple(s["center"]) for sid, s in stations.items()},
        boxes={sid: tuple(s["box"]) for sid, s in stations.items()},
        labels={sid: tuple(b) for sid, b in geometry.get("labels", {}).items()},
        unlabelled=frozenset(geometry.get("unplaced_labels", ())) | (frozenset(stations) - frozenset(geometry.get("labels", {}))),
        lines={lid: [[tuple(p) for p in path] for path in paths] for lid, paths in geometry.get("lines", {}).items()},
        area=tuple(geometry["map_area"]) if geometry.get("map_area") else None,
        indistinct=frozenset(geometry.get("indistinct_lines", ())),
    )


def scene_from_xy(annotation: Annotation, size: tuple[int, int]) -> Scene | None:
    """The scene of a supplied map image from the annotation's ``xy`` (scaled when the
    image is not the size the annotation was traced on); None when no station has xy."""
    sx = sy = 1.0
    if annotation.image is not None:
        sx, sy = size[0] / annotation.image.width, size[1] / annotation.image.height
    centers = {sid: (s.xy[0] * sx, s.xy[1] * sy) for sid, s in sorted(annotation.stations.items()) if s.xy is not None}
    if not centers:
        return None
    cap = XY_RADIUS_CAP * max(size)
    radii = {}
    points = list(centers.items())
    for sid, (x, y) in points:
        nearest = min((math.hypot(x - u, y - v) for other, (u, v) in points if other != sid), default=2 * cap)
        radii[sid] = min(cap, nearest / 2)  # a point within the disc is nearer this station than any other
    return Scene(size=size, source="xy", centers=centers, radii=radii)


# ------------------------------------------------------------------ candidates

@dataclass
class Target:
    type: str
    coords: str  # box | point: what the question shows or asks for
    args: dict[str, Any]
    result: Any
    measure: int
    key: str  # station or line id, for spreading questions over the map


def _clutter_stations(scene: Scene, sid: str) -> int:
    cx, cy = scene.centers[sid]
    r = CLUTTER_RADIUS * max(scene.size)
    near = 0
    for other, (x, y) in scene.centers.items():
        if other == sid:
            continue
        d = math.hypot(x - cx, y - cy)
        if other in scene.labels:
            d = min(d, _box_distance(scene.labels[other], cx, cy))
        near += d <= r
    return near


def _box_distance(box: tuple[float, float, float, float], x: float, y: float) -> float:
    x1, y1, x2, y2 = box
    return math.hypot(max(x1 - x, 0.0, x - x2), max(y1 - y, 0.0, y - y2))


def _askable(city: City, scene: Scene) -> list[str]:
    """Stations with a unique display name whose marker and label are drawn."""
    return [sid for sid in city.stations if sid in scene.centers and sid not in scene.unlabelled
            and (sid in scene.boxes or scene.radii.get(sid, 0.0) > 0)]


def _locate(city: City, scene: Scene) -> list[Target]:
    out = []
    for sid in _askable(city, scene):
        if scene.source == "rendered":
            box = [round(v, 1) for v in scene.boxes[sid]]
            out.append(Target("Grounding1", "box", {"station": sid}, {"box": box}, _clutter_stations(scene, sid), sid))
        else:
            x, y = scene.centers[sid]
            result = {"point": [round(x, 1), round(y, 1)], "radius": round(scene.radii[sid], 1)}
            out.append(Target("Grounding1", "point", {"station": sid}, result, _clutter_stations(scene, sid), sid))
    return out


def _read(city: City, scene: Scene, rng: random.Random) -> list[Target]:
    out = []
    for sid in _askable(city, scene):
        coords = rng.choice(scene.coords)
        if coords == "point":  # whole pixels, as shown; it must fall on this marker and no other
            x, y = (round(v) for v in scene.centers[sid])
            if [s for s in scene.centers if scene.contains(s, x, y)] != [sid]:
                continue
            args = {"point": [x, y]}
        else:
            box = [round(v) for v in scene.boxes[sid]]
            inside = [s for s, (x, y) in scene.centers.items() if box[0] <= x <= box[2] and box[1] <= y <= box[3]]
            if inside != [sid]:
                continue
            args = {"box": box}
        out.append(Target("Grounding2", coords, args, sid, _clutter_stations(scene, sid), sid))
    return out


def _identify(city: City, scene: Scene) -> list[Target]:
    if scene.source != "rendered" or not scene.lines:
        return []
    import shapely

    w = max(scene.size)
    drawn = {lid: shapely.MultiLineString([p for p in paths if len(p) >= 2]) for lid, paths in scene.lines.items()
             if any(len(p) >= 2 for p in paths)}
    obstacles = shapely.union_all([shapely.box(*b) for b in [*scene.boxes.values(), *scene.labels.values()]])
    line_gap, object_gap, radius = LINE_CLEARANCE * scene.size[0], OBJECT_CLEARANCE * scene.size[0], CLUTTER_RADIUS * w
    out = []
    for lid in city.lines:
        if lid not in drawn or lid in scene.indistinct:
            continue
        others = [g for other, g in drawn.items() if other != lid]
        near_all = shapely.union_all(others) if others else None
        seen: set[tuple[int, int]] = set()
        for path in scene.lines[lid]:
            for (x1, y1), (x2, y2) in zip(path, path[1:]):
                for t in LINE_SAMPLES:
                    p = (round(x1 + t * (x2 - x1)), round(y1 + t * (y2 - y1)))
                    if p in seen:
                        continue
                    seen.add(p)
                    point = shapely.Point(p)
                    if drawn[lid].distance(point) > 1.0:  # rounding moved it off the drawn centre line
                        continue
                    if scene.area and not (scene.area[0] <= p[0] <= scene.area[2] and scene.area[1] <= p[1] <= scene.area[3]):
                        continue
                    if obstacles.distance(point) < object_gap:
                        continue
                    if near_all is not None and near_all.distance(point) < line_gap:
                        continue
                    crowd = sum(g.distance(point) <= radius for g in others)
                    out.append(Target("Grounding3", "point", {"point": list(p)}, lid, crowd, lid))
    return out


# ------------------------------------------------------------------ sampling and records

def _choose(targets: list[Target], n: int, rng: random.Random) -> list[Target]:
    """n targets spread over difficulty (round robin), then over stations / lines, so
    that one line or one busy corner does not fill the type."""
    by_label: dict[str, list[Target]] = defaultdict(list)
    order = list(targets)
    rng.shuffle(order)
    used: dict[str, int] = defaultdict(int)
    for t in order:
        by_label[question_difficulty(t.type, t.measure)].append(t)
    chosen: list[Target] = []
    taken: set[str] = set()
    while len(chosen) < n:
        progressed = False
        for label in LABELS:
            pool = [t for t in by_label[label] if id(t) not in taken]
            if not pool or len(chosen) >= n:
                continue
            best = min(pool, key=lambda t: used[t.key])  # first of the least used keys
            chosen.append(best)
            taken.add(id(best))
            used[best.key] += 1
            progressed = True
        if not progressed:
            break
    return chosen


def generate_grounding(city: City, scene: Scene | None, *, templates: TemplateSet, counts: Mapping[str, int],
                       seed: int, ctx: Mapping[str, str], report=None) -> list[dict[str, Any]]:
    """Grounding records of one map (``counts``: type -> how many). ``scene`` None: the
    map shows no known positions (a supplied image without ``xy``, a text-only build)."""
    records: list[dict[str, Any]] = []
    for record_type in GROUNDING_TYPES:
        n = counts.get(record_type, 0)
        if n <= 0:
            continue
        if report is not None:
            report.wanted[record_type] = n
        if scene is None:
            if report is not None:
                report.dropped[record_type, "the map image has no station positions (annotation xy)"] += n
            continue
        rng = random.Random(f"{seed}:{city.tm.annotation.city}:{record_type}")
        if record_type == "Grounding1":
            targets = _locate(city, scene)
        elif record_type == "Grounding2":
            targets = _read(city, scene, rng)
        else:
            targets = _identify(city, scene)
        chosen = _choose(targets, n, rng)
        if report is not None:
            report.made[record_type] += len(chosen)
            if not targets:
                report.dropped[record_type, "nothing on this map to ask about"] += n
        type_templates = templates.for_type(record_type)
        by_coords: dict[str, list[Target]] = defaultdict(list)
        for t in chosen:
            by_coords[t.coords].append(t)
        for coords in sorted(by_coords):
            fitting = tuple(tp for tp in type_templates if tp.coords == coords)
            if not fitting:
                _raise_missing(templates, record_type, coords)
            group = by_coords[coords]
            for target, (template, paraphrase) in zip(group, _even_picks(fitting, len(group), rng)):
                records.append(_record(city, scene, target, template, paraphrase, ctx))
    return records


def _raise_missing(templates: TemplateSet, record_type: str, coords: str) -> None:
    from mapkit.errors import TemplateError

    raise TemplateError(f"{templates.directory}: no {record_type} template with coords {coords!r}; add one to templates/grounding.json")


def _record(city: City, scene: Scene, target: Target, template: Template, paraphrase: int,
            ctx: Mapping[str, str]) -> dict[str, Any]:
    tm = city.tm
    a = tm.annotation
    values: dict[str, str] = {}
    for slot, kind in template.slots.items():
        if kind == "station":
            values[slot] = tm.name(target.args["station"])
        elif kind == "point":
            values[slot] = fmt_point(target.args["point"])
        elif kind == "box":
            values[slot] = fmt_box(target.args["box"])
        elif kind == "map":
            values[slot] = city.map_text
    station = line = None
    if target.type == "Grounding1":
        station = target.args["station"]
        answer_text = fmt_box(target.result["box"]) if target.coords == "box" else fmt_point(target.result["point"])
    elif target.type == "Grounding2":
        station = target.result
        answer_text = tm.name(station)
    else:
        line = target.result
        answer_text = a.line(line).name
    params = {**target.args, **({"station": station} if station and "station" not in target.args else {})}
    program = {"op": template.op, "args": dict(sorted(target.args.items())), "result": target.result,
               "paraphrase": paraphrase, "clutter": target.measure}
    return {
        **record_head(a, ctx, target.type, template.id, params),
        "question": template.render(paraphrase, values),
        "options": None,
        "answer": -1,
        "answer_text": answer_text,
        "station_1": tm.name(station) if station else None,
        "station_2": None,
        "line": a.line(line).name if line else None,
        "difficulty_city": city.difficulty,
        "difficulty_question": question_difficulty(target.type, target.measure),
        "city_line_count": city.line_count,
        "city_transfer_count": city.transfer_count,
        "question_transfer_count": 0,
        "reference_routes": None,
        "program": json.dumps(program, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
        "frame": {"width": scene.size[0], "height": scene.size[1]},
    }
