"""Direction-aware lines from GTFS: every generated item checked against the trips.

The feed is written here (no network): a subway route with local, express and a branch
run by a minority of trips; a second subway route of the same colour; a bus route whose
two directions use different stops; a one-way bus loop. The oracle below reads the trips
straight from the tables (a plain loop over stop_times), never from the graph code.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from mapkit.annotation import load, loads
from mapkit.errors import AnnotationError, DirectionError
from mapkit.graph import TransitMap
from mapkit.importers.gtfs import import_gtfs
from mapkit.questions import generate
from tests.test_gtfs import write_feed

# name -> (x, y) on a small grid; lonlat = (2 + x / 100, 48 + y / 100)
PLACES = {
    "Alpha": (0, 0), "Bravo": (1, 0), "Central": (2, 0), "Delta": (3, 0), "Echo": (4, 0),
    "Fern": (2, 1), "Grove": (2, 2), "Harbour": (0, 1.2), "Inlet": (4, -1),
    "Pine North": (1.3, -0.6), "Quay North": (2.7, -0.6), "Pine South": (1.3, -0.9), "Quay South": (2.7, -0.9),
    "Lark": (3.5, 0.8), "Marsh": (4.5, 1.2), "Nook": (4.8, 0.3), "Garage": (5, -2),
}


def feed_tables(*, garage_trips: int = 0) -> dict[str, list[list[str]]]:
    stops = [["stop_id", "stop_name", "stop_lat", "stop_lon", "location_type", "parent_station"]]
    for name, (x, y) in PLACES.items():
        sid = name.replace(" ", "_")
        if name == "Central":  # a station with one platform per subway route
            stops.append(["CEN", name, f"{48 + y / 100:.5f}", f"{2 + x / 100:.5f}", "1", ""])
            for plat in ("CEN_X", "CEN_Y"):
                stops.append([plat, name, f"{48 + y / 100:.5f}", f"{2 + x / 100:.5f}", "0", "CEN"])
        else:
            stops.append([sid, name, f"{48 + y / 100:.5f}", f"{2 + x / 100:.5f}", "0", ""])
    routes = [
        ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type", "route_color"],
        ["rx", "ag", "X", "Crosstown Local and Express", "1", "EE352E"],
        ["ry", "ag", "Y", "Harbour Line", "1", "EE352E"],  # same red as X
        ["b10", "ag", "10", "Pine - Quay", "3", "00933C"],
        ["b20", "ag", "20", "Lark Loop", "3", "00933C"],
    ]
    trips = [["route_id", "service_id", "trip_id", "direction_id"]]
    stop_times = [["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"]]
    counter = [0]

    def run(route: str, direction: int, names: list[str], times: int) -> None:
        for _ in range(times):
            counter[0] += 1
            trip_id = f"{route}-{counter[0]}"
            trips.append([route, "wk", trip_id, str(direction)])
            for k, name in enumerate(names):
                stop = {"rx": "CEN_X", "ry": "CEN_Y"}.get(route, "CEN") if name == "Central" else name.replace(" ", "_")
                stop_times.append([trip_id, f"08:{k:02d}:00", f"08:{k:02d}:00", stop, str(k + 1)])

    run("rx", 0, ["Alpha", "Bravo", "Central", "Delta", "Echo"], 14)  # local
    run("rx", 0, ["Alpha", "Central", "Echo"], 6)  # express
    run("rx", 0, ["Alpha", "Bravo", "Central", "Fern", "Grove"], 2)  # minority branch: 2 of 22 trips
    run("rx", 1, ["Echo", "Delta", "Central", "Bravo", "Alpha"], 14)
    run("rx", 1, ["Echo", "Central", "Alpha"], 6)
    run("rx", 1, ["Grove", "Fern", "Central", "Bravo", "Alpha"], 2)
    run("rx", 1, ["Echo", "Delta", "Garage"], garage_trips)  # to the depot: a pattern to leave out
    run("ry", 0, ["Harbour", "Central", "Inlet"], 5)
    run("ry", 1, ["Inlet", "Central", "Harbour"], 5)
    run("b10", 0, ["Alpha", "Pine North", "Quay North", "Echo"], 8)  # each direction on its own side of the road
    run("b10", 1, ["Echo", "Quay South", "Pine South", "Alpha"], 8)
    run("b20", 0, ["Delta", "Lark", "Marsh", "Nook", "Delta"], 6)  # one-way loop
    return {
        "agency": [["agency_id", "agency_name", "agency_url", "agency_timezone"],
                   ["ag", "Demo Transit", "http://example.invalid", "Europe/Paris"]],
        "stops": stops, "routes": routes, "trips": trips, "stop_times": stop_times,
    }


def trips_by_route(tables) -> dict[str, list[list[str]]]:
    """The oracle's view: route short name -> each trip as its station names in order."""
    name_of = {}
    parent = {}
    for row in tables["stops"][1:]:
        name_of[row[0]] = row[1]
        parent[row[0]] = row[5]
    short = {row[0]: row[2] for row in tables["routes"][1:]}
    route_of = {row[2]: row[0] for row in tables["trips"][1:]}
    rows = defaultdict(list)
    for trip_id, _, _, stop, seq in tables["stop_times"][1:]:
        rows[trip_id].append((int(seq), stop))
    out = defaultdict(list)
    for trip_id, seq in rows.items():
        names = [name_of[parent[s] or s] for _, s in sorted(seq)]
        out[short[route_of[trip_id]]].append(names)
    return out


def rides(trip: list[str], a: str, b: str) -> list[list[str]]:
    """Every ride from a to b on one trip: the stations passed between them."""
    return [trip[i + 1:j] for i in range(len(trip)) for j in range(i + 1, len(trip)) if trip[i] == a and trip[j] == b]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dir")
    tables = feed_tables()
    result = import_gtfs(write_feed(tmp / "feed.zip", tables), "demo", tmp / "ann", route_types="subway,bus")
    return result, tables


def test_patterns_kept_and_reported(imported):
    result, _ = imported
    a = load(result.path)
    x = a.line("X")
    assert x.name == "X" and x.names == {"long": "Crosstown Local and Express"} and x.one_way
    stops = {p.stops for p in x.patterns}
    assert ("alpha", "central", "echo") in stops  # express
    assert ("alpha", "bravo", "central", "fern", "grove") in stops  # the minority branch is kept
    assert {"fern", "grove"} <= set(x.station_ids)
    report = {r.line_id: r for r in result.routes}
    assert (report["X"].trips, report["X"].trips_covered, report["X"].patterns_kept) == (44, 44, 6)
    assert report["X"].stations_left_out == ()
    loop = a.line("20")
    assert loop.loop and [p.stops for p in loop.patterns] == [("delta", "lark", "marsh", "nook", "delta")]
    assert json.loads(result.path.read_text())["schema_version"] == 2


def test_min_trip_share_leaves_out_rare_patterns(tmp_path: Path):
    tables = feed_tables(garage_trips=1)
    feed = write_feed(tmp_path / "feed.zip", tables)
    result = import_gtfs(feed, "demo", tmp_path / "a", route_types="subway")
    report = {r.line_id: r for r in result.routes}["X"]
    # 1 depot run of 23 trips (4%) is under the default 5%
    assert report.trips == 45 and report.trips_covered == 44 and report.stations_left_out == ("garage",)
    strict = import_gtfs(feed, "demo", tmp_path / "b", route_types="subway", min_trip_share=0.2)
    report = {r.line_id: r for r in strict.routes}["X"]
    # 2 of 22 trips per direction run the branch: under 20%, so it goes and says so
    assert report.trips_covered == 40 and set(report.stations_left_out) == {"fern", "grove", "garage"}
    assert "fern" not in strict.annotation.stations


def test_direction_queries(imported):
    result, _ = imported
    tm = TransitMap.from_annotation(load(result.path))
    assert tm.on_common_line("pine-north", "quay-north")
    with pytest.raises(DirectionError):
        tm.on_common_line("quay-north", "pine-north")  # no bus runs that way on the north side
    with pytest.raises(DirectionError):
        tm.on_common_line("pine-north", "pine-south")  # one on each side of the road
    assert tm.stops_between("20", "lark", "nook") == ["marsh"]  # round the loop in its direction
    assert tm.stops_between("20", "nook", "delta") == []  # the loop closes at its first station
    with pytest.raises(DirectionError):
        tm.stops_between("20", "nook", "lark")  # no trip runs on through its terminus
    with pytest.raises(DirectionError):
        tm.stops_between("10", "quay-north", "pine-north")
    route = tm.routes("quay-south", "quay-north")[0]  # ride to Alpha against no direction, then back out
    assert [(s.line, s.departure, s.arrival) for s in route.sections] == [("10", "quay-south", "alpha"), ("10", "alpha", "quay-north")]


def test_every_item_holds_for_the_trips(imported):
    result, tables = imported
    trips = trips_by_route(tables)
    all_trips = [t for ts in trips.values() for t in ts]
    tm = TransitMap.from_annotation(load(result.path))
    records = generate(tm, seed=3, counts={"TorF1": 40, "TorF2": 30, "Counting1": 40, "Counting2": 20, "planning": 40})
    seen = defaultdict(int)
    for r in records:
        seen[r["type"]] += 1
        s1, s2 = r["station_1"], r["station_2"]
        if r["type"] == "TorF1":
            if r["answer"] == 1:
                assert any(rides(t, s1, s2) for t in all_trips), r["question"]
            else:
                assert not any(s1 in t and s2 in t for t in all_trips), r["question"]
        elif r["type"] == "TorF2":
            served = any(s1 in t for t in trips[r["line"]])
            assert served == bool(r["answer"]), r["question"]
        elif r["type"] == "Counting1":
            count = r["options"][r["answer"]]
            counts = {len(v) for t in trips[r["line"]] for v in rides(t, s1, s2)}
            assert counts == {count}, (r["question"], counts)
        elif r["type"] == "Counting2":
            assert r["answer"] == sum(any(s1 in t for t in ts) for ts in trips.values()), r["question"]
        elif r["type"] == "planning":
            for route in r["reference_routes"]:
                assert route[0]["departure_stop"] == s1 and route[-1]["arrival_stop"] == s2
                for sec, nxt in zip(route, route[1:]):
                    assert sec["arrival_stop"] == nxt["departure_stop"]
                for sec in route:
                    ridden = [v for t in trips[sec["route_name"]] for v in rides(t, sec["departure_stop"], sec["arrival_stop"])]
                    assert sec["via_stops"] in ridden, (r["question"], sec)
    assert all(seen[t] >= 5 for t in ("TorF1", "TorF2", "Counting1", "Counting2", "planning")), dict(seen)


def test_schema_v2_rules():
    base = {"schema_version": 2, "city": "x", "country": "c", "name": "X", "language": "en", "license": "l", "source": "s",
            "stations": {"a": {"name": "A"}, "b": {"name": "B"}, "c": {"name": "C"}},
            "lines": [{"id": "1", "name": "1", "color": "#112233", "segments": [["a", "b", "c"]],
                       "patterns": [{"stops": ["a", "b", "c"]}]}]}
    assert loads(base).line("1").one_way
    v1 = json.loads(json.dumps(base))
    v1["schema_version"] = 1
    with pytest.raises(AnnotationError, match="schema version 2"):
        loads(v1)
    bad = json.loads(json.dumps(base))
    bad["lines"][0]["patterns"] = [{"stops": ["a", "b"]}]
    with pytest.raises(AnnotationError, match="on no pattern"):
        loads(bad)
    bad["lines"][0]["patterns"] = [{"stops": ["a", "b", "c", "b"]}]
    with pytest.raises(AnnotationError, match="appears twice"):
        loads(bad)
    # a file without patterns still reads as version 1 and writes back as version 1
    plain = json.loads(json.dumps(base))
    del plain["lines"][0]["patterns"]
    plain["schema_version"] = 1
    assert loads(plain).to_dict()["schema_version"] == 1
