"""GTFS import: tests write their own small feeds (never downloaded)."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from mapkit.annotation import load
from mapkit.errors import MapkitError, SourceError
from mapkit.graph import TransitMap
from mapkit.importers.gtfs import import_gtfs, parse_route_types


def write_feed(path: Path, tables: dict[str, list[list[str]]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, rows in tables.items():
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            zf.writestr(f"{name}.txt", buf.getvalue())
    return path


def demo_tables() -> dict[str, list[list[str]]]:
    """A subway line with platforms under parent stations, a tram without colour that
    crosses it, a ring line (extended route type 401), and a bus that must be left out."""
    stops = [
        ["stop_id", "stop_name", "stop_lat", "stop_lon", "location_type", "parent_station"],
        ["S_A", "Alpha", "48.000", "2.000", "1", ""],
        ["A1", "Alpha", "48.0001", "2.0001", "0", "S_A"],
        ["A2", "Alpha", "47.9999", "1.9999", "0", "S_A"],
        ["S_B", "Bravo", "48.000", "2.010", "1", ""],
        ["B1", "Bravo", "48.000", "2.010", "0", "S_B"],
        ["C1", "Central", "48.000", "2.020", "0", ""],
        ["C2", "Central", "48.0005", "2.0202", "0", ""],  # same name, no parent, 60 m away: one station
        ["D1", "Delta", "48.000", "2.030", "0", ""],
        ["E1", "Echo", "48.010", "2.020", "0", ""],
        ["F1", "Foxtrot", "47.990", "2.020", "0", ""],
        ["G1", "Golf", "48.010", "2.030", "0", ""],
        ["H1", "Hotel", "47.990", "2.030", "0", ""],
        ["ENT", "Central entrance", "48.0004", "2.0201", "2", "C1"],
        ["X1", "Xray", "48.050", "2.050", "0", ""],
        ["FAR", "Central", "48.300", "2.300", "0", ""],  # same name, 40 km away: another station
        ["W1", "Whiskey", "48.3", "2.31", "0", ""],
    ]
    routes = [
        ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type", "route_color"],
        ["r1", "ag", "1", "Line One", "1", "FFCD00"],
        ["r2", "ag", "T2", "", "0", ""],
        ["r3", "ag", "99", "Bus 99", "3", "000000"],
        ["r4", "ag", "L", "Ring", "401", "00a0e9"],
        ["r5", "ag", "T9", "Far Tram", "900", "123456"],
    ]
    trips = [["route_id", "service_id", "trip_id", "direction_id"]]
    stop_times = [["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"]]

    def trip(route: str, trip_id: str, direction: int, stops_: list[str]) -> None:
        trips.append([route, "wk", trip_id, str(direction)])
        for k, s in enumerate(stops_):
            # stop_sequence need not start at 1 or be contiguous
            stop_times.append([trip_id, f"08:{k:02d}:00", f"08:{k:02d}:00", s, str(10 * k + 5)])

    for n in range(3):
        trip("r1", f"r1o{n}", 0, ["A1", "B1", "C1", "D1"])
        trip("r1", f"r1i{n}", 1, ["D1", "C2", "B1", "A2"])
    trip("r1", "r1short", 0, ["B1", "C1"])  # a short working: not the most common pattern
    for n in range(2):
        trip("r2", f"r2o{n}", 0, ["E1", "C1", "F1"])
        trip("r2", f"r2i{n}", 1, ["F1", "C2", "E1"])
    trip("r3", "bus", 0, ["A1", "X1"])
    for n in range(2):
        trip("r4", f"r4{n}", 0, ["C1", "G1", "D1", "H1", "C1"])
    trip("r5", "far", 0, ["FAR", "W1"])
    return {
        "agency": [["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"],
                   ["ag", "Demo Transit", "http://example.invalid", "Europe/Paris", "fr"]],
        "stops": stops, "routes": routes, "trips": trips, "stop_times": stop_times,
        "calendar": [["service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                      "start_date", "end_date"], ["wk", "1", "1", "1", "1", "1", "0", "0", "20250101", "20251231"]],
    }


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_feed(tmp_path / "feed.zip", demo_tables())


def test_import_builds_lines_stations_and_validates(feed: Path, tmp_path: Path):
    result = import_gtfs(feed, "demo", tmp_path / "out")
    assert result.path == tmp_path / "out" / "demo.json"
    a = load(result.path)  # validates like a hand-written file
    lines = {ln.id: ln for ln in a.lines}
    assert set(lines) == {"1", "T2", "L", "T9"}  # the bus is left out
    # riders say "1": the short name is the name, the long one is kept
    assert lines["1"].name == "1" and lines["1"].names == {"long": "Line One"} and lines["1"].color == "#FFCD00"
    assert lines["L"].color == "#00A0E9" and lines["L"].loop
    assert lines["L"].segments == (("central", "golf", "delta", "hotel"),)
    # most common pattern, platforms collapsed: A1/A2 -> alpha, C1/C2 -> central
    assert lines["1"].segments == (("alpha", "bravo", "central", "delta"),)
    assert a.station("alpha").lonlat == (2.0, 48.0)  # the parent station's position
    assert "xray" not in a.stations  # only served by the bus
    # same name far away: a distinct station
    far = [sid for sid, s in a.stations.items() if s.name == "Central" and sid != "central"]
    assert far == ["central-2"]
    assert lines["T9"].segments == (("central-2", "whiskey"),)
    # a feed without a colour gets one from the palette and says so
    assert lines["T2"].color.startswith("#") and any("route_color" in w for w in result.warnings)
    assert a.language == "fr" and "Demo Transit" in a.name
    tm = TransitMap.from_annotation(a)
    assert tm.lines_through("central") == ["1", "T2", "L"]
    assert tm.routes("alpha", "golf")[0].transfers == 1


def test_other_direction_adds_branch(tmp_path: Path):
    tables = demo_tables()
    # direction 1 of line 1 runs via a station direction 0 never serves
    tables["stops"].append(["Y1", "Yankee", "48.005", "2.025", "0", ""])
    tables["stop_times"] = [r for r in tables["stop_times"] if not r[0].startswith("r1i")]
    for n in range(3):
        for k, s in enumerate(["D1", "Y1", "C2", "B1", "A2"]):
            tables["stop_times"].append([f"r1i{n}", "09:00:00", "09:00:00", s, str(k + 1)])
    result = import_gtfs(write_feed(tmp_path / "f.zip", tables), "demo", tmp_path)
    line = result.annotation.line("1")
    assert line.segments == (("alpha", "bravo", "central", "delta"), ("central", "yankee", "delta"))


def test_route_types_option(feed: Path, tmp_path: Path):
    result = import_gtfs(feed, "demo", tmp_path, route_types="bus")
    assert [ln.id for ln in result.annotation.lines] == ["99"]
    assert parse_route_types("subway") >= {1, 401}
    assert parse_route_types("0, 900") == {0, 900}
    with pytest.raises(MapkitError, match="unknown route type 'hovercraft'"):
        parse_route_types("hovercraft")
    with pytest.raises(SourceError, match="no routes of the kept types.*route types"):
        import_gtfs(feed, "demo", tmp_path, route_types="ferry")


def test_feed_folder_and_bad_inputs(tmp_path: Path):
    folder = tmp_path / "feed"
    folder.mkdir()
    for name, rows in demo_tables().items():
        with (folder / f"{name}.txt").open("w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
    assert len(import_gtfs(folder, "demo", tmp_path / "o").annotation.lines) == 4

    with pytest.raises(SourceError, match="not found"):
        import_gtfs(tmp_path / "nope.zip", "demo", tmp_path)
    (tmp_path / "junk.zip").write_text("not a zip")
    with pytest.raises(SourceError, match="not a zip file"):
        import_gtfs(tmp_path / "junk.zip", "demo", tmp_path)
    tables = demo_tables()
    del tables["stop_times"]
    with pytest.raises(SourceError, match="lacks stop_times.txt"):
        import_gtfs(write_feed(tmp_path / "partial.zip", tables), "demo", tmp_path)
    with zipfile.ZipFile(tmp_path / "nested.zip", "w") as zf:
        zf.writestr("gtfs/stops.txt", "stop_id,stop_name,stop_lat,stop_lon\n")
    with pytest.raises(SourceError, match="inside a folder"):
        import_gtfs(tmp_path / "nested.zip", "demo", tmp_path)
    with pytest.raises(MapkitError, match="not a valid name"):
        import_gtfs(folder, "New York", tmp_path)


def test_cli_import_gtfs_render_and_build(feed: Path, tmp_path: Path, run_cli):
    """A city imported from GTFS renders and builds end to end."""
    ann = tmp_path / "ann"
    code, out, err = run_cli("import", "gtfs", feed, "--city", "demo", "--out", ann)
    assert code == 0, err
    assert "demo.json: 10 stations, 4 lines" in out and "route r1 -> line 1 (1): 2 of 3 pattern(s) kept, 7 of 7 trips covered" in out
    code, out, err = run_cli("render", "--city", "demo", "--annotations", ann, "--out", tmp_path / "demo.png", "--width", "1000")
    assert code == 0, err
    geometry = json.loads((tmp_path / "demo.geometry.json").read_text())
    assert set(geometry["stations"]) == set(load(ann / "demo.json").stations)
    code, out, err = run_cli("build", "--city", "demo", "--annotations", ann, "--out", tmp_path / "ds", "--per-type", "2")
    assert code == 0, err
    assert (tmp_path / "ds" / "maps").is_dir() and any((tmp_path / "ds" / "maps").glob("*.png"))
    assert any((tmp_path / "ds" / "data").glob("*.parquet"))


def test_cli_import_gtfs_error_is_one_line(tmp_path: Path, run_cli):
    code, _, err = run_cli("import", "gtfs", tmp_path / "missing.zip", "--city", "demo", "--out", tmp_path)
    assert code == 1
    assert "GTFS feed not found" in err and "Traceback" not in err


def test_long_name_when_no_short_name(tmp_path: Path):
    tables = demo_tables()
    tables["routes"][1] = ["r1", "ag", "", "Line One", "1", "FFCD00"]
    line = next(ln for ln in import_gtfs(write_feed(tmp_path / "f.zip", tables), "demo", tmp_path).annotation.lines
                if ln.color == "#FFCD00")
    assert line.name == "Line One" and dict(line.names) == {} and line.id == "r1"
