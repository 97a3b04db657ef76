"""Confined inputs: an annotation's map image comes from its own folder (or --images-root),
city names are slugs in every command, and nothing is written outside the output folder."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

MINI = Path(__file__).resolve().parent / "fixtures" / "mini.json"


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.fixture
def layout(tmp_path):
    """tmp/ann/mini.json (image.file set per test), tmp/secret/x.png outside the folder."""
    ann = tmp_path / "ann"
    ann.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(secret / "x.png")

    def write(image_file: str) -> Path:
        data = json.loads(MINI.read_text())
        data["image"] = {"file": image_file, "width": 64, "height": 48}
        (ann / "mini.json").write_text(json.dumps(data))
        return ann

    return write, secret / "x.png"


@pytest.mark.parametrize("form", ["absolute", "dotdot", "symlink"])
def test_image_outside_the_annotation_folder_is_refused(run_cli, layout, tmp_path, form):
    write, secret = layout
    if form == "symlink":
        os.symlink(secret, tmp_path / "ann" / "mini.png")
    image_file = {"absolute": str(secret), "dotdot": "../secret/x.png", "symlink": "mini.png"}[form]
    ann = write(image_file)
    before = tree(tmp_path)
    code, out, err = run_cli("build", "--city", "mini", "--annotations", ann, "--out", tmp_path / "ds")
    assert code == 1 and "Traceback" not in err
    assert "mini.json: image.file" in err and "--images-root" in err
    assert tree(tmp_path) == before  # nothing written, nothing copied


def test_images_root_admits_the_maps_folder_and_the_copy_holds_relative_paths(run_cli, layout, tmp_path):
    write, secret = layout
    ann = write("../secret/x.png")
    code, _, err = run_cli("build", "--city", "mini", "--annotations", ann, "--out", tmp_path / "ds",
                           "--images-root", secret.parent)
    assert code == 0, err
    assert (tmp_path / "ds" / "maps" / "mini.png").read_bytes() == secret.read_bytes()
    copy = json.loads((tmp_path / "ds" / "annotations" / "mini.json").read_text())
    assert not os.path.isabs(copy["image"]["file"])
    assert str(tmp_path) not in (tmp_path / "ds" / "annotations" / "mini.json").read_text()


def test_absolute_image_path_is_refused_even_under_images_root(run_cli, layout, tmp_path):
    write, secret = layout
    ann = write(str(secret))
    code, _, err = run_cli("build", "--city", "mini", "--annotations", ann, "--out", tmp_path / "ds",
                           "--images-root", secret.parent)
    assert code == 1 and "is an absolute path" in err and not (tmp_path / "ds").exists()


def test_image_inside_the_folder_builds(run_cli, layout, tmp_path):
    write, secret = layout
    ann = write("maps/mini.png")
    (ann / "maps").mkdir()
    Image.new("RGB", (64, 48), (9, 9, 9)).save(ann / "maps" / "mini.png")
    code, _, err = run_cli("build", "--city", "mini", "--annotations", ann, "--out", tmp_path / "ds")
    assert code == 0, err
    assert (tmp_path / "ds" / "maps" / "mini.png").read_bytes() == (ann / "maps" / "mini.png").read_bytes()


BAD_CITIES = ["../x", "../../elsewhere/tokyo", "/tmp/x", "Tokyo", "a/b", "mini\n", ""]


@pytest.mark.parametrize("city", BAD_CITIES)
def test_city_must_be_a_slug_in_every_command(run_cli, tmp_path, monkeypatch, city):
    monkeypatch.chdir(tmp_path)
    ann = tmp_path / "work" / "annotations"
    ann.mkdir(parents=True)
    (ann / "mini.json").write_text(MINI.read_text())
    (tmp_path / "x.json").write_text(MINI.read_text())  # what `--city ../x` would reach
    Image.new("RGB", (8, 8)).save(tmp_path / "map.png")
    commands = [
        ["build", "--city", city, "--annotations", ann],
        ["render", "--city", city, "--annotations", ann, "--out", tmp_path / "r.png"],
        ["stats", "--city", city, "--annotations", ann],
        ["preview", "--city", city, "--annotations", ann, "--image", tmp_path / "map.png", "--out", tmp_path / "p.png"],
        ["new", city, "--image", tmp_path / "map.png", "--annotations", ann],
        ["import", "gtfs", tmp_path / "feed.zip", "--city", city, "--out", ann],
    ]
    before = tree(tmp_path)
    for args in commands:
        code, _, err = run_cli(*args)
        assert code == 1 and "is not a valid name" in err and "Traceback" not in err, (args, err)
    assert tree(tmp_path) == before


def test_slug_check_is_one_function():
    from mapkit.errors import MapkitError
    from mapkit.names import check_city

    assert check_city("new_york") == "new_york"
    for city in BAD_CITIES:
        with pytest.raises(MapkitError):
            check_city(city)


def test_a_folder_named_like_a_template_file_is_a_clear_error(run_cli, tmp_path):
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parent.parent / "templates", templates)
    (templates / "zz.json").mkdir()
    code, _, err = run_cli("build", "--city", "mini", "--annotations", MINI.parent, "--out", tmp_path / "ds",
                           "--templates", templates, "--no-images")
    assert code == 1 and "zz.json: named like a template file but is not a regular file" in err
    assert "Traceback" not in err and not (tmp_path / "ds").exists()


def test_a_409_on_a_read_does_not_talk_about_tags(monkeypatch, tmp_path):
    import httpx2
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from mapkit.errors import HubError
    from mapkit.publish.hub import plan_push

    def conflict(*args, **kwargs):
        response = httpx2.Response(409, request=httpx2.Request("GET", "http://127.0.0.1/api/datasets/org/x"))
        raise HfHubHTTPError("409 Conflict: busy", response=response)

    monkeypatch.setattr(HfApi, "repo_info", conflict)
    with pytest.raises(HubError) as e:
        plan_push(tmp_path, "org/x", endpoint="http://127.0.0.1:9", token="t")
    assert "409" in str(e.value) and "reading org/x@main" in str(e.value) and "tag" not in str(e.value)
    assert e.value.exit_code == 3
