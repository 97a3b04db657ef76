"""Import ReasonMap's ``stations/<country>/<city>.json`` into native annotations.

A ReasonMap city file maps each line name to its ordered station names, with markers
inside the names: `` (Transfer Station)`` / ``（换乘站）`` and
`` (Branch-starting Station)`` / ``（支线起始站）``. The files have quirks that this
importer resolves, each with a warning so nothing changes silently:

- A loop is written by repeating the first station at the end: it becomes
  ``"loop": true``. Loops left open (Beijing Lines 2 and 10) cannot be told apart from
  ordinary lines and stay open.
- A branch is appended after the trunk's terminus without repeating the fork; the
  fork is marked but the trunk's end is not. The stations up to the fork form the
  first segment; everything after it becomes a branch segment starting at the fork
  and listed in ``uncertain_segments``, so membership questions can use it but no
  question depends on its order.
- The same name twice on one line (New York R "36 St") means two physical stations:
  the second gets its own id (``36-st-2``).
- Transfer markers that disagree with line membership: membership wins.
"""
from __future__ import annotations

import colorsys
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapkit.annotation import Annotation, dump, loads
from mapkit.errors import AnnotationError, MapkitError, Problem, SourceError
from mapkit.files import sha256_file
from mapkit.names import slug_id
from mapkit.render.images import image_size

TRANSFER_MARKERS = (" (Transfer Station)", "（换乘站）")
BRANCH_MARKERS = (" (Branch-starting Station)", "（支线起始站）")
SOURCE = "ReasonMap (github.com/fscdc/ReasonMap), stations/{country}/{city}.json"
LICENSE = "MIT, Copyright (c) 2025 Sicheng Feng (ReasonMap)"


@dataclass(frozen=True)
class ImportResult:
    city: str
    path: Path
    annotation: Annotation
    warnings: tuple[str, ...]


def strip_markers(raw: str) -> tuple[str, bool, bool]:
    """Display name without ReasonMap's markers, plus (marked transfer, marked fork)."""
    name, transfer, branch = raw.strip(), False, False
    changed = True
    while changed:
        changed = False
        for marker in TRANSFER_MARKERS + BRANCH_MARKERS:
            for variant in (marker, marker.strip()):
                if name.endswith(variant):
                    name = name[: -len(variant)].rstrip()
                    transfer |= marker in TRANSFER_MARKERS
                    branch |= marker in BRANCH_MARKERS
                    changed = True
    return name, transfer, branch


def slug(text: str) -> str:
    """Stable id: lower case, words joined by '-', a trailing 'Station'/'站' dropped."""
    text = re.sub(r"(\s+station|站)$", "", text.strip(), flags=re.IGNORECASE) or text.strip()
    return slug_id(text, fallback="station")


def palette(index: int) -> str:
    """Distinct, deterministic colours for files that carry none."""
    hue = (index * 0.61803398875) % 1.0  # golden-ratio steps keep neighbours apart
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.85)
    return "#{:02X}{:02X}{:02X}".format(round(r * 255), round(g * 255), round(b * 255))


def convert(data: Any, *, city: str, country: str, source: str = "<reasonmap>", image: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Turn one parsed ReasonMap city object into a native annotation dict and warnings."""
    if not isinstance(data, dict) or not data:
        raise SourceError(f"{source}: expected a JSON object mapping line names to station lists")
    warnings: list[str] = []
    stations: dict[str, dict[str, Any]] = {}
    id_of_name: dict[str, str] = {}
    marked_transfer: set[str] = set()
    lines: list[dict[str, Any]] = []
    used_line_ids: set[str] = set()
    chinese = 0

    def new_station(name: str) -> str:
        base = slug(name)
        sid, n = base, 2
        while sid in stations:
            sid, n = f"{base}-{n}", n + 1
        stations[sid] = {"name": name}
        return sid

    for index, (line_name, raw_stations) in enumerate(data.items()):
        where = f"{source}: line {line_name!r}"
        if not isinstance(raw_stations, list) or not all(isinstance(s, str) and s.strip() for s in raw_stations):
            raise SourceError(f"{where}: expected a list of station names")
        if len(raw_stations) < 2:
            warnings.append(f"{where}: fewer than two stations, line skipped")
            continue
        parsed = [strip_markers(s) for s in raw_stations]
        chinese += sum(name.endswith("站") for name, _, _ in parsed)
        names = [name for name, _, _ in parsed]
        loop = len(names) > 3 and names[0] == names[-1]
        if loop:
            names, parsed = names[:-1], parsed[:-1]
            warnings.append(f"{where}: first station repeated at the end, imported as a loop")
        ids: list[str] = []
        for name, transfer, _ in parsed:
            sid = id_of_name.get(name)
            if sid is None or sid in ids:
                if sid is not None:
                    warnings.append(f"{where}: {name!r} appears twice on the line; treated as two stations (second one gets its own id)")
                sid = new_station(name)
                id_of_name.setdefault(name, sid)
            ids.append(sid)
            if transfer:
                marked_transfer.add(sid)
        forks = [pos for pos, (_, _, branch) in enumerate(parsed) if branch and 0 < pos < len(parsed) - 1]
        segments = [ids]
        line: dict[str, Any] = {}
        if forks:
            fork = forks[0]
            segments = [ids[: fork + 1], ids[fork:fork + 1] + ids[fork + 1:]]
            line["uncertain_segments"] = [1]
            warnings.append(f"{where}: branch at {names[fork]!r} with unknown trunk end; stations after it kept as a branch of uncertain order")
        if loop and forks:
            warnings.append(f"{where}: a loop with a branch; the loop closes the first segment only")
        line_id = slug(line_name)
        base, n = line_id, 2
        while line_id in used_line_ids:
            line_id, n = f"{base}-{n}", n + 1
        used_line_ids.add(line_id)
        lines.append({"id": line_id, "name": line_name, "color": palette(index), "segments": segments, **({"loop": True} if loop else {}), **line})

    served: dict[str, int] = {}
    for line in lines:
        for sid in {s for seg in line["segments"] for s in seg}:
            served[sid] = served.get(sid, 0) + 1
    for sid, st in stations.items():
        if sid in marked_transfer and served.get(sid, 0) < 2:
            warnings.append(f"{source}: {st['name']!r} is marked as a transfer but lies on one line only (membership wins)")
        if sid not in marked_transfer and served.get(sid, 0) >= 2:
            warnings.append(f"{source}: {st['name']!r} lies on {served[sid]} lines but is not marked as a transfer (membership wins)")

    notes = ["Imported from ReasonMap by `mapkit import reasonmap`; no coordinates: render is not possible, the map image is the source."]
    if any("uncertain_segments" in line for line in lines):
        notes.append("Branches whose trunk end is unknown are in `uncertain_segments`: no question depends on their station order.")
    out: dict[str, Any] = {
        "schema_version": 1,
        "city": city,
        "country": country,
        "name": f"{city.replace('_', ' ').title()} metro (ReasonMap)",
        "language": "zh" if chinese * 2 > sum(len(v) for v in data.values() if isinstance(v, list)) else "en",
        "license": LICENSE,
        "source": SOURCE.format(country=country.lower().replace(" ", "_"), city=city),
        "notes": notes,
    }
    if image:
        out["image"] = image
    out["stations"] = stations
    out["lines"] = lines
    return out, warnings


def image_block(png: Path, relative_to: Path) -> dict[str, Any]:
    try:
        width, height = image_size(png)
    except MapkitError as e:
        raise SourceError(str(e)) from None
    return {"file": os.path.relpath(png.resolve(), relative_to.resolve()), "width": width, "height": height, "sha256": sha256_file(png)}


def city_files(src: Path) -> list[tuple[str, str, Path]]:
    """(country folder, city, path) for a stations/ folder, a country folder or one file."""
    if src.is_file():
        return [(src.parent.name, src.stem, src)]
    if not src.is_dir():
        raise SourceError(f"{src}: no such file or folder (expected ReasonMap's stations/ folder or one <city>.json)")
    files = sorted(src.glob("*/*.json")) or sorted(src.glob("*.json"))
    if not files:
        raise SourceError(f"{src}: no ReasonMap city files found (expected stations/<country>/<city>.json)")
    return [(p.parent.name if p.parent != src else src.name, p.stem, p) for p in files]


def import_reasonmap(src: str | Path, out: str | Path, maps: str | Path | None = None) -> list[ImportResult]:
    """Convert every city under ``src`` into ``out/<city>.json``; returns what was written.

    All cities are converted and validated before the first file is written, so a bad
    source leaves ``out`` untouched.
    """
    src, out = Path(src), Path(out)
    maps = Path(maps) if maps else None
    if maps is not None and not maps.is_dir():
        raise SourceError(f"{maps}: maps folder not found (expected ReasonMap's maps/<country>/<city>.png)")
    out.mkdir(parents=True, exist_ok=True)  # image paths are checked relative to it
    prepared = []
    for country, city, path in city_files(src):
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SourceError(f"{path}: cannot read ReasonMap JSON ({e})") from None
        png = maps / country / f"{city}.png" if maps else None
        image = image_block(png, out) if png is not None and png.is_file() else None
        native, warnings = convert(data, city=slug(city).replace("-", "_"), country=country.replace("_", " ").title(), source=str(path), image=image)
        target = out / f"{native['city']}.json"
        try:
            annotation = loads(native, source=str(target), path=target)
        except AnnotationError as e:  # an importer bug or a source this importer cannot express
            raise AnnotationError([Problem(p.file, p.path, f"{p.message} (imported from {path})", p.hint) for p in e.problems]) from None
        prepared.append((target, annotation, tuple(warnings)))
    results = []
    for target, annotation, warnings in prepared:
        dump(annotation, target)
        results.append(ImportResult(annotation.city, target, annotation, warnings))
    return results
