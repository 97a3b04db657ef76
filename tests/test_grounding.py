"""Grounding questions: every answer re-derived from the geometry JSON (or the annotation's
xy) by plain loops, answerability, difficulty, frames and the model's resized view."""
from __future__ import annotations

import json
import math
import random

import pytest
from PIL import Image

from mapkit.annotation import load
from mapkit.dataset import build_dataset, read_dataset, resolve_counts
from mapkit.difficulty import QUESTION_THRESHOLDS
from mapkit.errors import DatasetError, TemplateError
from mapkit.frames import fmt_box, fmt_point, in_model_frame, smart_resize
from mapkit.graph import TransitMap
from mapkit.questions import GenerationReport, generate, load_templates
from mapkit.questions.grounding import CLUTTER_RADIUS, LINE_CLEARANCE, XY_RADIUS_CAP, scene_from_geometry

GROUNDING = ["Grounding1", "Grounding2", "Grounding3"]


@pytest.fixture(scope="module")
def tokyo_build(tmp_path_factory):
    from conftest import ROOT

    out = tmp_path_factory.mktemp("g") / "tokyo"
    build_dataset([ROOT / "annotations" / "tokyo.json"], out, seed=3, counts_by_type=resolve_counts(20, GROUNDING))
    records = [r for rows in read_dataset(out).values() for r in rows]
    geometry = json.loads((out / "maps" / "tokyo.geometry.json").read_text())
    annotation = json.loads((out / "annotations" / "tokyo.json").read_text())
    return out, records, geometry, annotation


def _bucket(kind, measure):
    easy, middle = QUESTION_THRESHOLDS[kind][1]
    return "easy" if measure <= easy else "middle" if measure <= middle else "hard"


def _segment_distance(p, a, b):
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _line_distance(p, paths):
    return min(_segment_distance(p, a, b) for path in paths for a, b in zip(path, path[1:]))


def _stations_near(geometry, sid):
    cx, cy = geometry["stations"][sid]["center"]
    r = CLUTTER_RADIUS * max(geometry["width"], geometry["height"])
    near = 0
    for other, s in geometry["stations"].items():
        if other == sid:
            continue
        d = math.hypot(s["center"][0] - cx, s["center"][1] - cy)
        if other in geometry["labels"]:
            x1, y1, x2, y2 = geometry["labels"][other]
            d = min(d, math.hypot(max(x1 - cx, 0, cx - x2), max(y1 - cy, 0, cy - y2)))
        near += d <= r
    return near


def test_every_tokyo_answer_rederived_from_the_geometry(tokyo_build):
    _, records, geometry, annotation = tokyo_build
    names = {sid: s["name"] for sid, s in annotation["stations"].items()}
    line_names = {ln["id"]: ln["name"] for ln in annotation["lines"]}
    assert {r["type"] for r in records} == set(GROUNDING) and len(records) == 60
    for r in records:
        program = json.loads(r["program"])
        assert r["frame"] == {"width": geometry["width"], "height": geometry["height"]}
        assert r["figure"] == "maps/tokyo.png" and r["answer"] == -1
        if r["type"] == "Grounding1":
            sid = [s for s, n in names.items() if n == r["station_1"]]
            assert len(sid) == 1 and sid[0] not in geometry["unplaced_labels"]
            box = geometry["stations"][sid[0]]["box"]
            assert program["result"]["box"] == box
            assert r["answer_text"] == f"[{round(box[0])}, {round(box[1])}, {round(box[2])}, {round(box[3])}]"
            assert r["station_1"] in r["question"] and "[" not in r["question"].split("\n")[0]
            measure = _stations_near(geometry, sid[0])
        elif r["type"] == "Grounding2":
            if "point" in program["args"]:
                x, y = program["args"]["point"]
                assert f"({x}, {y})" in r["question"]
                hits = [s for s, g in geometry["stations"].items()
                        if g["box"][0] <= x <= g["box"][2] and g["box"][1] <= y <= g["box"][3]]
            else:
                b = program["args"]["box"]
                assert f"[{b[0]}, {b[1]}, {b[2]}, {b[3]}]" in r["question"]
                hits = [s for s, g in geometry["stations"].items()
                        if b[0] <= g["center"][0] <= b[2] and b[1] <= g["center"][1] <= b[3]]
            assert len(hits) == 1, r["question"]
            assert names[hits[0]] == r["answer_text"] == r["station_1"]
            assert hits[0] in geometry["labels"] and hits[0] not in geometry["unplaced_labels"]
            measure = _stations_near(geometry, hits[0])
        else:
            p = program["args"]["point"]
            assert f"({p[0]}, {p[1]})" in r["question"]
            d = {lid: _line_distance(p, paths) for lid, paths in geometry["lines"].items()}
            nearest = min(d, key=d.get)
            assert d[nearest] <= 1.0 and line_names[nearest] == r["answer_text"] == r["line"]
            assert all(v >= LINE_CLEARANCE * geometry["width"] for lid, v in d.items() if lid != nearest)
            r_clutter = CLUTTER_RADIUS * max(geometry["width"], geometry["height"])
            measure = sum(v <= r_clutter for lid, v in d.items() if lid != nearest)
        assert program["clutter"] == measure
        assert r["difficulty_question"] == _bucket(r["type"], measure)


def test_tokyo_grounding_spreads_over_difficulty_and_templates(tokyo_build):
    _, records, _, _ = tokyo_build
    for kind in GROUNDING:
        rows = [r for r in records if r["type"] == kind]
        assert sorted({r["difficulty_question"] for r in rows}) == ["easy", "hard", "middle"]
    # rendered maps: boxes for locating, both a point and a box for reading
    assert {r["template_id"] for r in records if r["type"] == "Grounding1"} == {"grounding1_box"}
    assert {r["template_id"] for r in records if r["type"] == "Grounding2"} == {"grounding2_box", "grounding2_point"}
    # one split per station: locating it and reading its label answer each other
    split_of = {}
    for r in records:
        if r["station_1"]:
            assert split_of.setdefault(r["station_1"], r["split"]) == r["split"]


def _tokyo_city():
    from conftest import ROOT

    return TransitMap.from_annotation(load(ROOT / "annotations" / "tokyo.json"))


def test_unplaced_labels_are_never_asked(tokyo_build):
    _, records, geometry, _ = tokyo_build
    tm = _tokyo_city()
    hidden = sorted(geometry["labels"])[:150]
    geo = {**geometry, "unplaced_labels": hidden, "labels": {k: v for k, v in geometry["labels"].items() if k not in hidden}}
    records = generate(tm, seed=0, counts={"Grounding1": 100, "Grounding2": 100}, scene=scene_from_geometry(geo))
    asked = {json.loads(r["program"])["args"].get("station") or json.loads(r["program"])["result"] for r in records}
    assert asked and not asked & set(hidden)
    assert len(records) == 2 * (len(geometry["stations"]) - len(hidden))  # every drawn one, each type


def test_same_seed_same_records_and_missing_scene_is_reported(tokyo_build):
    _, _, geometry, _ = tokyo_build
    tm = _tokyo_city()
    counts = {"Grounding2": 12, "Grounding3": 12}
    first = generate(tm, seed=4, counts=counts, scene=scene_from_geometry(geometry))
    assert first == generate(tm, seed=4, counts=counts, scene=scene_from_geometry(geometry))
    assert first != generate(tm, seed=5, counts=counts, scene=scene_from_geometry(geometry))
    report = GenerationReport("tokyo")
    assert generate(tm, seed=0, counts={"Grounding1": 5}, scene=None, report=report) == []
    assert report.dropped["Grounding1", "the map image has no station positions (annotation xy)"] == 5


# ------------------------------------------------------------------ supplied images with xy

@pytest.fixture
def xy_city(tmp_path, mini_path):
    """The mini city traced on a 900 x 500 image (xy given), the image saved at 1800 x 1000."""
    data = json.loads(mini_path.read_text())
    rng = random.Random(5)
    for k, s in enumerate(sorted(data["stations"])):
        data["stations"][s]["xy"] = [60 + 70 * k + rng.randrange(5), 100 + 30 * (k % 4)]
    data["image"] = {"file": "mini.png", "width": 900, "height": 500}
    (tmp_path / "mini.json").write_text(json.dumps(data))
    Image.new("RGB", (1800, 1000), "white").save(tmp_path / "mini.png")
    return tmp_path / "mini.json", data


def test_point_questions_on_a_supplied_image_rederived_from_xy(xy_city, tmp_path):
    path, data = xy_city
    out = tmp_path / "out"
    build_dataset([path], out, counts_by_type=resolve_counts(50, GROUNDING))
    records = [r for rows in read_dataset(out).values() for r in rows]
    xy = {sid: (s["xy"][0] * 2, s["xy"][1] * 2) for sid, s in data["stations"].items()}  # image is twice the traced size
    names = {sid: s["name"] for sid, s in data["stations"].items()}
    # no line paths are known on a supplied image: locating and reading only, points only
    assert {r["type"] for r in records} == {"Grounding1", "Grounding2"}
    assert {r["template_id"] for r in records} == {"grounding1_point", "grounding2_point"}
    for r in records:
        assert r["frame"] == {"width": 1800, "height": 1000}
        program = json.loads(r["program"])
        if r["type"] == "Grounding1":
            sid = next(s for s, n in names.items() if n == r["station_1"])
            nearest = min(math.dist(xy[sid], xy[o]) for o in xy if o != sid)
            assert program["result"]["point"] == [round(v, 1) for v in xy[sid]]
            assert program["result"]["radius"] == round(min(XY_RADIUS_CAP * 1800, nearest / 2), 1)
            assert r["answer_text"] == f"({round(xy[sid][0])}, {round(xy[sid][1])})"
        else:
            x, y = program["args"]["point"]
            closest = min(xy, key=lambda s: math.dist((x, y), xy[s]))
            assert names[closest] == r["answer_text"]


def test_reasonmap_cities_have_no_xy_so_no_grounding(reasonmap_dir, tmp_path, mini_path):
    from mapkit.importers.reasonmap import import_reasonmap
    from mapkit.questions.grounding import scene_from_xy
    from mapkit.render.images import image_size

    import_reasonmap(reasonmap_dir / "stations", tmp_path / "cities", maps=reasonmap_dir / "maps")
    with_images = [a for a in map(load, sorted((tmp_path / "cities").glob("*.json"))) if a.image_path() and a.image_path().is_file()]
    assert len(with_images) == 17
    for a in with_images:  # ReasonMap gives names and lines only: no station is placed on its image
        assert all(s.xy is None for s in a.stations.values())
        assert scene_from_xy(a, image_size(a.image_path())) is None
    # a build over such a city and a rendered one: Grounding comes from the rendered map only
    result = build_dataset([tmp_path / "cities" / "oslo.json", mini_path], tmp_path / "out", counts_by_type={"Grounding1": 4},
                           images_root=reasonmap_dir / "maps")  # the imported maps live outside cities/
    assert {r["city"] for r in result.records} == {"mini"}
    oslo = next(r for r in result.reports if r.city == "oslo")
    assert oslo.made["Grounding1"] == 0 and oslo.dropped["Grounding1", "the map image has no station positions (annotation xy)"] == 4


def test_no_images_with_grounding_is_refused(mini_path, tmp_path):
    with pytest.raises(DatasetError, match="drop --no-images"):
        build_dataset([mini_path], tmp_path / "x", counts_by_type={"Grounding1": 3}, images=False)


def test_types_family_and_unknown_names():
    assert resolve_counts(None, ["Grounding"]) == {"Grounding1": 30, "Grounding2": 30, "Grounding3": 30}
    assert "Grounding1" not in resolve_counts(None, None)  # made only when named
    with pytest.raises(DatasetError, match="Grounding"):
        resolve_counts(None, ["Grounding4"])


def test_template_rules_for_coordinates(tmp_path):
    from conftest import ROOT

    data = json.loads((ROOT / "templates" / "grounding.json").read_text())
    data["templates"][2]["slots"] = {"point": "box"}  # read_label point template showing a box
    (tmp_path / "grounding.json").write_text(json.dumps(data))
    with pytest.raises(TemplateError, match="coords is 'point'"):
        load_templates(tmp_path)
    data = json.loads((ROOT / "templates" / "grounding.json").read_text())
    del data["templates"][0]["coords"]
    (tmp_path / "grounding.json").write_text(json.dumps(data))
    with pytest.raises(TemplateError, match="needs coords"):
        load_templates(tmp_path)


# ------------------------------------------------------------------ frames

def test_smart_resize_hand_worked():
    # 1000 x 500 fits 28*28*1024 = 802,816 px after rounding to 1008 x 504
    assert smart_resize(1000, 500, max_pixels=28 * 28 * 1024) == (1008, 504)
    # 4000 x 2000 over budget: beta = sqrt(8e6 / 802816) = 3.157; 4000/3.157/28 = 45.3 -> 45*28, 2000/3.157/28 = 22.6 -> 22*28
    assert smart_resize(4000, 2000, max_pixels=28 * 28 * 1024) == (1260, 616)
    # tiny image scaled up to min_pixels: beta = sqrt(3136 / 200) = 3.96; ceil(20*3.96/28)=3, ceil(10*3.96/28)=2
    assert smart_resize(20, 10) == (84, 56)


def test_in_model_frame_rescales_the_question_on_a_non_square_resize():
    record = {"id": "q", "type": "Grounding2", "frame": {"width": 4000, "height": 2000},
              "question": "What is the name of the station marked at (2000, 1000) on this map?\nAnswer (x, y) [1, 2, 3, 4]"}
    seen = in_model_frame(record, (1260, 616))  # x scales by 0.315, y by 0.308
    assert seen["question"].startswith("What is the name of the station marked at (630, 308) on this map?")
    assert seen["question"].endswith("Answer (x, y) [1, 2, 3, 4]")  # the instruction is never touched
    assert seen["image_size"] == [1260, 616] and record["question"].startswith("What is the name of the station marked at (2000")
    box = {**record, "type": "Grounding3", "question": "Which station is inside [400, 200, 800, 600]?\n."}
    assert in_model_frame(box, (1260, 616))["question"].startswith("Which station is inside [126, 62, 252, 185]?")
    named = {**record, "type": "Grounding1", "question": "Where is Exit (12, 34) station?\nbox"}
    assert in_model_frame(named, (1260, 616))["question"] == named["question"]  # a name is not a coordinate
    assert fmt_point((1.5, 2.49)) == "(2, 2)" and fmt_box((0.4, 1, 2.6, 3)) == "[0, 1, 3, 3]"


def test_record_validation_catches_answers_and_coordinates_that_disagree(tokyo_build):
    from mapkit.dataset import record_problems

    _, records, _, _ = tokyo_build
    locate = next(r for r in records if r["type"] == "Grounding1")
    read = next(r for r in records if r["type"] == "Grounding2" and "point" in r["program"])
    assert record_problems(locate) == [] and record_problems(read) == []
    assert "answer_text" in record_problems({**locate, "answer_text": "[0, 0, 1, 1]"})[0]
    x, y = json.loads(read["program"])["args"]["point"]
    moved = read["question"].replace(f"({x}, {y})", f"({x + 1}, {y})")
    assert "first coordinates" in record_problems({**read, "question": moved})[0]
    assert "outside" in record_problems({**read, "frame": {"width": 10, "height": 10}})[0]
    assert any("frame" in p for p in record_problems({**read, "frame": None}))
    assert any("frame" in p for p in record_problems({**next(r for r in records if r["type"] == "Grounding3"), "type": "TorF1"}))


def test_export_rescales_grounding_rows_to_the_trainers_budget(tokyo_build, tmp_path):
    from mapkit.publish.export import export

    out, records, _, _ = tokyo_build
    with pytest.raises(DatasetError, match="--max-pixels"):
        export(out, tmp_path / "a.jsonl", fmt="jsonl")
    export(out, tmp_path / "b.jsonl", fmt="jsonl", max_pixels=28 * 28 * 1024)
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "b.jsonl").read_text().splitlines())}
    # 4000 x 4029 at 802,816 px: beta = sqrt(4000 * 4029 / 802816) = 4.480; 4000 / 4.480 / 28 -> 31, 4029 / 4.480 / 28 -> 32
    sx, sy = 31 * 28 / 4000, 32 * 28 / 4029
    train = [r for r in records if r["split"] == "train"]
    assert len(rows) == len(train)
    for r in train:
        row = rows[r["id"]]
        assert row["image_size"] == [868, 896]
        program = json.loads(r["program"])
        if r["type"] == "Grounding1":
            b = program["result"]["box"]
            assert row["answer"] == f"[{round(b[0] * sx)}, {round(b[1] * sy)}, {round(b[2] * sx)}, {round(b[3] * sy)}]"
        else:
            assert row["answer"] == r["answer_text"]
            if "point" in program["args"]:
                x, y = program["args"]["point"]
                assert f"({round(x * sx)}, {round(y * sy)})" in row["question"].split("\n")[0]
