"""Answerability gate and line colours: what a question names must be readable on its image."""
from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mapkit.annotation import load, loads
from mapkit.dataset import build as build_module
from mapkit.dataset import gate
from mapkit.dataset.build import build_dataset
from mapkit.graph import TransitMap
from mapkit.questions import generate
from mapkit.render import render_map
from mapkit.render.colors import MIN_DELTA_E, delta_e, distinct_colors

COUNTS = {"TorF1": 12, "TorF2": 8, "Counting1": 8, "Counting2": 8, "planning": 8}


def crowded(rows: int = 4, cols: int = 6) -> dict:
    """Long names packed close together: at 400 px not every label fits."""
    stations, lines = {}, []
    colors = ["#E60012", "#0079C2", "#009944", "#F39700"]
    for r in range(rows):
        seg = []
        for c in range(cols):
            sid = f"s{r}{c}"
            stations[sid] = {"name": f"Long Crowded Station Name Number {r}{c} Grand Central Junction",
                             "lonlat": [2 + c * 0.002, 48 + r * 0.0015]}
            seg.append(sid)
        lines.append({"id": f"L{r}", "name": f"Line {r}", "color": colors[r], "segments": [seg]})
    for c, color in ((2, "#333333"), (cols - 1, "#9B7CB6")):
        lines.append({"id": f"V{c}", "name": f"Cross {c}", "color": color, "segments": [[f"s{r}{c}" for r in range(rows)]]})
    return {"city": "crowd", "country": "x", "name": "Crowded", "language": "en", "license": "CC0", "source": "test",
            "stations": stations, "lines": lines}


def named(record: dict) -> list[str]:
    args = json.loads(record["program"])["args"]
    return [args[k] for k in ("station", "station_1", "station_2") if k in args]


def test_build_drops_items_naming_unlabelled_stations(tmp_path: Path, monkeypatch):
    path = tmp_path / "crowd.json"
    path.write_text(json.dumps(crowded()))
    monkeypatch.setattr(build_module, "RENDER_WIDTH", 400)
    result = build_dataset([path], tmp_path / "ds", counts_by_type=COUNTS, warn=lambda m: None)
    geometry = json.loads((tmp_path / "ds" / "maps" / "crowd.geometry.json").read_text())
    labelled = set(geometry["labels"])
    assert geometry["unplaced_labels"], "the test needs a map whose labels cannot all fit"
    for r in result.records:
        assert set(named(r)) <= labelled, r["question"]
    dropped = result.unreadable["crowd"]
    assert dropped[gate.NO_LABEL] > 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["cities"]["crowd"]["unreadable"] == dict(dropped)
    assert manifest["unreadable"] == {"kept": False, "total": dict(dropped)}
    assert "station label not on the map" in (tmp_path / "ds" / "README.md").read_text()

    kept = build_dataset([path], tmp_path / "ds2", counts_by_type=COUNTS, keep_unreadable=True, warn=lambda m: None)
    assert len(kept.records) == len(result.records) + sum(dropped.values())
    assert any(not set(named(r)) <= labelled for r in kept.records)


def test_supplied_image_xy_rule(tmp_path: Path):
    data = crowded(3, 4)
    Image.new("RGB", (200, 100), "white").save(tmp_path / "map.png")
    data["image"] = {"file": "map.png", "width": 200, "height": 100}
    official = loads(data, path=tmp_path / "a.json")
    records = generate(TransitMap.from_annotation(official), seed=0, counts=COUNTS)
    # an official map without any xy (the ReasonMap cities) is trusted: nothing dropped
    dropped: Counter = Counter()
    assert gate.apply(records, gate.from_image(official), dropped) == records and not dropped
    # once an annotation gives xy, a station without one cannot be found on the image
    for k, sid in enumerate(sorted(data["stations"])):
        if sid not in ("s00", "s11"):
            data["stations"][sid]["xy"] = [10 + 10 * (k % 12), 10 + 20 * (k // 12)]
    traced = loads(data, path=tmp_path / "a.json")
    kept = gate.apply(records, gate.from_image(traced), dropped)
    expected = [r for r in records if not {"s00", "s11"} & set(named(r))]
    assert kept == expected and dropped[gate.NO_XY] == len(records) - len(expected) > 0


def test_delta_e_hand_worked():
    # CIELAB: red (53.24, 80.09, 67.20), green (87.73, -86.18, 83.18) -> dE76 = 170.6
    assert delta_e("#FF0000", "#00FF00") == pytest.approx(170.6, abs=0.3)
    assert delta_e("#123456", "#123456") == 0


def test_same_coloured_lines_are_drawn_apart():
    import tempfile

    from mapkit.importers.gtfs import import_gtfs
    from tests.test_directions import feed_tables
    from tests.test_gtfs import write_feed

    with tempfile.TemporaryDirectory() as tmp:
        result = import_gtfs(write_feed(Path(tmp) / "f.zip", feed_tables()), "demo", tmp, route_types="subway,bus")
        a = load(result.path)
    assert a.line("X").color == a.line("Y").color == "#EE352E"  # the feed gives both the same red
    g = render_map(a, width=1200).geometry
    drawn = g["line_colors"]
    assert drawn["X"] == "#EE352E" and drawn["10"] == "#00933C"  # the first keeps its official colour
    assert set(g["recolored_lines"]) == {"Y", "20"} and g["indistinct_lines"] == []
    for x, y in itertools.combinations(drawn, 2):
        assert delta_e(drawn[x], drawn[y]) >= MIN_DELTA_E, (x, y)


def test_too_many_same_colours_are_reported_and_gated():
    lines = [(f"L{k}", "#00933C") for k in range(60)]
    drawn, close = distinct_colors(lines)
    assert close, "60 lines cannot all be 20 apart in this palette"
    for x in close:  # every line reported as indistinct is within the threshold of another
        assert any(delta_e(drawn[x], drawn[y]) < MIN_DELTA_E for y in drawn if y != x)
    for x in set(drawn) - close:
        assert all(delta_e(drawn[x], drawn[y]) >= MIN_DELTA_E for y in drawn if y != x)
    evidence = gate.Evidence(None, frozenset(set(drawn) - close))
    record = {"program": json.dumps({"op": "on_line", "args": {"station": "a", "line": sorted(close)[0]}})}
    assert gate.reasons(record, evidence) == [gate.LINE_INDISTINCT]
