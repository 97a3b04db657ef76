"""Rendering: geometry contract, determinism, parallel lines, labels, fonts, errors, CLI."""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from mapkit.annotation import load, loads
from mapkit.errors import RenderError
from mapkit.render import render_map


@pytest.fixture(scope="module")
def mini():
    return load(Path(__file__).parent / "fixtures" / "mini.json")


@pytest.fixture(scope="module")
def mini_render(mini):
    return render_map(mini, width=1200)


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_geometry_contract(mini, mini_render):
    r = mini_render
    g = r.geometry
    assert r.image.mode == "RGB" and r.image.size == (g["width"], g["height"]) and g["width"] == 1200
    assert set(g["stations"]) == set(mini.stations)
    for st in g["stations"].values():
        x0, y0, x1, y1 = st["box"]
        cx, cy = st["center"]
        assert x0 <= cx <= x1 and y0 <= cy <= y1
    assert set(g["labels"]) | set(g["unplaced_labels"]) == set(mini.stations)
    assert g["unplaced_labels"] == []
    json.dumps(g)  # JSON-able


def test_markers_inside_image_and_labels_disjoint(mini_render):
    g = mini_render.geometry
    for st in g["stations"].values():
        x0, y0, x1, y1 = st["box"]
        assert 0 <= x0 and 0 <= y0 and x1 <= g["width"] and y1 <= g["height"]
    boxes = list(g["labels"].values())
    assert not [p for p in itertools.combinations(boxes, 2) if _overlap(*p)]
    # no label covers a station marker
    markers = [st["box"] for st in g["stations"].values()]
    assert not [(lab, m) for lab in boxes for m in markers if _overlap(lab, m)]


def test_labels_keep_off_lines(mini_render):
    import shapely  # a core dependency: never skipped
    g = mini_render.geometry
    strokes = [shapely.LineString(p) for paths in g["lines"].values() for p in paths]
    for sid, box in g["labels"].items():
        assert not any(shapely.box(*box).intersects(s) for s in strokes), sid


def test_line_colours_are_drawn(mini, mini_render):
    img = np.asarray(mini_render.image)
    g = mini_render.geometry
    for line in mini.lines:
        rgb = np.array([int(line.color[i:i + 2], 16) for i in (1, 3, 5)])
        mids = [((x0 + x1) / 2, (y0 + y1) / 2) for path in g["lines"][line.id] for (x0, y0), (x1, y1) in itertools.pairwise(path)]
        # between its stations the line shows in its own colour (shared stretches may blend at the edges)
        hits = [np.abs(img[round(y), round(x)].astype(int) - rgb).max() <= 40 for x, y in mids]
        assert sum(hits) >= max(1, len(hits) // 2), (line.id, hits)


def test_shared_edge_lines_drawn_side_by_side(mini_render):
    # Blue (f-c-g-h) and the Orange loop (c-f-k-l) share the edge Central-Foxtrot
    g = mini_render.geometry
    blue = g["lines"]["B"][0][:2]  # f, c
    orange = g["lines"]["O"][0][:2]  # c, f
    mid_b = np.mean(blue, axis=0)
    mid_o = np.mean(orange, axis=0)
    gap = float(np.linalg.norm(mid_b - mid_o))
    assert 1.5 < gap < 10  # apart by about one line width at 1200 px, not on top of each other
    station = g["stations"]["c"]
    x0, y0, x1, y1 = station["box"]
    # the interchange marker spans both lines' positions
    for p in (blue[1], orange[0]):
        assert x0 <= p[0] <= x1 and y0 <= p[1] <= y1


def test_deterministic_bytes_and_atomic_save(mini, tmp_path):
    a = render_map(mini, width=900)
    b = render_map(mini, width=900)
    pa, ga = a.save(tmp_path / "a.png")
    pb, gb = b.save(tmp_path / "b.png")
    assert ga == tmp_path / "a.geometry.json"
    assert hashlib.sha256(pa.read_bytes()).digest() == hashlib.sha256(pb.read_bytes()).digest()
    assert ga.read_bytes() == gb.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.geometry.json", "a.png", "b.geometry.json", "b.png"]
    assert json.loads(ga.read_text())["width"] == 900
    with pytest.raises(RenderError, match="PNG"):
        a.save(tmp_path / "a.jpg")


def test_highlight_route(mini, mini_render):
    r = render_map(mini, width=1200, highlight_route=("Alpha", "kilo"))
    route = r.geometry["route"]
    assert route["from"] == "a" and route["to"] == "k"
    assert [s["line"] for s in route["sections"]] == ["R", "O"]
    assert route["sections"][0]["stations"] == ["a", "b", "c"]
    assert np.asarray(r.image).tobytes() != np.asarray(mini_render.image).tobytes()
    with pytest.raises(RenderError, match="no station with id or name 'Zulu'"):
        render_map(mini, width=800, highlight_route=("a", "Zulu"))
    with pytest.raises(RenderError, match="same station"):
        render_map(mini, width=800, highlight_route=("a", "Alpha"))


def _with(mini, **station_overrides):
    data = mini.to_dict()
    for sid, fields in station_overrides.items():
        data["stations"][sid].update(fields)
    return loads(data)


def test_cjk_names_need_a_font(mini, tmp_path):
    a = _with(mini, c={"name": "東京"})
    with pytest.raises(RenderError) as e:
        render_map(a, width=800)
    msg = str(e.value)
    assert "東京" in msg and "--font" in msg and "Chinese, Japanese and Korean" in msg
    with pytest.raises(RenderError, match="not found"):
        render_map(mini, width=800, font=tmp_path / "missing.ttf")
    (tmp_path / "bad.ttf").write_bytes(b"not a font")
    with pytest.raises(RenderError, match="not a font"):
        render_map(mini, width=800, font=tmp_path / "bad.ttf")


def test_missing_coordinates_and_xy_maps(mini):
    data = mini.to_dict()
    del data["stations"]["c"]["lonlat"]
    data["stations"]["c"]["name"] = "中央"  # a font problem too, but the missing coordinates are said first
    with pytest.raises(RenderError, match=r"1 of 12 stations have no lonlat \(c\)"):
        render_map(loads(data), width=800)
    data["stations"]["c"]["name"] = "Central"
    # xy everywhere (a traced map) renders from xy
    for k, st in enumerate(data["stations"].values()):
        st.pop("lonlat", None)
        st["xy"] = [100 + 50 * (k % 4), 100 + 60 * (k // 4)]
    r = render_map(loads(data), width=800)
    assert r.geometry["source"] == "xy" and len(r.geometry["stations"]) == 12


def test_bad_width(mini):
    with pytest.raises(RenderError, match="width"):
        render_map(mini, width=50)


def test_cli_render(tmp_path, mini_path, run_cli):
    out = tmp_path / "m.png"
    code, stdout, stderr = run_cli("render", mini_path, "--out", out, "--width", "800", "--highlight-route", "a", "h")
    assert code == 0, stderr
    assert out.is_file() and (tmp_path / "m.geometry.json").is_file()
    assert "wrote" in stdout
    code, stdout, stderr = run_cli("render", "--city", "nowhere", "--annotations", tmp_path, "--out", out)
    assert code == 1 and "no annotation for city 'nowhere'" in stderr and "Traceback" not in stderr
    code, _, stderr = run_cli("render", mini_path, "--out", out, "--highlight-route", "a", "zz")
    assert code == 1 and "zz" in stderr


# ---------------------------------------------------------------- Tokyo at full size

@pytest.fixture(scope="module")
def tokyo_render():
    a = load(Path(__file__).resolve().parent.parent / "annotations" / "tokyo.json")  # shipped: never skip
    return a, render_map(a, width=4000)


def test_tokyo_labels_do_not_overlap(tokyo_render):
    _, r = tokyo_render
    g = r.geometry
    assert g["unplaced_labels"] == []
    boxes = sorted(g["labels"].items(), key=lambda kv: kv[1][0])
    bad = []
    # sweep on x: compare only boxes whose x ranges can overlap
    for i, (s1, b1) in enumerate(boxes):
        for s2, b2 in boxes[i + 1:]:
            if b2[0] >= b1[2]:
                break
            if _overlap(b1, b2):
                bad.append((s1, s2))
    assert bad == []
    assert len(g["labels"]) == len(g["stations"])


def test_tokyo_labels_keep_off_lines_and_markers(tokyo_render):
    import shapely  # a core dependency: never skipped
    _, r = tokyo_render
    g = r.geometry
    strokes = shapely.STRtree([shapely.LineString(p) for paths in g["lines"].values() for p in paths])
    labels = [shapely.box(*b) for b in g["labels"].values()]
    hits, _ = strokes.query(labels, predicate="intersects")
    assert len(hits) == 0  # no label lies on a line
    markers = shapely.STRtree([shapely.box(*st["box"]) for st in g["stations"].values()])
    hits, _ = markers.query(labels, predicate="intersects")
    assert len(hits) == 0
    assert g["added_crossings"] <= 5  # the layout keeps the geography's crossings (a few close calls aside)


def test_tokyo_markers_inside_image_and_lines_in_colour(tokyo_render):
    a, r = tokyo_render
    g = r.geometry
    assert r.image.width == 4000
    for sid, st in g["stations"].items():
        x0, y0, x1, y1 = st["box"]
        assert 0 <= x0 < x1 <= g["width"] and 0 <= y0 < y1 <= g["height"], sid
    img = np.asarray(r.image).astype(int)
    for line in a.lines:
        rgb = np.array([int(line.color[i:i + 2], 16) for i in (1, 3, 5)])
        hits = 0
        total = 0
        for path in g["lines"][line.id]:
            for (x0, y0), (x1, y1) in itertools.pairwise(path):
                if math.dist((x0, y0), (x1, y1)) < 30:
                    continue
                total += 1
                px = img[round((y0 + y1) / 2), round((x0 + x1) / 2)]
                hits += int(np.abs(px - rgb).max() <= 40)
        # the line's own colour is what shows between most of its stations
        assert total and hits / total > 0.8, (line.id, hits, total)
