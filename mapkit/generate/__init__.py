"""Synthetic cities: plausible transit networks made from a seed, with a chosen difficulty.

``generate_city(cfg, seed=S, index=i)`` returns one native annotation (a dict that
``mapkit.annotation.loads`` accepts); ``write_cities`` writes many, each checked, each
file atomically. City ``i`` of seed ``S`` depends on nothing but (S, i) and its config,
so asking for more cities never changes the first ones, and the same seed gives the
same bytes.

Example::

    >>> from mapkit.generate import plan, generate_city
    >>> city = generate_city(plan(1, difficulty="easy")[0], seed=0, index=0)
    >>> city["source"].startswith("mapkit generate")
    True
"""
from __future__ import annotations

import colorsys
import json
import math
import random
from pathlib import Path
from typing import Any, Sequence

from mapkit.annotation import loads
from mapkit.errors import GenerateError
from mapkit.files import atomic_write_text
from mapkit.generate.config import DIFFICULTIES, PRESETS, CityConfig, parse_range, plan
from mapkit.generate.names import LANGUAGES, NameGenerator
from mapkit.generate.network import Drawn, layout_city

__all__ = ["CityConfig", "DIFFICULTIES", "LANGUAGES", "PRESETS", "generate_city", "parse_range", "plan", "write_cities"]

ATTEMPTS = 300  # draws per city before giving up on its ranges

# Line colours in the spirit of real systems, named for colour-named lines (Boston, DC).
PALETTE = (
    ("Red", "#E3002B"), ("Blue", "#0066B3"), ("Green", "#00A650"), ("Orange", "#F7931D"),
    ("Purple", "#8E479C"), ("Yellow", "#FFC20E"), ("Brown", "#996633"), ("Teal", "#00A9A5"),
    ("Pink", "#E85AA1"), ("Navy", "#1D2F6F"), ("Lime", "#8DC63F"), ("Grey", "#8C8C8C"),
    ("Sky", "#4FB6E4"), ("Maroon", "#8B1F3F"), ("Gold", "#C99700"), ("Olive", "#6B6B1F"),
)
# How each language's systems name their lines (name pattern, whether lines get a letter code).
_LINE_STYLES = {
    "en": ("numbered", "colour", "named"),
    "de": ("u-bahn",),
    "fr": ("ligne",),
    "es": ("linea_es",),
    "it": ("linea_it",),
    "zh": ("numbered",),
    "ja": ("named",),
}
_CITY_SUFFIX = {"en": "Metro", "de": "U-Bahn", "fr": "Métro", "es": "Metro", "it": "Metropolitana", "zh": "Metro", "ja": "Subway"}


def generate_city(cfg: CityConfig, *, seed: int, index: int, check_labels: bool = False) -> dict[str, Any]:
    """One synthetic city's annotation dict, or GenerateError when no draw fits ``cfg``.

    ``check_labels`` renders each draw at the default size and draws again when a label
    finds no place (about one hard city in 200 otherwise; costs a render per city)."""
    cfg.check()
    for attempt in range(ATTEMPTS):
        rng = random.Random(f"mapkit-generate:{seed}:{index}:{attempt}")
        drawn = layout_city(cfg, rng)
        if drawn is None:
            continue
        data = _annotation(cfg, drawn, rng, seed, index)
        if check_labels and _unplaced_labels(data):
            continue
        return data
    raise GenerateError(f"city {index} (seed {seed}): no network with lines {cfg.lines[0]}-{cfg.lines[1]}, stations "
                        f"{cfg.stations[0]}-{cfg.stations[1]} and transfers {cfg.transfers[0]}-{cfg.transfers[1]} "
                        f"in {ATTEMPTS} draws; widen the ranges (more stations or lines for many transfers)")


def _unplaced_labels(data: dict[str, Any]) -> list[str]:
    from mapkit.render import render_map

    return render_map(loads(data, source=f"generated city {data['city']}")).unplaced_labels


def city_slug(seed: int, index: int) -> str:
    return f"synth-{seed}-{index:04d}"


def write_cities(configs: Sequence[CityConfig], out: str | Path, *, seed: int, check_labels: bool = True) -> list[Path]:
    """Write ``synth-<seed>-<index>.json`` per config into ``out``; returns the paths.
    Every city is made before the first file is written, so a city that cannot be made
    leaves nothing behind. ``check_labels``: see ``generate_city``."""
    out = Path(out)
    cities = [generate_city(cfg, seed=seed, index=index, check_labels=check_labels) for index, cfg in enumerate(configs)]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for data in cities:
        path = out / f"{data['city']}.json"
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        paths.append(path)
    return paths


def _annotation(cfg: CityConfig, drawn: Drawn, rng: random.Random, seed: int, index: int) -> dict[str, Any]:
    net, lines = drawn
    words = NameGenerator(cfg.language, rng)
    city_name = words.word()
    lon0, lat0 = rng.uniform(-120, 140), rng.uniform(-40, 58)
    km_lat, km_lon = 1 / 110.574, 1 / (111.320 * math.cos(math.radians(lat0)))
    style = rng.choice(_LINE_STYLES[cfg.language])
    colours = _colours(len(lines), rng)
    stations: dict[str, Any] = {}
    order = [s for _, segs, _ in lines for seg in segs for s in seg]
    for sid in dict.fromkeys(order):
        x, y = net.xy[sid]
        st: dict[str, Any] = {"name": net.name(sid)}
        if sid in net.native:
            st["names"] = {cfg.language: net.native[sid], "en": net.name(sid)}
        st["lonlat"] = [round(lon0 + x * km_lon, 6), round(lat0 + y * km_lat, 6)]
        stations[sid] = st
    out_lines = []
    used_codes: set[str] = set()
    for k, (_, segs, loop) in enumerate(lines):
        colour_name, colour = colours[k]
        name, code = _line_name(style, k, colour_name, words, used_codes)
        line: dict[str, Any] = {"id": code or str(k + 1), "name": name}
        if code:
            line["code"] = code
        line["color"] = colour
        if loop:
            line["loop"] = True
        line["segments"] = segs
        out_lines.append(line)
    data = {
        "schema_version": 1,
        "city": city_slug(seed, index),
        "country": "Synthetic",
        "name": f"{city_name} {_CITY_SUFFIX[cfg.language]}",
        "language": cfg.language if cfg.language not in ("zh", "ja") else f"{cfg.language}-Latn",
        "license": "CC0-1.0",
        "source": f"mapkit generate --seed {seed} (city {index}; lines {cfg.lines[0]}-{cfg.lines[1]}, stations "
                  f"{cfg.stations[0]}-{cfg.stations[1]}, transfers {cfg.transfers[0]}-{cfg.transfers[1]}, "
                  f"loops {cfg.loops}, branches {cfg.branches}, lang {cfg.language})",
        "notes": ["synthetic city: invented names and geometry, not a real network"],
        "stations": stations,
        "lines": out_lines,
    }
    loads(data, source=f"generated city {data['city']}")  # a generator bug fails here, not in a later build
    return data


def _colours(n: int, rng: random.Random) -> list[tuple[str, str]]:
    picked = rng.sample(PALETTE, min(n, len(PALETTE)))
    for k in range(len(picked), n):  # beyond the palette: evenly spread hues
        r, g, b = colorsys.hsv_to_rgb((k * 0.618034) % 1, 0.75, 0.8)
        picked.append((f"Line{k}", f"#{int(r * 255):02X}{int(g * 255):02X}{int(b * 255):02X}"))
    return picked


def _line_name(style: str, k: int, colour_name: str, words: NameGenerator, used: set[str]) -> tuple[str, str | None]:
    n = k + 1
    if style == "numbered":
        return f"Line {n}", None
    if style == "u-bahn":
        return f"U{n}", None
    if style == "ligne":
        return f"Ligne {n}", None
    if style == "linea_es":
        return f"Línea {n}", None
    if style == "linea_it":
        return f"Linea {chr(ord('A') + k)}" if k < 26 else f"Linea {n}", None
    base = colour_name if style == "colour" and not colour_name.startswith("Line") else words.word()
    while f"{base} Line" in used:  # line names must differ: rewards and questions go by name
        base = words.word()
    used.add(f"{base} Line")
    code = next((c for c in (base[0], base[:2].upper(), f"{base[0]}{n}") if c not in used), f"L{n}")
    used.add(code)
    return f"{base} Line", code
