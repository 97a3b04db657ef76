"""Draw a schematic transit map from an annotation, and record where everything went.

Lines, markers and the legend are drawn with OpenCV's anti-aliased primitives at
sub-pixel precision (``shift``); text with Pillow and a white halo. Sizes are
proportional to the image width (a 4000 px image has 10 px lines and 24 px labels),
so a smaller render is the same picture scaled down.

Labels decide the layout's last details: after placing them, stations whose names found
no place (or only fitted in a smaller type) get more room in the layout and everything
is placed again, a few rounds; the round with fewest such names is kept. Names still
without a place are tried in a smaller type, and, smallest, even where another station
is as near (better an ambiguous name than none); what is left is reported in
``geometry["unplaced_labels"]``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import shapely
from PIL import Image, ImageDraw

from mapkit.annotation import Annotation
from mapkit.errors import RenderError
from mapkit.files import atomic_write
from mapkit.render.bundles import bundle_lines
from mapkit.render.colors import distinct_colors
from mapkit.render.fonts import FontSet, check_coverage
from mapkit.render.labels import LabelPlacer, LabelSpec, PlacedLabel, measure, wrap_two
from mapkit.render.layout import Layout, crossing_pairs, finish_layout, layout_base

MIN_WIDTH = 400
MAX_WIDTH = 20000
INK = (26, 26, 26)
OUTLINE = (34, 34, 34)
WHITE = (255, 255, 255)
MUTED = (150, 150, 150)


@dataclass
class Rendered:
    """A drawn map: the image and the pixel geometry of everything on it."""

    image: Image.Image
    geometry: dict[str, Any]
    layout: Layout | None = field(default=None, repr=False)

    @property
    def unplaced_labels(self) -> list[str]:
        return list(self.geometry["unplaced_labels"])

    def save(self, png_path: str | Path) -> tuple[Path, Path]:
        """Write the PNG and ``<stem>.geometry.json`` beside it, each atomically."""
        png_path = Path(png_path)
        if png_path.suffix.lower() != ".png":
            raise RenderError(f"{png_path}: the map is written as PNG; give a path ending in .png")
        folder = png_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        geo_path = png_path.with_name(png_path.stem + ".geometry.json")
        text = json.dumps(self.geometry, ensure_ascii=False, separators=(",", ":")) + "\n"
        _atomic_write(geo_path, text.encode("utf-8"))
        _atomic_write(png_path, None, image=self.image)
        return png_path, geo_path


def _atomic_write(path: Path, data: bytes | None, *, image: Image.Image | None = None) -> None:
    atomic_write(path, (lambda f: image.save(f, format="PNG", compress_level=6)) if image is not None else (data or b""))


@dataclass(frozen=True)
class _Style:
    s: float  # scale: width / 4000

    def px(self, v: float, minimum: float = 1.0) -> float:
        return max(minimum, v * self.s)

    @property
    def margin(self) -> float: return self.px(70, 12)
    @property
    def pad(self) -> float: return self.px(150, 20)  # room for labels of outer stations
    @property
    def line_width(self) -> float: return self.px(10, 2)
    @property
    def gap(self) -> float: return self.px(11.5, 2.3)  # between parallel line centres
    @property
    def dot_r(self) -> float: return self.px(6.5, 1.6)
    @property
    def ring(self) -> float: return self.px(3.2, 1)
    @property
    def inter_r(self) -> float: return self.px(9, 2.2)  # interchange half-thickness
    @property
    def outline(self) -> float: return self.px(3, 1)
    @property
    def label_size(self) -> float: return self.px(24, 9)
    @property
    def halo(self) -> float: return self.px(2.5, 1)
    @property
    def title_size(self) -> float: return self.px(72, 14)
    @property
    def legend_size(self) -> float: return self.px(30, 9)


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _cv(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, dtype=float) * 16).astype(np.int32)


def _thick(v: float) -> int:
    return max(1, int(round(v)))


@dataclass
class _Plan:
    """Everything about a map but its pixels: positions, line paths, markers, labels."""

    layout: Layout
    scale: float
    map_box: tuple[float, float, float, float]
    legend_top: float
    height: int
    points: dict  # (line id, station index) -> np.ndarray
    line_paths: dict[str, list[list[np.ndarray]]]
    markers: dict[int, tuple[tuple[float, float], tuple[float, float, float, float], Any]]
    served: dict[int, list[str]]
    placed: dict[str, PlacedLabel]
    unplaced: list[str]
    route_ends: tuple[str, str] | None
    label_size: int = 0


def render_map(annotation: Annotation, *, width: int = 4000, font: str | Path | None = None,
               highlight_route: tuple[str, str] | None = None, title: str | None = None,
               priority: Sequence[str] = ()) -> Rendered:
    """Draw ``annotation`` as a schematic map ``width`` pixels wide.

    Stations are placed from ``lonlat`` (projected, dense centres spread out) or from
    ``xy``; lines sharing stations run side by side; interchanges get a white marker
    with a dark outline spanning their lines; labels never overlap each other, lines or
    markers (those that find no free place are listed in ``geometry["unplaced_labels"]``).
    ``highlight_route=(a, b)`` (station ids or names) dims the map and draws the route
    with the fewest transfers on top. Stations in ``priority`` (e.g. those questions
    name) get their labels placed first. Lines whose official colours are too close to
    tell apart are drawn in distinct ones (``mapkit.render.colors``; the legend follows;
    ``geometry["line_colors"]``, ``["recolored_lines"]``, ``["indistinct_lines"]``).

    Example::

        >>> r = render_map(load("annotations/tokyo.json"), width=4000)   # doctest: +SKIP
        >>> r.save("out/tokyo.png")   # also writes out/tokyo.geometry.json  # doctest: +SKIP
    """
    if not isinstance(width, int) or isinstance(width, bool) or not MIN_WIDTH <= width <= MAX_WIDTH:
        raise RenderError(f"width must be a whole number of pixels from {MIN_WIDTH} to {MAX_WIDTH}, got {width!r}")
    base = layout_base(annotation)  # first: no coordinates is the more basic problem than no font
    fonts = FontSet.load(font)
    title_text = title if title is not None else annotation.name
    texts = {f"station {sid}": st.name for sid, st in annotation.stations.items()}
    texts.update({f"line {ln.id}": f"{ln.name} {ln.code or ln.id}" for ln in annotation.lines})
    texts["title"] = title_text
    check_coverage(fonts, texts, user_font=font is not None)
    route = _resolve_route(annotation, highlight_route) if highlight_route else None
    route_stations: set[str] = set()
    if route is not None:
        for sec in route.sections:
            route_stations.update([sec.departure, *sec.via_stops, sec.arrival])

    st = _Style(width / 4000.0)
    drawn_colors, indistinct = distinct_colors((ln.id, ln.color) for ln in annotation.lines)
    colors = {lid: _rgb(c) for lid, c in drawn_colors.items()}
    first = set(route_stations) | set(priority)
    fonts_used = {
        "label": fonts.get(st.label_size), "bold": fonts.get(st.label_size, bold=True),
        "set": fonts,
        "title": fonts.get(st.title_size, bold=True), "legend": fonts.get(st.legend_size),
        "badge": fonts.get(st.legend_size * 0.78, bold=True),
    }
    legend_items = _legend_items(annotation, fonts_used["legend"], fonts_used["badge"], st, colors)
    legend_grid = _legend_grid(legend_items, width - 2 * st.margin, st)

    # Lay out, place labels; where labels found no room, give those stations more room
    # in the layout and try again (a few rounds, deterministic).
    room: dict[int, float] = {}
    plan = None
    best = None
    for _ in range(ROOM_ROUNDS + 1):
        layout = finish_layout(base, room)
        plan = _plan(annotation, layout, st, width, fonts_used, legend_grid, route, route_stations, colors=colors, first=first)
        score = (len(plan.unplaced), len(_reduced(plan)))
        if best is None or score < best[0]:
            best = (score, plan)
        if score == (0, 0):
            break
        index = layout.index
        for sid in [*plan.unplaced, *_reduced(plan)]:
            room[index[sid]] = room.get(index[sid], 0.0) + ROOM_STEP
    assert best is not None
    plan = best[1]  # the round with fewest labels left out, then fewest in a smaller type
    image = _draw(annotation, plan, st, width, fonts_used, legend_items, legend_grid, route, route_stations, title_text, colors)
    geometry = _geometry(annotation, plan, width, fonts.name, route)
    geometry["line_colors"] = drawn_colors
    geometry["recolored_lines"] = sorted(ln.id for ln in annotation.lines if drawn_colors[ln.id] != ln.color.upper())
    geometry["indistinct_lines"] = sorted(indistinct)
    _, cols, col_w, row_h = legend_grid
    geometry["legend"] = [_r(v) for v in _legend_cells(legend_items, cols, col_w, row_h, st.margin, plan.legend_top, st)[1]]
    subtitle = _subtitle(annotation, plan, route)
    geometry["title"] = [_r(v) for v in (st.margin, st.margin, st.margin + max(fonts_used["title"].getlength(title_text),
                                                                              fonts_used["legend"].getlength(subtitle)),
                                          st.margin + st.title_size * 1.25 + st.legend_size * 1.3)]
    edges = np.array(plan.layout.edges, dtype=int).reshape(-1, 2)
    # crossings between lines that the geography does not have (0 unless the layout had to add some)
    geometry["added_crossings"] = len(crossing_pairs(plan.layout.pos, edges) - base.allowed)
    return Rendered(image, geometry, plan.layout)


ROOM_ROUNDS = 2  # extra layout rounds for stations whose labels found no place (at full size)
ROOM_STEP = 45.0  # reference px of personal space added to such a station per round
SMALL_LABELS = (0.8, 0.66)  # type sizes, relative to the other labels, for names placed as a last resort


def _reduced(plan: _Plan) -> list[str]:
    return [sid for sid in plan.layout.ids if sid in plan.placed and plan.placed[sid].text.font_size < plan.label_size]


def _plan(annotation: Annotation, layout: Layout, st: _Style, width: int, fonts_used: dict, legend_grid,
          route, route_stations: set[str], small_font: bool = True, colors: dict | None = None,
          first: set[str] | None = None) -> _Plan:
    inner_w = width - 2 * st.margin - 2 * st.pad
    scale = min(inner_w / layout.width, inner_w * 1.35 / layout.height)
    map_w, map_h = layout.width * scale, layout.height * scale
    title_h = st.title_size * 1.25 + st.legend_size * 1.6 + st.margin * 0.6
    map_top = st.margin + title_h
    map_box = (st.margin, map_top, width - st.margin, map_top + map_h + 2 * st.pad)
    pos = layout.pos * scale + np.array([st.margin + st.pad + (inner_w - map_w) / 2, map_top + st.pad])
    legend_rows, _, _, row_h = legend_grid
    legend_top = map_box[3] + st.margin * 0.5
    height = int(math.ceil(legend_top + legend_rows * row_h + st.legend_size * 1.8 + st.margin))

    bundles = bundle_lines(annotation, layout.ids, pos, st.gap)
    index = layout.index
    served: dict[int, list[str]] = {}
    for line in annotation.lines:
        for sid in line.station_ids:
            served.setdefault(index[sid], []).append(line.id)
    line_paths: dict[str, list[list[np.ndarray]]] = {}
    for line in annotation.lines:
        paths = []
        for k, segment in enumerate(line.segments):
            pts = [bundles.points[(line.id, index[s])] for s in segment]
            if line.loop and k == 0:
                pts = pts + [pts[0]]
            paths.append(pts)
        line_paths[line.id] = paths
    colors = colors or {ln.id: _rgb(ln.color) for ln in annotation.lines}
    first = route_stations if first is None else first
    markers = {}
    for i in range(len(layout.ids)):
        lines_here = served.get(i, [])
        pts = [bundles.points[(lid, i)] for lid in lines_here]
        markers[i] = _marker_shape(pts, colors[lines_here[0]] if len(lines_here) == 1 else None, st)
    route_ends = None
    if route is not None:
        route_ends = (route.sections[0].departure, route.sections[-1].arrival)
        for sid in route_ends:  # the ring drawn around origin and destination
            (cx, cy), box, shape = markers[index[sid]]
            r = max(box[2] - box[0], box[3] - box[1]) / 2 + st.px(8) + st.px(3)
            markers[index[sid]] = ((cx, cy), (cx - r, cy - r, cx + r, cy + r), shape)

    strokes = []
    for paths in line_paths.values():
        for p in paths:
            strokes.extend(shapely.linestrings(np.array(p[k:k + 2])) for k in range(len(p) - 1))
    placer = LabelPlacer(strokes, st.line_width / 2, [box for (_, box, _) in markers.values()], clearance=st.px(2),
                         bounds=map_box, step=st.px(6))
    neighbours: dict[int, list[int]] = {}
    for a, b in layout.edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    specs = []
    for i, sid in enumerate(layout.ids):
        name = annotation.stations[sid].name
        font_i = fonts_used["bold"] if sid in route_stations else fonts_used["label"]
        variants = [measure(name, font_i, st.halo)]
        wrapped = wrap_two(name)
        if wrapped:
            variants.append(measure(wrapped, font_i, st.halo))
        center, box, _ = markers[i]
        angles = tuple(math.atan2(pos[j][1] - pos[i][1], pos[j][0] - pos[i][0]) for j in neighbours.get(i, []))
        specs.append(LabelSpec(sid, center, box, tuple(variants), angles, first=sid in first, marker_index=i))
    placed, unplaced = placer.place_all(specs)
    # last resorts for names that found no place: a smaller type; then, smallest, also
    # beside a marker that is not the nearest one (better an ambiguous name than none)
    passes = [(f, True) for f in SMALL_LABELS] + [(SMALL_LABELS[-1], False)] if small_font else []
    for factor, strict in passes:
        if not unplaced:
            break
        placer.strict_nearest = strict
        left = set(unplaced)
        retry = []
        for spec in specs:
            if spec.station in left:
                name = annotation.stations[spec.station].name
                font_s = fonts_used["set"].get(st.label_size * factor, bold=spec.station in route_stations)
                texts = [measure(name, font_s, st.halo)]
                wrapped = wrap_two(name)
                if wrapped:
                    texts.append(measure(wrapped, font_s, st.halo))
                retry.append(LabelSpec(spec.station, spec.center, spec.marker, tuple(texts), spec.avoid_angles, spec.first,
                                       spec.marker_index))
        more, unplaced = placer.place_all(retry)
        placed.update(more)
    unplaced.sort(key=lambda s: index[s])
    return _Plan(layout, scale, map_box, legend_top, height, bundles.points, line_paths, markers, served, placed,
                 unplaced, route_ends, fonts_used["label"].size)


def _draw(annotation: Annotation, plan: _Plan, st: _Style, width: int, fonts_used: dict, legend_items, legend_grid,
          route, route_stations: set[str], title_text: str, colors: dict) -> Image.Image:
    canvas = np.full((plan.height, width, 3), 255, dtype=np.uint8)
    for line in annotation.lines:
        for pts in plan.line_paths[line.id]:
            cv2.polylines(canvas, [_cv(pts)], False, colors[line.id], _thick(st.line_width), cv2.LINE_AA, 4)
    for i in range(len(plan.layout.ids)):
        _draw_marker(canvas, plan.markers[i][2], st)
    index = plan.layout.index
    if route is not None:
        # dim everything, then draw the route on top
        x0, y0, x1, y1 = (int(v) for v in plan.map_box)
        region = canvas[y0:y1, x0:x1].astype(np.float32)
        canvas[y0:y1, x0:x1] = (region * 0.3 + 255 * 0.7).astype(np.uint8)
        for sec in route.sections:
            stops = [sec.departure, *sec.via_stops, sec.arrival]
            pts = [plan.points[(sec.line, index[s])] for s in stops]
            cv2.polylines(canvas, [_cv(pts)], False, OUTLINE, _thick(st.line_width * 2.1), cv2.LINE_AA, 4)
            cv2.polylines(canvas, [_cv(pts)], False, colors[sec.line], _thick(st.line_width * 1.5), cv2.LINE_AA, 4)
        for sid in sorted(route_stations, key=lambda s: index[s]):
            _draw_marker(canvas, plan.markers[index[sid]][2], st)
        for sid in plan.route_ends or ():
            (cx, cy), box, _ = plan.markers[index[sid]]
            r = max(box[2] - box[0], box[3] - box[1]) / 2 - st.px(3) - st.px(2.5)
            cv2.circle(canvas, tuple(_cv([cx, cy])), int(round(r * 16)), OUTLINE, _thick(st.px(5)), cv2.LINE_AA, 4)

    _, cols, col_w, row_h = legend_grid
    cells, _ = _legend_cells(legend_items, cols, col_w, row_h, st.margin, plan.legend_top, st)
    _draw_legend_badges(canvas, cells, st)
    image = Image.fromarray(canvas, "RGB")
    draw = ImageDraw.Draw(image)
    halo = st.halo
    for sid in plan.layout.ids:
        lab = plan.placed.get(sid)
        if lab is None:
            continue
        font_i = fonts_used["bold"] if sid in route_stations else fonts_used["label"]
        if lab.text.font_size and lab.text.font_size != font_i.size:  # placed as a last resort, smaller
            font_i = fonts_used["set"].get(lab.text.font_size, bold=sid in route_stations)
        fill = INK if (route is None or sid in route_stations) else MUTED
        if lab.leader:
            draw.line(lab.leader, fill=MUTED, width=_thick(st.px(1.5)))
        x, y = lab.anchor
        for k, text in enumerate(lab.text.lines):
            draw.text((x + halo, y + halo + k * lab.text.line_height), text, font=font_i, fill=fill,
                      stroke_width=_thick(halo), stroke_fill=WHITE, anchor="la")

    title_font, sub_font = fonts_used["title"], fonts_used["legend"]
    draw.text((st.margin, st.margin), title_text, font=title_font, fill=INK, anchor="la")
    draw.text((st.margin, st.margin + st.title_size * 1.25), _subtitle(annotation, plan, route), font=sub_font,
              fill=(90, 90, 90), anchor="la")
    _draw_legend_text(draw, cells, st, fonts_used["legend"], fonts_used["badge"])
    return image


def _subtitle(annotation: Annotation, plan: _Plan, route) -> str:
    n_lines = len(annotation.lines)
    text = f"{n_lines} line{'s' if n_lines != 1 else ''}, {len(plan.layout.ids)} stations"
    if route is not None:
        names = annotation.stations
        parts = [f"{annotation.line(sec.line).name} to {names[sec.arrival].name}" for sec in route.sections]
        text = f"Route {names[route.sections[0].departure].name} to {names[route.sections[-1].arrival].name}: " + ", then ".join(parts)
    return text


def _geometry(annotation: Annotation, plan: _Plan, width: int, font_name: str, route) -> dict[str, Any]:
    ids = plan.layout.ids
    geometry: dict[str, Any] = {
        "width": width,
        "height": plan.height,
        "city": annotation.city,
        "source": plan.layout.source,
        "font": font_name,
        "stations": {
            sid: {"center": [_r(plan.markers[i][0][0]), _r(plan.markers[i][0][1])],
                  "box": [_r(v) for v in plan.markers[i][1]], "lines": plan.served.get(i, [])}
            for i, sid in enumerate(ids)
        },
        "labels": {sid: [_r(v) for v in plan.placed[sid].box] for sid in ids if sid in plan.placed},
        "unplaced_labels": list(plan.unplaced),
        # names that only fitted in a smaller type (the last-resort sizes)
        "reduced_labels": _reduced(plan),
        "lines": {lid: [[[_r(x), _r(y)] for x, y in p] for p in paths] for lid, paths in plan.line_paths.items()},
        "map_area": [_r(v) for v in plan.map_box],
    }
    if route is not None:
        geometry["route"] = {
            "from": route.sections[0].departure, "to": route.sections[-1].arrival, "transfers": route.transfers,
            "sections": [{"line": sec.line, "stations": [sec.departure, *sec.via_stops, sec.arrival]} for sec in route.sections],
        }
    return geometry


def _r(v: float) -> float:
    return round(float(v), 1)


def _resolve_route(annotation: Annotation, ends: tuple[str, str]):
    from mapkit.graph import TransitMap

    if len(ends) != 2:
        raise RenderError("highlight_route takes two stations: (origin, destination)")
    ids = [_resolve_station(annotation, e) for e in ends]
    if ids[0] == ids[1]:
        raise RenderError(f"--highlight-route: origin and destination are the same station {ids[0]!r}")
    return TransitMap.from_annotation(annotation).routes(ids[0], ids[1], k=1)[0]


def _resolve_station(annotation: Annotation, key: str) -> str:
    if key in annotation.stations:
        return key
    folded = key.strip().casefold()
    matches = [sid for sid, s in annotation.stations.items()
               if s.name.casefold() == folded or any(n.casefold() == folded for n in s.names.values())]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RenderError(f"station name {key!r} is ambiguous in {annotation.city} (ids {', '.join(matches)}); give the station id")
    raise RenderError(f"{annotation.city} has no station with id or name {key!r}")


def _marker_shape(points: list[np.ndarray], line_color: tuple[int, int, int] | None, st: _Style):
    """Centre, box and draw instructions of a station's marker."""
    pts = np.array(points, dtype=float)
    if line_color is not None or len(pts) == 1:
        c = pts.mean(axis=0)
        r = st.dot_r + st.ring / 2
        return (float(c[0]), float(c[1])), (c[0] - r, c[1] - r, c[0] + r, c[1] + r), ("dot", c, line_color or OUTLINE)
    # farthest pair of the lines' positions: a capsule between them covers a bundle
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    a, b = np.unravel_index(int(np.argmax(d)), d.shape)
    p, q = pts[a], pts[b]
    half = st.inter_r + st.outline
    if d[a, b] < st.gap * 0.5:
        c = pts.mean(axis=0)
        r = st.inter_r
        shape = ("circle", c, r)
        ext = r + st.outline
        return (float(c[0]), float(c[1])), (c[0] - ext, c[1] - ext, c[0] + ext, c[1] + ext), shape
    seg = q - p
    t = np.clip(((pts - p) @ seg) / max(float(seg @ seg), 1e-9), 0, 1)
    off = np.linalg.norm(pts - (p + t[:, None] * seg), axis=1)
    if off.max() <= st.gap * 0.35:
        c = (p + q) / 2
        lo, hi = np.minimum(p, q) - half, np.maximum(p, q) + half
        return (float(c[0]), float(c[1])), (lo[0], lo[1], hi[0], hi[1]), ("capsule", p, q)
    c = pts.mean(axis=0)
    r = float(np.linalg.norm(pts - c, axis=1).max()) + st.inter_r
    ext = r + st.outline
    return (float(c[0]), float(c[1])), (c[0] - ext, c[1] - ext, c[0] + ext, c[1] + ext), ("circle", c, r)


def _draw_marker(canvas: np.ndarray, shape, st: _Style) -> None:
    kind = shape[0]
    if kind == "dot":
        _, c, color = shape
        center = tuple(_cv(c))
        cv2.circle(canvas, center, int(round(st.dot_r * 16)), WHITE, -1, cv2.LINE_AA, 4)
        cv2.circle(canvas, center, int(round(st.dot_r * 16)), color, _thick(st.ring), cv2.LINE_AA, 4)
    elif kind == "circle":
        _, c, r = shape
        center = tuple(_cv(c))
        cv2.circle(canvas, center, int(round((r + st.outline / 2) * 16)), OUTLINE, -1, cv2.LINE_AA, 4)
        cv2.circle(canvas, center, int(round((r - st.outline / 2) * 16)), WHITE, -1, cv2.LINE_AA, 4)
    else:
        _, p, q = shape
        p16, q16 = tuple(_cv(p)), tuple(_cv(q))
        cv2.line(canvas, p16, q16, OUTLINE, _thick(2 * (st.inter_r + st.outline)), cv2.LINE_AA, 4)
        cv2.line(canvas, p16, q16, WHITE, _thick(2 * st.inter_r - st.outline * 0.2), cv2.LINE_AA, 4)


@dataclass(frozen=True)
class _LegendItem:
    code: str
    name: str
    color: tuple[int, int, int]
    badge_w: float
    width: float


def _legend_items(annotation: Annotation, font, badge_font, st: _Style, colors: dict) -> list[_LegendItem]:
    items = []
    badge_h = st.legend_size * 1.15
    for line in annotation.lines:
        code = line.code or line.id
        badge_w = max(badge_h, badge_font.getlength(code) + badge_h * 0.55)
        width = badge_w + st.legend_size * 0.5 + font.getlength(line.name)
        items.append(_LegendItem(code, line.name, colors[line.id], badge_w, width))
    return items


def _legend_grid(items: list[_LegendItem], avail: float, st: _Style) -> tuple[int, int, float, float]:
    col_w = max((it.width for it in items), default=0) + st.legend_size * 1.5
    cols = max(1, min(len(items), int(avail // max(col_w, 1))))
    rows = math.ceil(len(items) / cols) if items else 0
    return rows, cols, col_w, st.legend_size * 1.6


def _legend_cells(items: list[_LegendItem], cols: int, col_w: float, row_h: float, left: float, top: float,
                  st: _Style):
    """(item, x, y) of each legend entry, filled column by column, and the legend's box."""
    rows = math.ceil(len(items) / cols) if items else 0
    y0 = top + st.legend_size * 0.4
    cells = []
    for k, it in enumerate(items):
        col, row = divmod(k, rows) if rows else (0, 0)
        cells.append((it, left + col * col_w, y0 + row * row_h))
    right = left + min(cols, len(items)) * col_w
    return cells, [left, top, right, y0 + rows * row_h]


def _draw_legend_badges(canvas: np.ndarray, cells, st: _Style) -> None:
    badge_h = st.legend_size * 1.15
    r = badge_h / 2
    for it, x, y in cells:
        p, q = (x + r, y + r), (x + it.badge_w - r, y + r)
        cv2.line(canvas, tuple(_cv(p)), tuple(_cv(q)), it.color, _thick(badge_h), cv2.LINE_AA, 4)


def _draw_legend_text(draw: ImageDraw.ImageDraw, cells, st: _Style, font, badge_font) -> None:
    badge_h = st.legend_size * 1.15
    for it, x, y in cells:
        lum = 0.299 * it.color[0] + 0.587 * it.color[1] + 0.114 * it.color[2]
        draw.text((x + it.badge_w / 2, y + badge_h / 2), it.code, font=badge_font, fill=INK if lum > 170 else WHITE, anchor="mm")
        draw.text((x + it.badge_w + st.legend_size * 0.5, y + badge_h / 2), it.name, font=font, fill=INK, anchor="lm")
