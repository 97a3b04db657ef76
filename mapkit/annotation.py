"""Native annotations: load a city's JSON, check it, and hand back immutable objects.

Checking happens in two passes. The JSON Schema (``schemas/annotation.schema.json``)
catches shapes and types; the semantic pass catches what a schema cannot say (unknown
station references, repeated stations, branches that do not start on their line, ...).
Every problem names the file, the JSON path and the fix, and all of them are reported
together so an annotator can fix a file in one go.

Example::

    >>> from mapkit.annotation import load
    >>> tokyo = load("annotations/tokyo.json")
    >>> dict(tokyo.station("shibuya").codes)
    {'G': 'G01', 'Z': 'Z01', 'F': 'F16'}
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

import jsonschema

from mapkit.errors import AnnotationError, GraphError, Problem
from mapkit.files import atomic_write_text
from mapkit.names import control_problems, name_key

_TRANSFER_WORDS = ("transfer", "interchange", "换乘")


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    names: Mapping[str, str] = field(default_factory=dict)
    codes: Mapping[str, str] = field(default_factory=dict)
    lonlat: tuple[float, float] | None = None
    xy: tuple[float, float] | None = None


@dataclass(frozen=True)
class Pattern:
    """One stop sequence as vehicles run it, in their direction of travel (schema v2).

    A one-way loop ends with its first station again (``A B C D A``)."""

    stops: tuple[str, ...]
    direction: int | None = None
    trips: int | None = None

    @property
    def is_loop(self) -> bool:
        return len(self.stops) >= 4 and self.stops[0] == self.stops[-1]


@dataclass(frozen=True)
class Line:
    id: str
    name: str
    color: str
    segments: tuple[tuple[str, ...], ...]
    loop: bool = False
    code: str | None = None
    uncertain_segments: frozenset[int] = frozenset()
    patterns: tuple[Pattern, ...] = ()  # empty: the line runs both ways along its segments
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def one_way(self) -> bool:
        """Riders may only travel along the line's patterns, in their order."""
        return bool(self.patterns)

    @cached_property  # asked for on every query about the line; the line is frozen, so is the answer
    def station_ids(self) -> tuple[str, ...]:
        """Stations of the line in order: the trunk, then each branch without its fork."""
        seen: dict[str, None] = {}
        for segment in self.segments:
            seen.update(dict.fromkeys(segment))
        return tuple(seen)

    def edges(self, *, certain_only: bool = False) -> Iterator[tuple[str, str, int]]:
        """Consecutive station pairs as (a, b, segment index), the loop's closing edge included."""
        for index, segment in enumerate(self.segments):
            if certain_only and index in self.uncertain_segments:
                continue
            for a, b in zip(segment, segment[1:]):
                yield a, b, index
        if self.loop and len(self.segments[0]) > 2 and not (certain_only and 0 in self.uncertain_segments):
            yield self.segments[0][-1], self.segments[0][0], 0


@dataclass(frozen=True)
class ImageInfo:
    file: str
    width: int
    height: int
    sha256: str | None = None


@dataclass(frozen=True)
class Annotation:
    city: str
    country: str
    name: str
    language: str
    license: str
    source: str
    stations: Mapping[str, Station]
    lines: tuple[Line, ...]
    image: ImageInfo | None = None
    notes: tuple[str, ...] = ()
    path: Path | None = None
    warnings: tuple[Problem, ...] = ()

    def station(self, station_id: str) -> Station:
        try:
            return self.stations[station_id]
        except KeyError:
            raise GraphError(f"{self.city}: no station with id {station_id!r}") from None

    def line(self, line_id: str) -> Line:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise GraphError(f"{self.city}: no line with id {line_id!r}; lines are {', '.join(line.id for line in self.lines)}")

    def image_path(self) -> Path | None:
        """Absolute path of the map image, resolved against the annotation's folder."""
        if self.image is None:
            return None
        base = self.path.parent if self.path else Path.cwd()
        return (base / self.image.file).resolve()

    def confined_image_path(self, images_root: str | Path | None = None) -> Path | None:
        """``image_path`` for a build: the file must lie inside the annotation's folder (or
        inside ``images_root``) and ``image.file`` must be relative, so a dataset never
        copies, and a dataset's annotation copy never names, a file from elsewhere."""
        if self.image is None:
            return None
        source = str(self.path) if self.path else self.city
        hint = ("write image.file relative to the annotation's folder, or pass --images-root DIR "
                "naming the folder that holds the maps")
        if Path(self.image.file).is_absolute() or "\\" in self.image.file:
            raise AnnotationError(Problem(source, "image.file", f"{self.image.file!r} is an absolute path", hint))
        path = self.image_path()
        roots = [(self.path.parent if self.path else Path.cwd()).resolve()]
        if images_root is not None:
            roots.append(Path(images_root).resolve())
        if not any(path == root or root in path.parents for root in roots):
            where = " or ".join(str(r) for r in roots)
            raise AnnotationError(Problem(source, "image.file", f"{self.image.file!r} resolves to {path}, outside {where}", hint))
        return path

    def line_stations_by_name(self) -> dict[str, list[str]]:
        """Line name -> ordered station display names: the mapping rewards work with."""
        return {line.name: [self.stations[s].name for s in line.station_ids] for line in self.lines}

    def to_dict(self) -> dict[str, Any]:
        """The annotation as native JSON (what ``load`` reads back)."""
        out: dict[str, Any] = {
            "schema_version": 2 if any(line.patterns or line.names for line in self.lines) else 1,
            "city": self.city,
            "country": self.country,
            "name": self.name,
            "language": self.language,
            "license": self.license,
            "source": self.source,
        }
        if self.notes:
            out["notes"] = list(self.notes)
        if self.image:
            out["image"] = {k: v for k, v in vars(self.image).items() if v is not None}
        out["stations"] = {sid: _station_dict(s) for sid, s in self.stations.items()}
        out["lines"] = [_line_dict(line) for line in self.lines]
        return out


def _station_dict(s: Station) -> dict[str, Any]:
    d: dict[str, Any] = {"name": s.name}
    if s.names:
        d["names"] = dict(s.names)
    if s.codes:
        d["codes"] = dict(s.codes)
    if s.lonlat is not None:
        d["lonlat"] = list(s.lonlat)
    if s.xy is not None:
        d["xy"] = list(s.xy)
    return d


def _line_dict(line: Line) -> dict[str, Any]:
    d: dict[str, Any] = {"id": line.id, "name": line.name}
    if line.names:
        d["names"] = dict(line.names)
    if line.code:
        d["code"] = line.code
    d["color"] = line.color
    if line.loop:
        d["loop"] = True
    d["segments"] = [list(seg) for seg in line.segments]
    if line.uncertain_segments:
        d["uncertain_segments"] = sorted(line.uncertain_segments)
    if line.patterns:
        d["patterns"] = [_pattern_dict(p) for p in line.patterns]
    return d


def _pattern_dict(p: Pattern) -> dict[str, Any]:
    d: dict[str, Any] = {"stops": list(p.stops)}
    if p.direction is not None:
        d["direction"] = p.direction
    if p.trips is not None:
        d["trips"] = p.trips
    return d


# ---------------------------------------------------------------- loading

def load(path: str | Path) -> Annotation:
    """Read, schema-check and semantically check one annotation file.

    Raises AnnotationError listing every problem; warnings land on ``.warnings``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AnnotationError(Problem(str(path), "", "file not found", "check the path, or run `mapkit import` to create it")) from None
    except IsADirectoryError:
        raise AnnotationError(Problem(str(path), "", "is a folder, not an annotation file", "pass the .json file inside it")) from None
    except OSError as e:
        raise AnnotationError(Problem(str(path), "", f"cannot be read ({e.strerror})", "check its permissions")) from None
    return loads(raw, source=str(path), path=path)


def loads(raw: bytes | str | Mapping[str, Any], *, source: str = "<annotation>", path: Path | None = None) -> Annotation:
    """Like ``load`` for bytes, text or an already parsed dict; ``source`` names it in messages."""
    data = raw if isinstance(raw, Mapping) else _parse_json(raw, source)
    errors = _schema_problems(data, source)
    if errors:
        raise AnnotationError(errors)
    problems = list(_semantic_problems(data, source, path))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise AnnotationError(errors)
    return _build(data, path, tuple(p for p in problems if p.severity == "warning"))


def dump(annotation: Annotation, path: str | Path) -> None:
    """Write an annotation as pretty JSON, atomically (a crash leaves the old file)."""
    path = Path(path)
    text = json.dumps(annotation.to_dict(), ensure_ascii=False, indent=2) + "\n"
    atomic_write_text(path, text)


def _parse_json(raw: bytes | str, source: str) -> Any:
    if isinstance(raw, bytes):
        if not raw.strip():
            raise AnnotationError(Problem(source, "", "file is empty", "an annotation is a JSON object; see annotations/tokyo.json"))
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise AnnotationError(Problem(source, "", f"not UTF-8 text (byte {e.start})", "save the file as UTF-8 JSON")) from None
    if not raw.strip():
        raise AnnotationError(Problem(source, "", "file is empty", "an annotation is a JSON object; see annotations/tokyo.json"))

    def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        counts = Counter(k for k, _ in pairs)
        dupes = [k for k, n in counts.items() if n > 1]
        if dupes:
            raise _DuplicateKey(dupes[0])
        return dict(pairs)

    try:
        return json.loads(raw, object_pairs_hook=no_duplicate_keys)
    except _DuplicateKey as e:
        raise AnnotationError(Problem(source, "", f"key {e.key!r} appears twice in one object", "JSON keeps only one of them: merge or rename the "
                                                                                                "entries")) from None
    except json.JSONDecodeError as e:
        raise AnnotationError(Problem(source, f"line {e.lineno} column {e.colno}", f"not valid JSON: {e.msg}", "fix the syntax there")) from None
    except RecursionError:
        raise AnnotationError(Problem(source, "", "JSON nested too deeply", "an annotation is a flat object of stations and lines")) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(resources.files("mapkit.schemas").joinpath("annotation.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


@lru_cache(maxsize=1)
def _fast_is_valid() -> Any:
    """The annotation schema compiled by jsonschema-rs, when installed: it only tells valid
    from invalid (~20x faster than jsonschema on a city), so a valid annotation skips the
    generic validator and an invalid one still gets jsonschema's messages."""
    try:
        import jsonschema_rs
    except ImportError:  # an optional speed-up
        return None
    schema = json.loads(resources.files("mapkit.schemas").joinpath("annotation.schema.json").read_text("utf-8"))
    return jsonschema_rs.validator_for(schema).is_valid


def _json_path(parts: Iterator[Any] | Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _schema_problems(data: Any, source: str) -> list[Problem]:
    if not isinstance(data, dict):
        return [Problem(source, "(top level)", f"expected a JSON object, found {type(data).__name__}", "an annotation is an object with city, stations "
                                                                                                       "and lines")]
    fast = _fast_is_valid()
    if fast is not None and fast(data):
        return []
    problems = []
    for err in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(Problem(source, _json_path(err.absolute_path), _schema_message(err), _schema_hint(err)))
        if len(problems) >= 50:
            break
    return problems


def _schema_message(err: jsonschema.ValidationError) -> str:
    shown = repr(err.instance)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if err.validator == "required":
        return err.message
    if err.validator == "additionalProperties":
        return err.message
    if err.validator == "pattern":
        return f"{shown} does not match the expected form"
    if err.validator == "type":
        return f"{shown} should be of type {err.validator_value}"
    return f"{shown}: {err.message}" if shown not in err.message else err.message


_HINTS = {
    "color": "write colours as #RRGGBB, e.g. #F39700",
    "lonlat": "write [longitude, latitude] in degrees, longitude first",
    "xy": "write [x, y] in image pixels, both >= 0",
    "city": "use a lower-case slug such as new_york",
    "language": "use a language tag such as en, zh or ja",
}


def _schema_hint(err: jsonschema.ValidationError) -> str:
    for part in reversed(list(err.absolute_path)):
        if part in _HINTS:
            return _HINTS[part]
    if err.validator == "required":
        return "add the missing field"
    if err.validator == "additionalProperties":
        return "remove or rename the unknown field (see mapkit/schemas/annotation.schema.json)"
    return "see mapkit/schemas/annotation.schema.json"


def _semantic_problems(data: dict[str, Any], source: str, path: Path | None) -> Iterator[Problem]:
    stations: dict[str, Any] = data["stations"]
    lines: list[dict[str, Any]] = data["lines"]

    def err(where: str, message: str, hint: str) -> Problem:
        return Problem(source, where, message, hint)

    def warn(where: str, message: str, hint: str = "") -> Problem:
        return Problem(source, where, message, hint, "warning")

    seen_ids: dict[str, int] = {}
    served: dict[str, set[str]] = {sid: set() for sid in stations}
    for i, line in enumerate(lines):
        where = f"lines[{i}]"
        if line["id"] in seen_ids:
            yield err(f"{where}.id", f"line id {line['id']!r} is also used by lines[{seen_ids[line['id']]}]", "give every line its own id")
        seen_ids.setdefault(line["id"], i)
        on_line: set[str] = set()
        for j, segment in enumerate(line["segments"]):
            seg_where = f"{where}.segments[{j}]"
            if len(segment) < 2:
                yield err(seg_where, f"segment has {len(segment)} station(s)", "a segment joins at least two stations; delete it or add its stations")
            repeated: set[str] = set()
            for k, sid in enumerate(segment):
                if sid not in stations:
                    yield err(f"{seg_where}[{k}]", f"unknown station id {sid!r}", "add it under `stations` or fix the id")
                    continue
                if sid in repeated:
                    hint = "a loop is written once with \"loop\": true" if k == len(segment) - 1 and sid == segment[0] else "two physical stations need two ids"
                    yield err(f"{seg_where}[{k}]", f"station {sid!r} appears twice in this segment", hint)
                repeated.add(sid)
            if j > 0 and segment and segment[0] in stations and segment[0] not in on_line:
                yield err(f"{seg_where}[0]", f"branch starts at {segment[0]!r}, which is not on an earlier segment of line {line['id']!r}",
                          "a branch segment begins at its fork station on the trunk")
            on_line.update(s for s in segment if s in stations)
        for idx in line.get("uncertain_segments", []):
            if idx >= len(line["segments"]):
                yield err(f"{where}.uncertain_segments", f"segment index {idx} does not exist", f"the line has {len(line['segments'])} segment(s)")
        if line.get("loop") and len(line["segments"][0]) < 3:
            yield err(f"{where}.loop", "a loop needs at least three stations", "remove \"loop\" or add the stations")
        if ("patterns" in line or "names" in line) and data.get("schema_version") != 2:
            yield err(where, "`patterns` and line `names` are schema version 2", "add \"schema_version\": 2 at the top of the file")
        yield from _pattern_problems(line, where, on_line, stations, err)
        for sid in on_line:
            served[sid].add(line["id"])

    line_ids = set(seen_ids)
    code_owner: dict[tuple[str, str], str] = {}
    for sid, st in stations.items():
        for line_id, code in st.get("codes", {}).items():
            other = code_owner.setdefault((line_id, code), sid)
            if other != sid:
                yield err(f"stations.{sid}.codes.{line_id}", f"code {code!r} on line {line_id!r} is also given to station {other!r}",
                          "each station code names one station; fix the code of one of them")
    image = data.get("image")
    names = Counter(name_key(s["name"]) for s in stations.values())
    spellings: dict[str, set[str]] = {}
    for st in stations.values():
        spellings.setdefault(name_key(st["name"]), set()).add(st["name"])
    yield from control_problems(data, source)
    for sid, st in stations.items():
        where = f"stations.{sid}"
        for line_id in st.get("codes", {}):
            if line_id not in line_ids:
                yield err(f"{where}.codes.{line_id}", f"code given for unknown line {line_id!r}", f"use a line id: {', '.join(sorted(line_ids))}")
            elif line_id not in served[sid]:
                yield err(f"{where}.codes.{line_id}", f"station has a code on line {line_id!r} but is not on that line", "add it to the line's "
                                                                                                                         "segments or drop the code")
        if image and "xy" in st:
            x, y = st["xy"]
            if not (0 <= x < image["width"] and 0 <= y < image["height"]):
                yield err(f"{where}.xy", f"[{x}, {y}] lies outside the {image['width']}x{image['height']} image", "re-measure the pixel position on "
                                                                                                                  "the map image")
        if "lonlat" in st and not all(math.isfinite(v) for v in st["lonlat"]):
            yield err(f"{where}.lonlat", "coordinates must be finite numbers", "write [longitude, latitude] in degrees")
        if not served[sid]:
            yield warn(where, "station is on no line", "add it to a line's segments or delete it")
        elif len(served[sid]) == 1 and any(w in st["name"].casefold() for w in _TRANSFER_WORDS):
            yield warn(f"{where}.name", "named like a transfer but served by one line only", "check the line memberships or the name")
        if names[name_key(st["name"])] > 1:
            others = sorted(spellings[name_key(st["name"])] - {st["name"]})
            shared = (f"display name {st['name']!r} is shared with another station" if not others else
                      f"display name {st['name']!r} reads the same as {others[0]!r} (Unicode form, case or spaces differ)")
            yield warn(f"{where}.name", shared, "questions naming it are left out as ambiguous")

    for i, line in enumerate(lines):
        for idx in line.get("uncertain_segments", []):
            if idx < len(line["segments"]):
                yield warn(f"lines[{i}].segments[{idx}]", "station order marked uncertain", "questions that depend on this order are not generated")

    if image and path is not None:
        file = (path.parent / image["file"])
        if not file.is_file():
            yield warn("image.file", f"map image {image['file']!r} not found next to the annotation", "fix the path or the build renders a map instead")

    components = _components(stations, lines)
    if len(components) > 1:
        sizes = sorted((len(c) for c in components), reverse=True)
        yield warn("lines", f"the network falls into {len(components)} disconnected parts (sizes {sizes})",
                   "routes between parts do not exist; check for missing shared stations")


def _pattern_problems(line: dict[str, Any], where: str, on_line: set[str], stations: Mapping[str, Any], err) -> Iterator[Problem]:
    """A pattern rides its line: its stations are on the segments, none repeats (a loop
    may end at its start), and every station of the segments is served by a pattern."""
    served: set[str] = set()
    for j, pattern in enumerate(line.get("patterns", [])):
        stops = pattern["stops"]
        p_where = f"{where}.patterns[{j}].stops"
        body = stops[:-1] if len(stops) >= 4 and stops[0] == stops[-1] else stops
        seen: set[str] = set()
        for k, sid in enumerate(body):
            if sid not in stations:
                yield err(f"{p_where}[{k}]", f"unknown station id {sid!r}", "add it under `stations` or fix the id")
            elif sid not in on_line:
                yield err(f"{p_where}[{k}]", f"station {sid!r} is not on the segments of line {line['id']!r}",
                          "add it to a segment (the drawn line) or remove it from the pattern")
            if sid in seen:
                yield err(f"{p_where}[{k}]", f"station {sid!r} appears twice in this pattern",
                          "split the pattern where it revisits a station; only a loop ends at its first station")
            seen.add(sid)
        served.update(seen)
    if line.get("patterns"):
        unserved = sorted(on_line - served)
        if unserved:
            yield err(f"{where}.patterns", f"station(s) {', '.join(map(repr, unserved[:5]))} are on the segments but on no pattern",
                      "riders could not board there: add them to a pattern or drop them from the segments")


def _components(stations: Mapping[str, Any], lines: list[dict[str, Any]]) -> list[set[str]]:
    # Union-find keeps validation free of networkx, which graph.py already uses for queries.
    parent = {sid: sid for sid in stations}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for line in lines:
        for segment in line["segments"]:
            for a, b in zip(segment, segment[1:]):
                if a in parent and b in parent:
                    parent[find(a)] = find(b)
    groups: dict[str, set[str]] = {}
    for sid in stations:
        groups.setdefault(find(sid), set()).add(sid)
    served = {s for line in lines for seg in line["segments"] for s in seg}
    return [g for g in groups.values() if g & served]


def _build(data: dict[str, Any], path: Path | None, warnings: tuple[Problem, ...]) -> Annotation:
    stations = {
        sid: Station(
            id=sid,
            name=st["name"],
            names=MappingProxyType(dict(st.get("names", {}))),
            codes=MappingProxyType(dict(st.get("codes", {}))),
            lonlat=tuple(st["lonlat"]) if "lonlat" in st else None,
            xy=tuple(st["xy"]) if "xy" in st else None,
        )
        for sid, st in data["stations"].items()
    }
    lines = tuple(
        Line(
            id=ln["id"],
            name=ln["name"],
            color=ln["color"].upper(),
            segments=tuple(tuple(seg) for seg in ln["segments"]),
            loop=bool(ln.get("loop", False)),
            code=ln.get("code"),
            uncertain_segments=frozenset(ln.get("uncertain_segments", [])),
            patterns=tuple(Pattern(tuple(p["stops"]), p.get("direction"), p.get("trips")) for p in ln.get("patterns", [])),
            names=MappingProxyType(dict(ln.get("names", {}))),
        )
        for ln in data["lines"]
    )
    image = data.get("image")
    return Annotation(
        city=data["city"],
        country=data["country"],
        name=data["name"],
        language=data["language"],
        license=data["license"],
        source=data["source"],
        stations=MappingProxyType(stations),
        lines=lines,
        image=ImageInfo(image["file"], image["width"], image["height"], image.get("sha256")) if image else None,
        notes=tuple(data.get("notes", [])),
        path=path.resolve() if path else None,
        warnings=warnings,
    )


def find_city(city: str, annotations_dir: str | Path = "annotations") -> Path:
    """Path of ``<annotations_dir>/<city>.json``, with a helpful error when it is missing.
    ``city`` must be a slug (mapkit.names), so it never names a path outside the folder."""
    from mapkit.names import check_city

    check_city(city)
    folder = Path(annotations_dir)
    path = folder / f"{city}.json"
    if path.is_file():
        return path
    known = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
    hint = f"known cities: {', '.join(known)}" if known else f"no annotations in {folder}; pass --annotations DIR"
    raise AnnotationError(Problem(str(path), "", f"no annotation for city {city!r}", hint))
