"""Annotator previews: overlays on a rendered map and on a real ReasonMap image."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mapkit.annotation import load, loads
from mapkit.render import render_map
from mapkit.render.preview import preview


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """mini rendered to a PNG, and mini annotated with xy = the rendered station centres."""
    mini = load(Path(__file__).parent / "fixtures" / "mini.json")
    folder = tmp_path_factory.mktemp("traced")
    r = render_map(mini, width=1000)
    png, _ = r.save(folder / "mini.png")
    data = mini.to_dict()
    data["image"] = {"file": "mini.png", "width": r.image.width, "height": r.image.height}
    for sid, st in data["stations"].items():
        st["xy"] = r.geometry["stations"][sid]["center"]
    return data, png, r


def test_preview_on_rendered_map(traced, tmp_path):
    data, png, r = traced
    p = preview(loads(data), png)
    assert p.problems == [] and p.message is None
    assert p.image.height >= r.image.height and p.image.width > r.image.width  # map + side panel
    img = np.asarray(p.image).astype(int)
    mini = loads(data)
    for sid, st in r.geometry["stations"].items():
        assert p.points[sid] == pytest.approx(tuple(st["center"]), abs=0.01)
        lines = [ln for ln in mini.lines if sid in ln.station_ids]
        if len(lines) == 1:  # ring in the line's colour around the station
            rgb = np.array([int(lines[0].color[i:i + 2], 16) for i in (1, 3, 5)])
            cx, cy = p.points[sid]
            ring = [img[round(cy + p.radius * np.sin(t)), round(cx + p.radius * np.cos(t))] for t in np.linspace(0, 6.28, 24)]
            assert min(np.abs(px - rgb).max() for px in ring) < 60, sid
    out = p.save(tmp_path / "prev.png")
    assert Image.open(out).size == p.image.size
    assert list(p.numbers.values()) == list(range(1, 13))


def test_preview_flags_problems(traced):
    data, png, r = traced
    # the stations traced into a small corner of the map, so that one misplaced far away stands out
    bad = {**data, "stations": {sid: {**st, "xy": [v * 0.2 for v in st["xy"]]} for sid, st in data["stations"].items()}}
    del bad["stations"]["b"]["xy"]
    bad["stations"]["e"]["xy"] = [r.image.width - 30, r.image.height - 30]  # far from its neighbours d and j
    del bad["image"]  # with it, validation itself rejects xy outside the image
    bad["stations"]["h"]["xy"] = [r.image.width + 50, 10]  # outside the image
    p = preview(loads(bad), png)
    kinds = {pr.kind: pr for pr in p.problems}
    assert set(kinds) == {"no_xy", "outside", "far"}
    assert kinds["no_xy"].stations == ("b",) and "Bravo" in kinds["no_xy"].message
    assert kinds["outside"].stations == ("h",)
    far = sorted(pr.stations for pr in p.problems if pr.kind == "far")
    assert far == [("d", "e"), ("e", "j")]
    # the outside station is drawn on the border in red
    img = np.asarray(p.image).astype(int)
    border = img[:40, r.image.width - 40:r.image.width]
    assert ((border[..., 0] > 180) & (border[..., 1] < 80) & (border[..., 2] < 80)).any()


def test_preview_without_xy_says_what_is_missing(traced, tmp_path):
    data, png, _ = traced
    bare = {**data, "stations": {sid: {k: v for k, v in st.items() if k != "xy"} for sid, st in data["stations"].items()}}
    p = preview(loads(bare), png)
    assert p.message and "No station has an xy" in p.message and "12 stations" in p.message
    assert p.problems == []


def test_preview_resized_image_scales_xy(traced, tmp_path):
    data, png, r = traced
    small = tmp_path / "small.png"
    Image.open(png).resize((r.image.width // 2, r.image.height // 2)).save(small)
    p = preview(loads(data), small)
    assert p.problems == [] and p.scale == pytest.approx(0.5, rel=0.01)


def test_preview_on_real_reasonmap_map(reasonmap_dir, tmp_path, run_cli):
    src = reasonmap_dir / "stations" / "norway" / "oslo.json"
    image = reasonmap_dir / "maps" / "norway" / "oslo.png"
    code, _, err = run_cli("import", "reasonmap", src, "--out", tmp_path, "--maps", reasonmap_dir / "maps")
    assert code == 0, err
    a = load(tmp_path / "oslo.json")
    data = a.to_dict()
    # an annotator has placed two stations so far (positions read off the map image)
    names = {s.name: sid for sid, s in a.stations.items()}
    data["stations"][names["Frognerseteren Station"]]["xy"] = [80, 197]
    data["stations"][names["Voksenkollen Station"]]["xy"] = [80, 235]
    partial = tmp_path / "oslo_partial.json"
    partial.write_text(__import__("json").dumps(data, ensure_ascii=False))
    code, out, err = run_cli("preview", partial, "--image", image, "--out", tmp_path / "p.png")
    assert code == 0, err
    assert "2 of 101 stations drawn" in out
    assert "99 station(s) have no xy" in err
    assert Image.open(tmp_path / "p.png").width > 1682
    # the map with no xy at all: the preview is written and says what is missing
    code, out, err = run_cli("preview", tmp_path / "oslo.json", "--out", tmp_path / "q.png")  # image from the file
    assert code == 0, err
    assert "No station has an xy position yet: all 101 stations need" in err
    assert Image.open(tmp_path / "q.png").size == Image.open(tmp_path / "p.png").size


def test_cli_preview_errors(traced, tmp_path, mini_path, run_cli):
    code, _, err = run_cli("preview", mini_path, "--out", tmp_path / "x.png")
    assert code == 1 and "--image" in err
    code, _, err = run_cli("preview", mini_path, "--image", tmp_path / "nope.png", "--out", tmp_path / "x.png")
    assert code == 1 and "not found" in err and "Traceback" not in err
