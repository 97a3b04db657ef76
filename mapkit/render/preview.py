"""Annotator previews: an annotation's ``xy`` points and lines drawn over its map image.

An annotator tracing a real map needs to see at a glance whether every station sits
where it should. The preview fades the map, draws each line as a thin polyline in its
colour through its stations' ``xy``, and each station as a circle numbered in
annotation order. Problems are drawn in red and listed in a side panel:

- stations without ``xy`` (listed; they cannot be drawn),
- ``xy`` outside the image (drawn on the border, with an arrow pointing out),
- consecutive stations absurdly far apart (a dashed red edge): more than
  ``FAR_FACTOR`` times the median edge and more than 5% of the image diagonal, which
  usually means a typo in a coordinate or a station on the wrong line.

With no ``xy`` at all the preview says what is missing instead of drawing nothing.

Example::

    >>> p = preview(load("annotations/oslo.json"), "maps/oslo.png")   # doctest: +SKIP
    >>> p.save("oslo-preview.png"); [str(x) for x in p.problems][:2]     # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from mapkit.annotation import Annotation
from mapkit.errors import RenderError
from mapkit.files import atomic_write
from mapkit.render.fonts import FontSet
from mapkit.render.images import MAX_MAP_PIXELS

FAR_FACTOR = 6.0
RED = (220, 20, 30)
INK = (26, 26, 26)
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class PreviewProblem:
    kind: str  # "no_xy", "outside", "far"
    stations: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Preview:
    image: Image.Image
    numbers: dict[str, int]  # station id -> the number drawn in its circle
    problems: list[PreviewProblem] = field(default_factory=list)
    message: str | None = None  # set when nothing could be overlaid (no xy at all)
    scale: float = 1.0  # output pixels per annotation pixel
    points: dict[str, tuple[float, float]] = field(default_factory=dict)  # station id -> circle centre (output px)
    radius: float = 0.0  # circle radius (output px)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise RenderError(f"{path}: write the preview as .png (or .jpg)")
        path.parent.mkdir(parents=True, exist_ok=True)
        png = path.suffix.lower() == ".png"
        return atomic_write(path, lambda f: self.image.save(f, format="PNG" if png else "JPEG", **({} if png else {"quality": 90})))


def _open_scaled(image_path: Path, max_side: int | None) -> tuple[Image.Image, tuple[int, int], float]:
    """The map as RGB, shrunk by a whole factor when its long side exceeds ``max_side``."""
    if not image_path.is_file():
        raise RenderError(f"map image {str(image_path)!r} not found")
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_MAP_PIXELS
    try:
        with Image.open(image_path) as im:
            size = im.size
            factor = 1
            if max_side and max(size) > max_side:
                factor = math.ceil(max(size) / max_side)
            im.load()
            if im.mode in ("RGBA", "LA", "P"):
                rgba = im.convert("RGBA")
                bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                rgb = Image.alpha_composite(bg, rgba).convert("RGB")
            else:
                rgb = im.convert("RGB")
            if factor > 1:
                rgb = rgb.reduce(factor)
    except (OSError, Image.DecompressionBombError) as e:
        raise RenderError(f"{image_path}: cannot open map image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old
    return rgb, size, 1.0 / factor


def preview(annotation: Annotation, image_path: str | Path, *, max_side: int | None = 8000,
            font: str | Path | None = None) -> Preview:
    """Overlay ``annotation`` on the map image at ``image_path`` (see the module doc)."""
    image_path = Path(image_path)
    base, (img_w, img_h), shrink = _open_scaled(image_path, max_side)
    fonts = FontSet.load(font)
    names_ok = not fonts.missing_characters([s.name for s in annotation.stations.values()] +
                                            [ln.name for ln in annotation.lines])

    # xy are in the pixels of the image the annotation was traced on; follow a resize
    sx = sy = 1.0
    notes: list[str] = []
    if annotation.image and (annotation.image.width, annotation.image.height) != (img_w, img_h):
        sx, sy = img_w / annotation.image.width, img_h / annotation.image.height
        notes.append(f"image is {img_w}x{img_h} but the annotation says {annotation.image.width}x{annotation.image.height}; "
                     f"xy scaled by {sx:.3f} x {sy:.3f}")

    served: dict[str, list[str]] = {}
    for line in annotation.lines:
        for sid in line.station_ids:
            served.setdefault(sid, []).append(line.id)
    ids = [sid for sid in annotation.stations]
    numbers = {sid: k + 1 for k, sid in enumerate(ids)}
    xy = {sid: (s.xy[0] * sx, s.xy[1] * sy) for sid, s in annotation.stations.items() if s.xy is not None}

    problems: list[PreviewProblem] = []
    missing = [sid for sid in ids if sid not in xy and sid in served]
    if missing and len(missing) < len([s for s in ids if s in served]):
        shown = ", ".join(f"#{numbers[s]} {annotation.stations[s].name}" for s in missing[:8]) + (", ..." if len(missing) > 8 else "")
        problems.append(PreviewProblem("no_xy", tuple(missing), f"{len(missing)} station(s) have no xy: {shown}"))
    outside = [sid for sid, (x, y) in xy.items() if not (0 <= x < img_w and 0 <= y < img_h)]
    for sid in outside:
        x, y = xy[sid]
        problems.append(PreviewProblem("outside", (sid,), f"#{numbers[sid]} {annotation.stations[sid].name}: xy [{x:.0f}, {y:.0f}] lies outside the "
                                                          f"{img_w}x{img_h} image"))
    edges: list[tuple[str, str, str]] = []
    for line in annotation.lines:
        seen = set()
        for a, b, _ in line.edges():
            if a in xy and b in xy and (a, b) not in seen:
                seen.add((a, b))
                edges.append((line.id, a, b))
    lengths = [math.dist(xy[a], xy[b]) for _, a, b in edges]
    median = float(np.median(lengths)) if lengths else 0.0
    diagonal = math.hypot(img_w, img_h)
    far: set[tuple[str, str]] = set()
    outside_set = set(outside)
    for (lid, a, b), length in zip(edges, lengths):
        if a in outside_set or b in outside_set:
            continue  # already reported as outside
        if median > 0 and length > FAR_FACTOR * median and length > 0.05 * diagonal:
            far.add((a, b))
            problems.append(PreviewProblem("far", (a, b), f"#{numbers[a]} {annotation.stations[a].name} to #{numbers[b]} "
                                           f"{annotation.stations[b].name} on line {lid}: {length:.0f} px apart, "
                                           f"{length / median:.1f} times the median distance"))

    message = None
    if not annotation.stations:
        message = (f"No stations yet: add stations with \"xy\": [x, y], their pixel position on {image_path.name} "
                   f"({img_w}x{img_h}), and the lines through them, then preview again.")
    elif not xy:
        n = len([s for s in ids if s in served])
        message = (f"No station has an xy position yet: all {n} stations need \"xy\": [x, y], their pixel position on "
                   f"{image_path.name} ({img_w}x{img_h}), before anything can be overlaid.")

    # ---- draw: faded map, lines, numbered circles
    w, h = base.size
    k = shrink  # output px per image px
    canvas = (np.asarray(base, dtype=np.float32) * 0.45 + 255 * 0.55).astype(np.uint8)
    unit = max(w, h) / 1500.0  # 1 at a 1500 px preview
    line_w = max(2, int(round(2.2 * unit)))
    colors = {ln.id: tuple(int(ln.color[i:i + 2], 16) for i in (1, 3, 5)) for ln in annotation.lines}

    def to_px(p: tuple[float, float]) -> tuple[float, float]:
        return min(max(p[0] * k, 0), w - 1), min(max(p[1] * k, 0), h - 1)

    def cvp(p) -> tuple[int, int]:
        return int(round(p[0] * 16)), int(round(p[1] * 16))

    for lid, a, b in edges:
        pa, pb = to_px(xy[a]), to_px(xy[b])
        if (a, b) in far:
            _dashed(canvas, pa, pb, RED, line_w + 1, dash=14 * unit)
        else:
            cv2.line(canvas, cvp(pa), cvp(pb), colors[lid], line_w, cv2.LINE_AA, 4)
    radius = max(7.0, 9.0 * unit)
    bad = {s for p in problems if p.kind in ("outside", "far") for s in p.stations}
    for sid in ids:
        if sid not in xy:
            continue
        c = to_px(xy[sid])
        lines_here = served.get(sid, [])
        ring = RED if sid in bad else (colors[lines_here[0]] if len(lines_here) == 1 else INK)
        cv2.circle(canvas, cvp(c), int(round(radius * 16)), WHITE, -1, cv2.LINE_AA, 4)
        cv2.circle(canvas, cvp(c), int(round(radius * 16)), ring, max(1, int(round(1.6 * unit))) + (1 if sid in bad else 0), cv2.LINE_AA, 4)
        if sid in outside:
            # an arrow from inside the image towards where the point really is
            x, y = xy[sid][0] * k, xy[sid][1] * k
            d = np.array([x - c[0], y - c[1]])
            d = d / max(float(np.linalg.norm(d)), 1e-9)
            tail = (c[0] - d[0] * radius * 4, c[1] - d[1] * radius * 4)
            cv2.arrowedLine(canvas, cvp(tail), cvp((c[0] - d[0] * radius, c[1] - d[1] * radius)), RED,
                            max(2, line_w), cv2.LINE_AA, 4, 0.4)
    image = Image.fromarray(canvas, "RGB")
    draw = ImageDraw.Draw(image)
    num_font = fonts.get(radius * 1.05, bold=True)
    for sid in ids:
        if sid in xy:
            c = to_px(xy[sid])
            text = str(numbers[sid])
            size = radius * (1.05 if len(text) <= 2 else 0.8 if len(text) == 3 else 0.65)
            draw.text(c, text, font=fonts.get(size, bold=True) if size != radius * 1.05 else num_font,
                      fill=RED if sid in bad else INK, anchor="mm")

    # ---- side panel: title, legend, problems, key
    panel = _panel(annotation, image_path, fonts, names_ok, problems, notes, message, numbers, xy,
                   width=max(420, int(w * 0.3)), min_height=h)
    out = Image.new("RGB", (w + panel.width, max(h, panel.height)), WHITE)
    out.paste(image, (0, 0))
    out.paste(panel, (w, 0))
    if message:
        banner_font = fonts.get(max(16, w / 45), bold=True)
        d2 = ImageDraw.Draw(out)
        lines = _wrap(message, banner_font, w * 0.8)
        lh = banner_font.getmetrics()[0] + banner_font.getmetrics()[1]
        top = h / 2 - lh * len(lines) / 2
        d2.rectangle([w * 0.08, top - lh * 0.6, w * 0.92, top + lh * (len(lines) + 0.6)], fill=WHITE, outline=RED, width=max(2, line_w))
        for i, text in enumerate(lines):
            d2.text((w / 2, top + i * lh), text, font=banner_font, fill=RED, anchor="ma")
    points = {sid: to_px(xy[sid]) for sid in ids if sid in xy}
    return Preview(out, numbers, problems, message, k * sx, points, radius)


def _dashed(canvas: np.ndarray, a, b, color, width: int, dash: float) -> None:
    length = math.dist(a, b)
    n = max(1, int(length // max(dash, 1)))
    for i in range(0, n, 2):
        t0, t1 = i / n, min(1.0, (i + 1) / n)
        p = (a[0] + (b[0] - a[0]) * t0, a[1] + (b[1] - a[1]) * t0)
        q = (a[0] + (b[0] - a[0]) * t1, a[1] + (b[1] - a[1]) * t1)
        cv2.line(canvas, (int(p[0] * 16), int(p[1] * 16)), (int(q[0] * 16), int(q[1] * 16)), color, width, cv2.LINE_AA, 4)


def _wrap(text: str, font, max_width: float) -> list[str]:
    words, lines, cur = text.split(" "), [], ""
    for word in words:
        trial = f"{cur} {word}".strip()
        if cur and font.getlength(trial) > max_width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


def _panel(annotation: Annotation, image_path: Path, fonts: FontSet, names_ok: bool, problems: list[PreviewProblem],
           notes: list[str], message: str | None, numbers: dict[str, int], xy: dict, *, width: int, min_height: int) -> Image.Image:
    size = max(12.0, width / 26)
    head, body, small = fonts.get(size * 1.4, bold=True), fonts.get(size), fonts.get(size * 0.8)
    pad = size
    ops: list[tuple] = []  # (kind, payload, font, height)
    lh = lambda f: sum(f.getmetrics()) * 1.15  # noqa: E731

    def text(t: str, f, color=INK) -> None:
        for line in _wrap(t, f, width - 2 * pad):
            ops.append(("text", line, f, color))

    text(f"Preview of {annotation.city}" if not names_ok else f"Preview: {annotation.name}", head)
    text(f"on {image_path.name}", small, (90, 90, 90))
    served = sum(1 for s in numbers if s in xy)
    text(f"{served} of {len(numbers)} stations drawn; circles are numbered in annotation order", small, (90, 90, 90))
    if not names_ok:
        text("Names are left out: they need a font for their script (pass --font, e.g. a Noto CJK font); "
             "`mapkit preview --key` prints the number of every station", small, (160, 90, 0))
    ops.append(("gap", None, None, None))
    text("Lines", head)
    for line in annotation.lines:
        color = tuple(int(line.color[i:i + 2], 16) for i in (1, 3, 5))
        label = f"{line.code or line.id}  {line.name}" if names_ok else f"{line.code or line.id}"
        ops.append(("swatch", (label, color), body, INK))
    ops.append(("gap", None, None, None))
    text("Problems" if (problems or message) else "No problems found", head, RED if (problems or message) else (0, 120, 60))
    if message:
        text(message, body, RED)
    for p in problems[:40]:
        text(p.message if names_ok else f"{p.kind}: " + ", ".join(f"#{numbers[s]}" for s in p.stations[:12]), body, RED)
    if len(problems) > 40:
        text(f"... and {len(problems) - 40} more (printed by mapkit preview)", body, RED)
    for note in notes:
        text(note, body, (160, 90, 0))
    heights = [lh(f) if kind != "gap" else size for kind, _, f, _ in ops]
    used = pad * 2 + sum(heights)
    key = [f"{n}  {annotation.stations[sid].name}" for sid, n in numbers.items() if sid in xy] if names_ok else []
    keyf = fonts.get(max(10.0, size * 0.62))
    key_h = lh(keyf)
    cols = rows = 0
    if key:
        used += lh(head) + size
        # as many columns as fit at a readable width; rows fill the height the map gives
        max_cols = max(1, int((width - 2 * pad) // max(keyf.getlength("000  " + "M" * 8), 1)))
        rows = max(1, int(max(min_height - used, key_h * 8) // key_h))
        cols = min(max_cols, math.ceil(len(key) / rows))
        rows = math.ceil(len(key) / cols)
    height = int(max(min_height, used + rows * key_h))
    panel = Image.new("RGB", (width, height), (248, 248, 246))
    draw = ImageDraw.Draw(panel)
    y = pad
    for (kind, payload, f, color), hgt in zip(ops, heights):
        if kind == "text":
            draw.text((pad, y), payload, font=f, fill=color, anchor="la")
        elif kind == "swatch":
            label, c = payload
            sw = size * 1.6
            draw.rounded_rectangle([pad, y + hgt * 0.2, pad + sw, y + hgt * 0.7], radius=hgt * 0.2, fill=c)
            draw.text((pad + sw + size * 0.5, y), label, font=f, fill=color, anchor="la")
        y += hgt
    if key:
        y += size
        draw.text((pad, y), "Key", font=head, fill=INK, anchor="la")
        y += lh(head)
        col_w = (width - 2 * pad) / cols
        for i, entry in enumerate(key):
            c, r = divmod(i, rows)
            x0 = pad + c * col_w
            while keyf.getlength(entry) > col_w - size * 0.4 and len(entry) > 4:
                entry = entry[:-2] + "\u2026"
            draw.text((x0, y + r * key_h), entry, font=keyf, fill=INK, anchor="la")
    return panel
