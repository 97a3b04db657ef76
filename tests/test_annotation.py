"""The loader: every bad input is an AnnotationError naming file, JSON path and fix."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapkit.annotation import dump, load, loads
from mapkit.errors import AnnotationError, MapkitError


@pytest.fixture
def mini(mini_path):
    return json.loads(mini_path.read_text())


def problems_of(data) -> list:
    with pytest.raises(AnnotationError) as info:
        loads(data, source="city.json")
    return info.value.problems


def test_fixture_loads_with_typed_objects(mini_path):
    a = load(mini_path)
    assert a.city == "mini" and len(a.stations) == 12 and len(a.lines) == 4
    assert a.station("c").codes == {"R": "R03", "B": "B02", "O": "O01"}
    red = a.line("R")
    assert red.segments == (("a", "b", "c", "d", "e"), ("d", "i"))
    assert red.station_ids == ("a", "b", "c", "d", "e", "i")
    assert a.line("O").loop and ("l", "c", 0) in list(a.line("O").edges())
    assert a.warnings == ()
    with pytest.raises(TypeError):
        a.stations["z"] = None  # read-only mapping


def test_round_trip_through_dump(tmp_path, mini_path):
    a = load(mini_path)
    dump(a, tmp_path / "mini.json")
    b = load(tmp_path / "mini.json")
    assert b.to_dict() == a.to_dict()


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"", "file is empty"),
        (b"   \n", "file is empty"),
        (b"{not json", "not valid JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8"),
        (b"[1, 2, 3]", "expected a JSON object"),
        (b'{"city": "x", "city": "y"}', "appears twice"),
        (b"null", "expected a JSON object"),
    ],
)
def test_unreadable_files(raw, fragment):
    with pytest.raises(AnnotationError) as info:
        loads(raw, source="city.json")
    assert fragment in str(info.value)
    assert str(info.value).startswith("city.json")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(AnnotationError, match="file not found"):
        load(tmp_path / "nope.json")
    with pytest.raises(AnnotationError, match="is a folder"):
        load(tmp_path)


def mutate(mini, fn):
    data = copy.deepcopy(mini)
    fn(data)
    return data


@pytest.mark.parametrize(
    "change, path, fragment",
    [
        (lambda d: d["lines"][0]["segments"][0].__setitem__(2, "zz"), "lines[0].segments[0][2]", "unknown station id 'zz'"),
        (lambda d: d["lines"][1]["segments"][0].append("f"), "lines[1].segments[0][4]", "appears twice"),
        (lambda d: d["lines"][2].__setitem__("color", "orange"), "lines[2].color", "does not match"),
        (lambda d: d["lines"][3].__setitem__("segments", [["e"]]), "lines[3].segments[0]", "segment has 1 station"),
        (lambda d: d["lines"][3].__setitem__("id", "R"), "lines[3].id", "also used by lines[0]"),
        (lambda d: d["stations"]["a"].__setitem__("lonlat", [200, 0]), "stations.a.lonlat[0]", "maximum"),
        (lambda d: d["stations"]["a"].__setitem__("lonlat", "east"), "stations.a.lonlat", "type array"),
        (lambda d: d["lines"][0]["segments"][1].__setitem__(0, "h"), "lines[0].segments[1][0]", "branch starts at 'h'"),
        (lambda d: d["stations"]["b"]["codes"].__setitem__("X", "X1"), "stations.b.codes.X", "unknown line"),
        (lambda d: d["stations"]["b"]["codes"].__setitem__("B", "B9"), "stations.b.codes.B", "not on that line"),
        (lambda d: d["stations"]["a"].__setitem__("codes", {"R": "R02"}), "stations.b.codes.R", "also given to station 'a'"),
        (lambda d: d.pop("stations"), "(top level)", "'stations' is a required property"),
        (lambda d: d.__setitem__("colour", "red"), "(top level)", "'colour' was unexpected"),
        (lambda d: d["lines"][0].__setitem__("uncertain_segments", [5]), "lines[0].uncertain_segments", "does not exist"),
        (lambda d: d["lines"][2]["segments"][0].__setitem__(0, 7), "lines[2].segments[0][0]", "type string"),
    ],
)
def test_semantic_and_schema_errors_name_path_and_fix(mini, change, path, fragment):
    problems = problems_of(mutate(mini, change))
    hits = [p for p in problems if p.path == path]
    assert hits, f"no problem at {path}: {[str(p) for p in problems]}"
    assert any(fragment in p.message for p in hits), [p.message for p in hits]
    assert all(p.hint for p in problems), "every error says what to do"


def test_xy_outside_image_is_an_error(mini):
    data = mutate(mini, lambda d: d.update(image={"file": "map.png", "width": 100, "height": 50}))
    data["stations"]["a"]["xy"] = [10, 60]
    problems = problems_of(data)
    assert [p.path for p in problems] == ["stations.a.xy"]
    assert "outside the 100x50 image" in problems[0].message


def test_warnings_are_not_fatal(mini):
    data = mutate(mini, lambda d: d["stations"].update(z={"name": "Zulu Transfer"}, y={"name": "Yankee"}))
    data["lines"].append({"id": "Y", "name": "Island", "color": "#123456", "segments": [["z", "y"]]})
    data["stations"]["b"]["name"] = "Alpha"
    a = loads(data, source="city.json")
    messages = [(w.path, w.message) for w in a.warnings]
    assert any("disconnected parts" in m for _, m in messages)
    assert any(p == "stations.z.name" and "transfer" in m for p, m in messages)
    assert any(p == "stations.b.name" and "shared with another station" in m for p, m in messages)


# Hypothesis: whatever a mutation does to a valid file, only MapkitError escapes.
_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=8),
                  st.just("a"), st.just("#ZZZZZZ"), st.lists(st.text(max_size=3), max_size=3))
_json = st.recursive(_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_annotations_raise_only_mapkit_errors(mini_path, data):
    doc = json.loads(mini_path.read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        target = data.draw(st.sampled_from(paths))
        parent = doc
        for key in target[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if action == "replace":
            parent[target[-1]] = data.draw(_json)
        elif action == "delete":
            del parent[target[-1]]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[target[-1]]))
    try:
        loads(json.dumps(doc).encode(), source="mutant.json")
    except MapkitError:
        pass


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_mapkit_errors(raw):
    try:
        loads(raw, source="bytes.json")
    except MapkitError:
        pass
