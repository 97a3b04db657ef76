"""`mapkit new`: the scaffold carries the image block and validates once lines are added."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from mapkit.annotation import load, loads
from mapkit.errors import AnnotationError, MapkitError
from mapkit.files import sha256_file
from mapkit.importers.scaffold import scaffold


@pytest.fixture
def map_png(tmp_path):
    path = tmp_path / "maps" / "town.png"
    path.parent.mkdir()
    Image.new("RGB", (640, 480), "white").save(path)
    return path


def test_scaffold_validates_once_lines_are_added(tmp_path, map_png):
    out = scaffold("town", out=tmp_path / "annotations" / "town.json", image=map_png)
    data = json.loads(out.read_text())
    assert data["image"] == {"file": "../maps/town.png", "width": 640, "height": 480, "sha256": sha256_file(map_png)}
    assert data["stations"] == {} and data["lines"] == []
    with pytest.raises(AnnotationError) as e:  # empty: not valid yet, and it says why
        loads(data)
    assert {p.path for p in e.value.problems} == {"stations", "lines"}
    data["stations"] = {"a": {"name": "A", "xy": [10, 20]}, "b": {"name": "B", "xy": [600, 400]}}
    data["lines"] = [{"id": "1", "name": "Line 1", "color": "#E60012", "segments": [["a", "b"]]}]
    out.write_text(json.dumps(data))
    a = load(out)
    assert a.image_path() == map_png.resolve() and a.warnings == ()


def test_scaffold_refuses_overwrite_and_bad_names(tmp_path, map_png):
    out = scaffold("town", out=tmp_path / "town.json", image=map_png)
    with pytest.raises(MapkitError, match="already exists.*--force"):
        scaffold("town", out=out, image=map_png)
    assert scaffold("town", out=out, force=True, country="Freedonia").is_file()
    assert json.loads(out.read_text())["country"] == "Freedonia"
    with pytest.raises(MapkitError, match="not a valid name"):
        scaffold("Big Town", out=tmp_path / "x.json")
    with pytest.raises(MapkitError, match="not found"):
        scaffold("town2", out=tmp_path / "y.json", image=tmp_path / "missing.png")


def test_cli_new(tmp_path, map_png, run_cli):
    code, out, err = run_cli("new", "town", "--image", map_png, "--annotations", tmp_path / "ann")
    assert code == 0, err
    assert (tmp_path / "ann" / "town.json").is_file() and "mapkit validate" in out
    code, out, err = run_cli("new", "town", "--image", map_png, "--annotations", tmp_path / "ann")
    assert code == 1 and "already exists" in err
