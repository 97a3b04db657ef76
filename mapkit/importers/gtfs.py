"""Import a GTFS feed into a native annotation: a first draft of a city instead of typing it.

The feed is read with gtfs-kit. What becomes of it:

- Routes: those whose ``route_type`` is kept (subway/metro, light rail and tram by
  default, basic and extended GTFS types alike); each becomes a line with its
  colour (a default palette when the feed has none), ``route_short_name`` as name
  (what riders say: "2", not "7 Avenue Express"; ``route_long_name`` is kept in the
  line's ``names.long``, and is the name when there is no short one).
- Patterns (schema v2): per route and direction, every stop sequence run by at least
  ``min_trip_share`` of the trips (``mapkit.importers.patterns``), in its direction of
  travel, so the line is one-way per pattern and every question holds for the trips
  that run. ``report`` gets one ``RouteReport`` per route (patterns kept, trips covered,
  stations left out).
- Segments (what is drawn): the most used pattern is the trunk; stations other patterns
  (the other direction included) visit that it does not become branch segments starting
  where they leave the line. A trip that ends where it started makes the line a loop.
- Stations: platforms (stops with a ``parent_station``) collapse into their parent
  station; stops without a parent that share a name and lie within 400 m of each other
  are taken as one station too. ``lonlat`` comes from the station (or the mean of its
  platforms), ids are slugs of the names.

The result is validated like a hand-written file before it is written.
"""
from __future__ import annotations

import math
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mapkit.annotation import Annotation, dump, loads
from mapkit.errors import AnnotationError, MapkitError, SourceError
from mapkit.importers.patterns import DEFAULT_MIN_TRIP_SHARE, RouteReport, check_share, select
from mapkit.names import check_city, slug_id

# Basic route types and the extended (Google) ones that mean the same kind of service.
ROUTE_TYPE_NAMES: dict[str, set[int]] = {
    "tram": {0, *range(900, 907)},
    "light_rail": {0, 903, 405},
    "subway": {1, 400, 401, 402, 403, 404},
    "metro": {1, 400, 401, 402, 403, 404},
    "rail": {2, *range(100, 118)},
    "bus": {3, *range(200, 210), *range(700, 717)},
    "ferry": {4, 1000, 1200},
    "cable_tram": {5},
    "aerial": {6, *range(1300, 1308)},
    "funicular": {7, 1400},
    "trolleybus": {11, 800},
    "monorail": {12, 405},
}
DEFAULT_ROUTE_TYPES = ("subway", "light_rail", "tram")
SAME_NAME_RADIUS_M = 400.0
_REQUIRED = ("stops", "routes", "trips", "stop_times")


@dataclass(frozen=True)
class GtfsImport:
    city: str
    path: Path
    annotation: Annotation
    warnings: tuple[str, ...]
    routes: tuple[RouteReport, ...] = ()


def parse_route_types(spec: str | Iterable[str | int] | None) -> set[int]:
    """``"subway,tram"``, ``"1,0,900"`` or a list of either -> GTFS route_type codes."""
    if spec is None:
        spec = DEFAULT_ROUTE_TYPES
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    out: set[int] = set()
    for item in items:
        if not item:
            continue
        key = item.lower().replace("-", "_").replace(" ", "_")
        if key in ROUTE_TYPE_NAMES:
            out |= ROUTE_TYPE_NAMES[key]
        elif re.fullmatch(r"\d{1,4}", key):
            out.add(int(key))
        else:
            raise MapkitError(f"unknown route type {item!r}: use GTFS route_type numbers or names ({', '.join(ROUTE_TYPE_NAMES)})")
    if not out:
        raise MapkitError("no route types given; the default is subway,light_rail,tram")
    return out


def import_gtfs(feed_path: str | Path, city: str, out_dir: str | Path, *, route_types: str | Iterable[str | int] | None = None,
                country: str = "unknown", name: str | None = None, language: str | None = None,
                license: str | None = None, min_trip_share: float = DEFAULT_MIN_TRIP_SHARE) -> GtfsImport:
    """Read ``feed_path`` (a GTFS .zip or folder) and write ``out_dir/<city>.json``.

    Example::

        >>> result = import_gtfs("feed.zip", "lisbon", "annotations")   # doctest: +SKIP
        >>> result.path                                                   # doctest: +SKIP
        PosixPath('annotations/lisbon.json')
    """
    check_city(city)
    reports: list[RouteReport] = []
    data, warnings = convert_feed(feed_path, city=city, route_types=route_types, country=country, name=name,
                                  language=language, license=license, min_trip_share=min_trip_share, report=reports)
    try:
        annotation = loads(data, source=f"{city}.json (from {Path(feed_path).name})")
    except AnnotationError as e:  # a bug here, or a feed too odd to convert: say which
        raise SourceError(f"{feed_path}: the converted annotation does not validate:\n{e}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{city}.json"
    dump(annotation, path)
    return GtfsImport(city, path, annotation, tuple(warnings), tuple(reports))


def read_feed(feed_path: str | Path):
    """The feed as a gtfs-kit Feed; SourceError when it is not a readable GTFS feed."""
    import gtfs_kit as gk
    import pandas as pd

    path = Path(feed_path)
    if not path.exists():
        raise SourceError(f"{path}: GTFS feed not found (give the path of a .zip or of a folder of .txt files)")
    if path.is_file() and not zipfile.is_zipfile(path):
        raise SourceError(f"{path}: not a zip file; a GTFS feed is a .zip of stops.txt, routes.txt, trips.txt, stop_times.txt, ...")
    import tempfile

    from mapkit.importers.gtfs_files import stage_feed

    with tempfile.TemporaryDirectory(prefix="mapkit-gtfs-") as tmp:
        staged = stage_feed(path, Path(tmp) / "feed")  # only the tables used, capped (gtfs_files)
        try:
            # Only ever a local path: read_feed would try the string as a URL if the path vanished.
            feed = gk.read_feed(staged, dist_units="km")
        except (ValueError, KeyError, OSError, zipfile.BadZipFile, UnicodeDecodeError, pd.errors.ParserError) as e:
            raise SourceError(f"{path}: cannot read the GTFS feed ({e})") from None
    missing = [t for t in _REQUIRED if getattr(feed, t, None) is None or len(getattr(feed, t)) == 0]
    if missing:
        raise SourceError(f"{path}: GTFS feed lacks {', '.join(m + '.txt' for m in missing)} (or they are empty); "
                          f"a feed needs {', '.join(t + '.txt' for t in _REQUIRED)}")
    for table, cols in (("stops", ("stop_id", "stop_name", "stop_lat", "stop_lon")), ("routes", ("route_id", "route_type")),
                        ("trips", ("route_id", "trip_id")), ("stop_times", ("trip_id", "stop_id", "stop_sequence"))):
        lacking = [c for c in cols if c not in getattr(feed, table).columns]
        if lacking:
            raise SourceError(f"{path}: {table}.txt has no column {', '.join(lacking)}")
    return feed


def convert_feed(feed_path: str | Path, *, city: str, route_types=None, country: str = "unknown", name: str | None = None,
                 language: str | None = None, license: str | None = None, min_trip_share: float = DEFAULT_MIN_TRIP_SHARE,
                 report: list[RouteReport] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The native annotation dict for a feed, and warnings about what was dropped or guessed."""
    from mapkit.importers.reasonmap import palette

    min_trip_share = check_share(min_trip_share)
    feed = read_feed(feed_path)
    types = parse_route_types(route_types)
    warnings: list[str] = []

    routes = feed.routes.copy()
    routes["route_type"] = routes["route_type"].astype("Int64")
    kept = routes[routes["route_type"].isin(sorted(types))]
    if kept.empty:
        present = sorted({int(t) for t in routes["route_type"].dropna()})
        raise SourceError(f"{feed_path}: no routes of the kept types ({', '.join(map(str, sorted(types)))}); "
                          f"the feed has route types {present}: choose some with --route-types")
    kept = kept.sort_values("route_id", kind="stable")

    station_of, station_rows = _stations(feed)
    trips = feed.trips[feed.trips["route_id"].isin(kept["route_id"])]
    if "direction_id" not in trips.columns:
        trips = trips.assign(direction_id=0)
    trips = trips.assign(direction_id=trips["direction_id"].fillna(0).astype(int))
    st = feed.stop_times[feed.stop_times["trip_id"].isin(trips["trip_id"])][["trip_id", "stop_id", "stop_sequence"]]
    st = st.sort_values(["trip_id", "stop_sequence"], kind="stable")
    unknown_stops = sorted(set(st["stop_id"]) - set(station_of))
    if unknown_stops:
        warnings.append(f"{len(unknown_stops)} stop_id(s) in stop_times.txt are not in stops.txt (e.g. {unknown_stops[0]!r}); skipped")
    sequences: dict[str, tuple[str, ...]] = {}
    for trip_id, group in st.groupby("trip_id", sort=True):
        seq: list[str] = []
        for stop in group["stop_id"]:
            sid = station_of.get(stop)
            if sid is not None and (not seq or seq[-1] != sid):
                seq.append(sid)
        if len(seq) >= 2:
            sequences[trip_id] = tuple(seq)

    lines: list[dict[str, Any]] = []
    used_ids: set[str] = set()
    used_stations: set[str] = set()
    for k, route in enumerate(kept.itertuples(index=False)):
        rid = str(route.route_id)
        short = _text(getattr(route, "route_short_name", None))
        long = _text(getattr(route, "route_long_name", None))
        label = short or long or rid
        by_direction: dict[int, Counter] = {}
        for trip in trips[trips["route_id"] == route.route_id].itertuples(index=False):
            seq = sequences.get(trip.trip_id)
            if seq:
                by_direction.setdefault(int(trip.direction_id), Counter())[seq] += 1
        if not by_direction:
            warnings.append(f"route {rid} ({label}) has no trips with two or more stops; skipped")
            continue
        raw_kept, kept_patterns, total_trips, covered = select(by_direction, min_trip_share)
        # the most used pattern (either direction) is the drawn trunk
        raw_kept.sort(key=lambda kv: -kv[1])
        segments, loop = _segments([seq for seq, _ in raw_kept])
        drawn = {s for seg in segments for s in seg}
        pattern_list = []
        for p in kept_patterns:
            if set(p.stops) <= drawn:
                pattern_list.append({"stops": list(p.stops), "direction": p.direction, "trips": p.trips})
            else:  # a pattern sharing no station with the trunk is not this line
                covered -= p.trips
                warnings.append(f"route {rid} ({label}): a pattern of {p.trips} trip(s) shares no station with the rest; left out")
        served = {s for counter in by_direction.values() for seq in counter for s in seq}
        line_id = _unique(slug_id(short or rid, keep_case=True), used_ids)
        if report is not None:
            report.append(RouteReport(rid, line_id, label, total_trips, max(covered, 0), len(pattern_list),
                                      sum(len(c) for c in by_direction.values()), tuple(sorted(served - drawn))))
        color = _color(getattr(route, "route_color", None))
        if color is None:
            color = palette(k)
            warnings.append(f"route {rid} ({label}) has no route_color; using {color}")
        line: dict[str, Any] = {"id": line_id, "name": label}
        if long and long != label:
            line["names"] = {"long": long}
        if short and len(short) <= 4:
            line["code"] = short
        line["color"] = color
        if loop:
            line["loop"] = True
        line["segments"] = segments
        line["patterns"] = pattern_list
        lines.append(line)
        for seg in segments:
            used_stations.update(seg)
    if not lines:
        raise SourceError(f"{feed_path}: none of the kept routes has a trip with two or more stops")

    stations = {sid: row for sid, row in station_rows.items() if sid in used_stations}
    agency = feed.agency
    agency_name = _text(agency["agency_name"].iloc[0]) if agency is not None and "agency_name" in agency.columns and len(agency) else None
    lang = language or _feed_language(feed) or "en"
    data: dict[str, Any] = {
        "schema_version": 2,
        "city": city,
        "country": country,
        "name": name or (f"{agency_name} network" if agency_name else f"{city} network"),
        "language": lang,
        "license": license or "see the GTFS feed's licence",
        "source": f"GTFS feed {Path(feed_path).name}" + (f" ({agency_name})" if agency_name else "") + ", imported by mapkit",
        "notes": [f"imported from GTFS; route types kept: {', '.join(map(str, sorted(types & _present_types(kept))))}"],
        "stations": stations,
        "lines": lines,
    }
    return data, warnings


def _present_types(routes) -> set[int]:
    return {int(t) for t in routes["route_type"].dropna()}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        if value != value:  # NaN / NA
            return None
    except TypeError:
        return None
    text = str(value).strip()
    return text or None


def _color(value: Any) -> str | None:
    text = _text(value)
    if text and re.fullmatch(r"#?[0-9A-Fa-f]{6}", text):
        return "#" + text.lstrip("#").upper()
    return None


def _unique(base: str, used: set[str]) -> str:
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}-{n}", n + 1
    used.add(candidate)
    return candidate


def _feed_language(feed) -> str | None:
    for table, col in (("feed_info", "feed_lang"), ("agency", "agency_lang")):
        df = getattr(feed, table, None)
        if df is not None and col in df.columns and len(df):
            lang = _text(df[col].iloc[0])
            if lang and re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", lang.lower() if len(lang) <= 3 else lang):
                return lang.lower() if len(lang) <= 3 else lang
    return None


def _haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371000.0 * math.asin(math.sqrt(min(1.0, h)))


def _stations(feed) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """stop_id -> station id, and station id -> native station dict."""
    stops = feed.stops.copy()
    stops["stop_id"] = stops["stop_id"].astype(str)
    if "parent_station" not in stops.columns:
        stops["parent_station"] = None
    if "location_type" not in stops.columns:
        stops["location_type"] = 0
    rows = {r.stop_id: r for r in stops.itertuples(index=False)}

    def root(stop_id: str) -> str:
        seen = set()
        while True:
            parent = _text(rows[stop_id].parent_station)
            if parent is None or parent not in rows or parent in seen:
                return stop_id
            seen.add(stop_id)
            stop_id = parent

    # group platforms under their parent station
    groups: dict[str, list[str]] = {}
    for stop_id in sorted(rows):
        loc = rows[stop_id].location_type
        loc = 0 if _text(loc) is None else int(loc)
        if loc in (2, 3, 4):  # entrances, generic nodes, boarding areas: never a station of their own
            continue
        groups.setdefault(root(stop_id), []).append(stop_id)

    # stations without a parent that share a name and stand close together are one place
    def coords(stop_ids: list[str]) -> tuple[float, float] | None:
        pts = [(float(rows[s].stop_lon), float(rows[s].stop_lat)) for s in stop_ids
               if _text(rows[s].stop_lon) is not None and _text(rows[s].stop_lat) is not None]
        if not pts:
            return None
        return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)

    def place(root_id: str) -> tuple[float, float] | None:
        own = coords([root_id])
        return own if own is not None else coords(groups[root_id])

    by_name: dict[str, list[str]] = {}
    for root_id in groups:
        nm = (_text(rows[root_id].stop_name) or root_id).casefold()
        by_name.setdefault(nm, []).append(root_id)
    merged_into: dict[str, str] = {}
    for roots in by_name.values():
        clusters: list[list[str]] = []
        for r in roots:
            p = place(r)
            for cluster in clusters:
                q = place(cluster[0])
                if p is not None and q is not None and _haversine_m(p, q) <= SAME_NAME_RADIUS_M:
                    cluster.append(r)
                    break
            else:
                clusters.append([r])
        for cluster in clusters:
            for r in cluster:
                merged_into[r] = cluster[0]

    used: set[str] = set()
    station_id_of_root: dict[str, str] = {}
    station_rows: dict[str, dict[str, Any]] = {}
    for r in sorted(set(merged_into.values()), key=lambda x: ((_text(rows[x].stop_name) or x).casefold(), x)):
        name = _text(rows[r].stop_name) or r
        sid = _unique(slug_id(name), used)
        station_id_of_root[r] = sid
        members = [m for m, target in merged_into.items() if target == r]
        pts = [place(m) for m in members]
        pts = [p for p in pts if p is not None]
        entry: dict[str, Any] = {"name": name}
        if pts:
            lon = sum(p[0] for p in pts) / len(pts)
            lat = sum(p[1] for p in pts) / len(pts)
            if -180 <= lon <= 180 and -90 <= lat <= 90:
                entry["lonlat"] = [round(lon, 6), round(lat, 6)]
        station_rows[sid] = entry
    station_of: dict[str, str] = {}
    for root_id, members in groups.items():
        sid = station_id_of_root[merged_into[root_id]]
        for m in members:
            station_of[m] = sid
    return station_of, station_rows


def _split_repeats(seq: tuple[str, ...]) -> tuple[list[list[str]], bool]:
    """A pattern as runs without repeated stations; a trip back to its start is a loop."""
    loop = len(seq) >= 4 and seq[0] == seq[-1] and len(set(seq[:-1])) == len(seq) - 1
    if loop:
        return [list(seq[:-1])], True
    runs: list[list[str]] = [[]]
    for sid in seq:
        if sid in runs[-1]:
            runs.append([runs[-1][-1]] if runs[-1] else [])
            if sid in runs[-1]:
                continue
        runs[-1].append(sid)
    return [r for r in runs if len(r) >= 2], False


def _segments(patterns: list[tuple[str, ...]]) -> tuple[list[list[str]], bool]:
    """Segments of a line from its most common pattern per direction."""
    first, loop = _split_repeats(patterns[0])
    segments = [list(s) for s in first]
    on_line = {s for seg in segments for s in seg}
    for pattern in patterns[1:]:
        runs, other_loop = _split_repeats(tuple(reversed(pattern)))
        loop = loop or other_loop
        for run in runs:
            # stations of the other direction that the line does not reach yet: a branch
            # from the last station on the line, back to the next one if it rejoins
            k = 0
            while k < len(run):
                if run[k] in on_line:
                    k += 1
                    continue
                start = k
                while k < len(run) and run[k] not in on_line:
                    k += 1
                piece = run[start:k]
                fork = run[start - 1] if start > 0 else None
                rejoin = run[k] if k < len(run) else None
                seg = ([fork] if fork else []) + piece + ([rejoin] if rejoin and rejoin != fork else [])
                if fork is None:
                    if rejoin is None:
                        continue  # shares no station with the first direction: not one line
                    seg = [rejoin] + list(reversed(piece))  # branch written from where it meets the line
                if len(seg) >= 2:
                    segments.append(seg)
                    on_line.update(seg)
    return [seg for seg in segments if len(seg) >= 2], loop
