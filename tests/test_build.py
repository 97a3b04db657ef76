"""`mapkit build` end to end: Tokyo out of the box, the 30 ReasonMap cities, and every
answer re-derived by a plain loop over the annotation JSON (no engine or graph code)."""
from __future__ import annotations

import json
import os
from collections import Counter, defaultdict, deque
from pathlib import Path

import pytest
from PIL import Image

from mapkit.dataset import read_dataset, validate_folder

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini.json"


# ------------------------------------------------------------------ independent answers

class PlainMap:
    """What the annotation file says, read with dicts and loops only."""

    def __init__(self, data: dict):
        self.data = data
        names = Counter(st["name"] for st in data["stations"].values())
        self.id_of = {st["name"]: sid for sid, st in data["stations"].items() if names[st["name"]] == 1}
        self.ids_named: dict[str, set[str]] = defaultdict(set)
        for sid, st in data["stations"].items():
            self.ids_named[st["name"]].add(sid)
        self.members: dict[str, set[str]] = {}
        self.adjacent: dict[str, dict[str, set[str]]] = {}
        for line in data["lines"]:
            adj: dict[str, set[str]] = defaultdict(set)
            for seg in line["segments"]:
                for a, b in zip(seg, seg[1:]):
                    adj[a].add(b)
                    adj[b].add(a)
            if line.get("loop"):
                first = line["segments"][0]
                adj[first[0]].add(first[-1])
                adj[first[-1]].add(first[0])
            self.members[line["name"]] = {s for seg in line["segments"] for s in seg}
            self.adjacent[line["name"]] = adj

    def sid(self, name: str) -> str:
        assert name in self.id_of, f"asked station {name!r} is missing or its display name is not unique"
        return self.id_of[name]

    def hops_along(self, line: str, a: str, b: str) -> int:
        seen, queue = {a: 0}, deque([a])
        while queue:
            x = queue.popleft()
            for y in self.adjacent[line][x]:
                if y not in seen:
                    seen[y] = seen[x] + 1
                    queue.append(y)
        return seen[b]

    def fewest_transfers(self, a: str, b: str) -> int:
        start = [name for name, m in self.members.items() if a in m]
        depth, queue = {name: 0 for name in start}, deque(start)
        while queue:
            x = queue.popleft()
            if b in self.members[x]:
                return depth[x]
            for y, m in self.members.items():
                if y not in depth and m & self.members[x]:
                    depth[y] = depth[x] + 1
                    queue.append(y)
        raise AssertionError(f"no route from {a} to {b}")


def check_record(plain: PlainMap, r: dict) -> None:
    t = r["type"]
    if t == "TorF1":
        a, b = plain.sid(r["station_1"]), plain.sid(r["station_2"])
        assert r["answer"] == int(any(a in m and b in m for m in plain.members.values()))
    elif t == "TorF2":
        assert r["answer"] == int(plain.sid(r["station_1"]) in plain.members[r["line"]])
    elif t == "Counting1":
        a, b = plain.sid(r["station_1"]), plain.sid(r["station_2"])
        assert r["options"][r["answer"]] == plain.hops_along(r["line"], a, b) - 1
        assert "ABCD"[r["answer"]] == r["answer_text"] and len(set(r["options"])) == 4
    elif t == "Counting2":
        s = plain.sid(r["station_1"])
        assert r["answer"] == sum(s in m for m in plain.members.values())
    elif t == "Counting3":
        assert r["answer"] == len(plain.data["lines"])
    else:
        a, b = plain.sid(r["station_1"]), plain.sid(r["station_2"])
        assert r["answer"] == -1 and r["station_1"] != r["station_2"]
        uncertain = any(line.get("uncertain_segments") for line in plain.data["lines"])
        for route in r["reference_routes"]:
            # ReasonMap's validity rules, then the via stops and the fewest transfers
            assert route[0]["departure_stop"] == r["station_1"] and route[-1]["arrival_stop"] == r["station_2"]
            for s, nxt in zip(route, route[1:] + [None]):
                line = s["route_name"]
                dep, arr = plain.sid(s["departure_stop"]), plain.sid(s["arrival_stop"])
                assert dep in plain.members[line] and arr in plain.members[line]
                if nxt is not None:
                    assert s["arrival_stop"] == nxt["departure_stop"]
                # via stops may carry a name two stations share: follow every reading of it
                here = {dep}
                for name in s["via_stops"] + [s["arrival_stop"]]:
                    here = {y for y in plain.ids_named[name] if any(y in plain.adjacent[line][x] for x in here)}
                    assert here, f"{name} does not follow on {line}"
                assert arr in here
                assert len(s["via_stops"]) + 1 == plain.hops_along(line, dep, arr) == s["num_via_stops"] + 1
            transfers = len(route) - 1
            assert transfers == r["question_transfer_count"]
            fewest = plain.fewest_transfers(a, b)
            assert transfers == fewest or (uncertain and transfers > fewest)


def check_folder(out: Path) -> list[dict]:
    rows = [r for rs in read_dataset(out).values() for r in rs]
    plains = {}
    for r in rows:
        if r["annotation"] not in plains:
            plains[r["annotation"]] = PlainMap(json.loads((out / r["annotation"]).read_text("utf-8")))
        check_record(plains[r["annotation"]], r)
    return rows


# ------------------------------------------------------------------ Tokyo, the README's main command

@pytest.fixture(scope="module")
def tokyo_build(tmp_path_factory):
    from mapkit.cli import main

    out = tmp_path_factory.mktemp("tokyo") / "out"
    cwd = os.getcwd()
    os.chdir(ROOT)  # the README's command, run from the repository root with its defaults
    try:
        code = main(["build", "--city", "tokyo", "--out", str(out)])
    finally:
        os.chdir(cwd)
    assert code == 0
    return out


def test_tokyo_builds_out_of_the_box_and_every_answer_rederives(tokyo_build):
    manifest = validate_folder(tokyo_build)
    rows = check_folder(tokyo_build)
    counts = Counter(r["type"] for r in rows)
    assert counts == {"TorF1": 35, "TorF2": 31, "Counting1": 35, "Counting2": 32, "Counting3": 1, "planning": 34}
    assert manifest["counts"]["type"] == dict(counts)
    assert (tokyo_build / "maps" / "tokyo.png").is_file() and {r["figure"] for r in rows} == {"maps/tokyo.png"}
    if manifest["cities"]["tokyo"]["map_source"] == "rendered":
        assert (tokyo_build / "maps" / "tokyo.geometry.json").is_file()


def test_tokyo_build_is_balanced(tokyo_build):
    rows = check_folder(tokyo_build)
    for t in ("TorF1", "TorF2"):
        answers = Counter(r["answer"] for r in rows if r["type"] == t)
        assert abs(answers[0] - answers[1]) <= 1
    letters = Counter(r["answer_text"] for r in rows if r["type"] == "Counting1")
    assert max(letters.values()) - min(letters.values()) <= 1
    plain = PlainMap(json.loads((tokyo_build / "annotations" / "tokyo.json").read_text()))
    check_spread_counting2(plain, [r for r in rows if r["type"] == "Counting2"])
    # planning spreads over 0 / 1 / 2+ transfers, as far as the network allows
    labels = {r["difficulty_question"] for r in rows if r["type"] == "planning"}
    assert labels == {"easy", "middle", "hard"} if line_graph_diameter(plain) >= 2 else labels == {"easy", "middle"}


def line_graph_diameter(plain: PlainMap) -> int:
    """Most line changes ever needed: the longest shortest path between two lines."""
    worst = 0
    for start in plain.members:
        depth, queue = {start: 0}, deque([start])
        while queue:
            x = queue.popleft()
            for y, m in plain.members.items():
                if y not in depth and m & plain.members[x]:
                    depth[y] = depth[x] + 1
                    queue.append(y)
        worst = max(worst, *depth.values())
    return worst


def test_tokyo_loads_with_datasets_offline(tokyo_build, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    ds = datasets.load_dataset(str(tokyo_build), cache_dir=str(tmp_path / "cache"))
    assert set(ds) == {"train", "test"} and ds["train"].num_rows + ds["test"].num_rows == 168


def check_spread_counting2(plain: PlainMap, rows: list[dict]) -> None:
    """Water-filling: a value asked clearly less often than another has no station left."""
    available = Counter(sum(s in m for m in plain.members.values()) for s in plain.id_of.values()
                        if any(s in m for m in plain.members.values()))
    asked = Counter(r["answer"] for r in rows)
    for value, n in asked.items():
        for other, available_n in available.items():
            if asked[other] < n - 1:
                assert asked[other] == available_n, (value, other, asked, available)


# ------------------------------------------------------------------ CLI

@pytest.fixture
def mini_dir(tmp_path) -> Path:
    folder = tmp_path / "ann"
    folder.mkdir()
    data = json.loads(MINI.read_text())
    data["image"] = {"file": "mini.png", "width": 64, "height": 48}
    (folder / "mini.json").write_text(json.dumps(data))
    Image.new("RGB", (64, 48), "white").save(folder / "mini.png")
    return folder


def test_cli_build_prints_a_summary_and_honours_options(run_cli, mini_dir, tmp_path):
    code, out, err = run_cli("build", "--city", "mini", "--annotations", mini_dir, "--out", tmp_path / "ds",
                             "--seed", "3", "--types", "TorF1,Counting2", "--types", "planning", "--per-type", "6")
    assert code == 0, err
    assert "questions built" in out and "TorF1" in out and "Counting1" not in out
    assert "18 questions from 1 city" in out
    rows = [r for rs in read_dataset(tmp_path / "ds").values() for r in rs]
    assert Counter(r["type"] for r in rows) == {"TorF1": 6, "Counting2": 6, "planning": 6}
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["options"]["counts"] == {"TorF1": 6, "Counting2": 6, "planning": 6}


def test_file_name_and_city_field_disagreeing_is_a_warning(run_cli, tmp_path):
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "other.json").write_text(MINI.read_text())
    code, _, err = run_cli("build", "--city", "other", "--annotations", folder, "--out", tmp_path / "ds", "--no-images")
    assert code == 0 and "named 'other' but its city is 'mini'" in err
    assert (tmp_path / "ds" / "annotations" / "mini.json").is_file()


@pytest.mark.parametrize("args, code, message", [
    ((), 2, "give --city NAME or --all"),
    (("--city", "mini", "--all"), 2, "give --city NAME or --all"),
    (("--city", "atlantis"), 1, "no annotation for city 'atlantis'"),
    (("--city", "mini", "--types", "TorF9"), 1, "unknown type(s) TorF9"),
    (("--city", "mini", "--per-type", "0"), 2, "--per-type"),
    (("--city", "mini", "--split-by", "city"), 1, "at least two cities"),
])
def test_cli_build_errors(run_cli, mini_dir, tmp_path, args, code, message):
    got, out, err = run_cli("build", "--annotations", mini_dir, "--out", tmp_path / "ds", *args)
    assert got == code
    assert message in err.replace("\n", " ")
    assert not (tmp_path / "ds").exists()


def test_city_with_coordinates_but_no_image_gets_a_rendered_map(run_cli, tmp_path):
    code, out, err = run_cli("build", "--city", "mini", "--annotations", MINI.parent, "--out", tmp_path / "ds",
                             "--types", "Counting3")
    assert code == 0, err
    assert "maps: rendered" in out
    manifest = validate_folder(tmp_path / "ds")
    assert manifest["cities"]["mini"]["map_source"] == "rendered"
    with Image.open(tmp_path / "ds" / "maps" / "mini.png") as im:
        assert im.format == "PNG" and im.width == 4000
    geometry = json.loads((tmp_path / "ds" / "maps" / "mini.geometry.json").read_text())
    assert geometry
    assert (tmp_path / "ds" / "maps" / "mini.png").stat().st_mode & 0o044  # readable beyond the owner


def test_city_without_image_or_coordinates_is_an_error_naming_the_fix(run_cli, tmp_path):
    data = json.loads(MINI.read_text())
    for st in data["stations"].values():
        st.pop("lonlat", None)
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "bare.json").write_text(json.dumps({**data, "city": "bare"}))
    code, _, err = run_cli("build", "--city", "bare", "--annotations", folder, "--out", tmp_path / "ds")
    assert code == 1 and "no map for bare" in err and "--skip-missing-images" in err and "--no-images" in err
    code, _, err = run_cli("build", "--city", "bare", "--annotations", folder, "--out", tmp_path / "ds", "--no-images")
    assert code == 0, err
    assert {r["figure"] for rs in read_dataset(tmp_path / "ds").values() for r in rs} == {""}
    assert list((tmp_path / "ds" / "maps").iterdir()) == []


# ------------------------------------------------------------------ the 30 ReasonMap cities

def test_all_30_cities_build_with_their_real_images(run_cli, reasonmap_annotations, reasonmap_dir, tmp_path):
    # the imported annotations point at ../shared/reasonmap/maps: outside their folder, so
    # only an explicit --images-root lets the build copy them
    code, _, err = run_cli("build", "--all", "--annotations", reasonmap_annotations, "--out", tmp_path / "all")
    assert code == 1 and "image.file" in err and "--images-root" in err
    maps = ["--images-root", reasonmap_dir / "maps"]
    code, _, err = run_cli("build", "--all", "--annotations", reasonmap_annotations, "--out", tmp_path / "all", *maps)
    assert code == 1 and "no map for auckland, beijing" in err

    code, _, err = run_cli("build", "--all", "--annotations", reasonmap_annotations, "--out", tmp_path / "all",
                           "--skip-missing-images", *maps)
    assert code == 0, err
    assert "left out 13 cities" in err and "shanghai" in err
    manifest = validate_folder(tmp_path / "all")
    assert len(manifest["cities"]) == 17 and len(manifest["skipped_cities"]) == 13
    assert len(list((tmp_path / "all" / "maps").glob("*.png"))) == 17
    assert len(list((tmp_path / "all" / "annotations").glob("*.json"))) == 17
    rows = check_folder(tmp_path / "all")
    assert {r["figure"] for r in rows} == {f"maps/{c}.png" for c in manifest["cities"]}


def test_all_30_cities_text_only_are_balanced_and_rederive(run_cli, reasonmap_annotations, tmp_path):
    code, _, err = run_cli("build", "--all", "--annotations", reasonmap_annotations, "--out", tmp_path / "text",
                           "--no-images", "--split-by", "city")
    assert code == 0, err
    rows = check_folder(tmp_path / "text")
    assert len({r["city"] for r in rows}) == 30 and {r["figure"] for r in rows} == {""}
    by_city = defaultdict(list)
    for r in rows:
        by_city[r["city"]].append(r)
    test_cities = {r["city"] for r in rows if r["split"] == "test"}
    assert 4 <= len(test_cities) <= 8 and all(len({r["split"] for r in rs}) == 1 for rs in by_city.values())
    plus = sum(1 for r in rows if r["type"] != "planning")
    assert plus >= 3800  # ReasonMap-Plus has 4,018 over the same cities
    for city, rs in by_city.items():
        plain = PlainMap(json.loads((tmp_path / "text" / "annotations" / f"{city}.json").read_text()))
        for t in ("TorF1", "TorF2"):
            answers = Counter(r["answer"] for r in rs if r["type"] == t)
            assert abs(answers[0] - answers[1]) <= 1, (city, t, answers)
        check_spread_counting2(plain, [r for r in rs if r["type"] == "Counting2"])
        assert sum(r["type"] == "Counting3" for r in rs) == 1
    for t in ("TorF1", "Counting1", "planning"):
        labels = Counter(r["difficulty_question"] for r in rows if r["type"] == t)
        assert min(labels.values()) >= 0.15 * sum(labels.values()), (t, labels)
