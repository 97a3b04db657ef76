"""Question engine: templates as data, executed queries, balance, drops, determinism."""
from __future__ import annotations

import json
import random
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mapkit.annotation import load, loads
from mapkit.dataset import record_problems
from mapkit.errors import TemplateError
from mapkit.graph import TransitMap
from mapkit.questions import (
    DEFAULT_COUNTS,
    GenerationReport,
    counting_options,
    generate,
    load_templates,
    route_text,
    templates_dir,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def templates():
    return load_templates()


@pytest.fixture(scope="module")
def mini(templates):
    tm = TransitMap.from_annotation(load(ROOT / "tests" / "fixtures" / "mini.json"))
    return tm, generate(tm, templates=templates, seed=7)


# ------------------------------------------------------------------ templates

def test_shipped_templates_cover_every_type_and_planning_form(templates):
    assert templates.directory == ROOT / "templates"
    assert set(templates.by_type) == {"TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning",
                                      "Grounding1", "Grounding2", "Grounding3"}
    assert {t.route_form for t in templates.by_type["planning"]} == {"short", "long_num", "long_via"}
    assert {t.id for t in templates.by_type["planning"]} == {"planning_short", "planning_long_num", "planning_long_via"}
    for ts in templates.by_type.values():
        for t in ts:
            assert len(t.paraphrases) >= 3
            assert "\\boxed{}" in t.instruction or t.type == "planning"
    assert "Number of Via Stops:" in templates.by_type["planning"][0].instruction  # sorted: long_num first
    assert "Via Stops:" in templates.by_type["planning"][1].instruction


def _broken(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", folder)
    data = json.loads((folder / "counting.json").read_text())
    edit(data)
    (folder / "counting.json").write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["templates"][1]["paraphrases"].append("How many lines stop at {stop}?"), "undeclared slot(s) ['stop']"),
    (lambda d: d["templates"][1]["paraphrases"].append("How many lines are there at all here?"), "does not show slot(s) ['station']"),
    (lambda d: d["templates"][1]["query"].update(op="count_lines"), "answered by query 'count_lines_through'"),
    (lambda d: d["templates"][1]["query"].update(op="teleport"), "query.op"),
    (lambda d: d["templates"][1].update(answer_format="essay"), "answer_format 'essay'"),
    (lambda d: d["templates"][1]["slots"].update(station="line"), "needs a station"),
    (lambda d: d["templates"][1].pop("paraphrases"), "'paraphrases' is a required property"),
    (lambda d: d["templates"][1].update(id="counting1_stops_between"), "id already used"),
])
def test_broken_template_names_file_and_template(tmp_path, edit, message):
    folder = _broken(tmp_path, edit)
    with pytest.raises(TemplateError) as e:
        load_templates(folder)
    assert "counting.json" in str(e.value)
    assert "counting2_lines_through" in str(e.value) or "counting1_stops_between" in str(e.value)
    assert message in str(e.value)


def test_unparsable_or_missing_templates_are_clear_errors(tmp_path, monkeypatch):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TemplateError, match="bad.json: not valid UTF-8 JSON"):
        load_templates(tmp_path)
    with pytest.raises(TemplateError, match="no template files found"):
        load_templates(tmp_path / "nowhere")
    monkeypatch.setenv("MAPKIT_TEMPLATES", str(tmp_path / "elsewhere"))
    assert templates_dir() == tmp_path / "elsewhere"


def test_templates_folder_override_changes_the_questions(tmp_path):
    folder = _broken(tmp_path, lambda d: d["templates"][2].update(paraphrases=["Tell me the line count of the {map}.", "Lines on the {map}: how many?"]))
    tm = TransitMap.from_annotation(load(ROOT / "tests" / "fixtures" / "mini.json"))
    (record,) = generate(tm, templates=load_templates(folder), counts={"Counting3": 1})
    assert record["question"].split("\n")[0] in ("Tell me the line count of the Mini Metro.", "Lines on the Mini Metro: how many?")
    assert record["answer"] == 4


# ------------------------------------------------------------------ records

# A plain re-reading of the fixture file, independent of TransitMap and the engine: each
# answer below is recomputed from the raw JSON with loops and breadth-first searches.
RAW = json.loads((ROOT / "tests" / "fixtures" / "mini.json").read_text())
NAME = {sid: s["name"] for sid, s in RAW["stations"].items()}
MEMBERS = {ln["id"]: {s for seg in ln["segments"] for s in seg} for ln in RAW["lines"]}
LINE_NAME = {ln["id"]: ln["name"] for ln in RAW["lines"]}


def _line_adjacency(line_id: str) -> dict[str, set[str]]:
    adj: dict[str, set[str]] = defaultdict(set)
    (line,) = [ln for ln in RAW["lines"] if ln["id"] == line_id]
    for seg in line["segments"]:
        pairs = list(zip(seg, seg[1:])) + ([(seg[-1], seg[0])] if line.get("loop") else [])
        for x, y in pairs:
            adj[x].add(y)
            adj[y].add(x)
    return adj


def _hops(adj: dict[str, set[str]], a: str, b: str) -> int:
    frontier, seen, hops = {a}, {a}, 0
    while b not in frontier:
        frontier = {n for x in frontier for n in adj[x]} - seen
        seen |= frontier
        hops += 1
        assert frontier, (a, b)
    return hops


def _network_adjacency() -> dict[str, set[str]]:
    adj: dict[str, set[str]] = defaultdict(set)
    for line_id in MEMBERS:
        for x, ns in _line_adjacency(line_id).items():
            adj[x] |= ns
    return adj


def _min_transfers(a: str, b: str) -> int:
    # Breadth-first over lines: lines touching a are at 0 transfers, and a line sharing a
    # station with one at k transfers is at k + 1.
    level = {lid for lid, m in MEMBERS.items() if a in m}
    seen, transfers = set(level), 0
    while not any(b in MEMBERS[lid] for lid in level):
        level = {o for lid in level for o in MEMBERS if o not in seen and MEMBERS[o] & MEMBERS[lid]}
        seen |= level
        transfers += 1
    return transfers


def test_every_record_is_valid_and_its_answer_matches_a_plain_recount(mini, templates):
    _, records = mini
    by_id = {t.id: t for ts in templates.by_type.values() for t in ts}
    line_id_of = {v: k for k, v in LINE_NAME.items()}
    assert {r["type"] for r in records} == set(DEFAULT_COUNTS)
    for r in records:
        assert record_problems({**r, "split": "train"}) == [], r
        args = json.loads(r["program"])["args"]
        t = r["type"]
        if t == "TorF1":
            assert r["answer"] == int(any({args["station_1"], args["station_2"]} <= m for m in MEMBERS.values()))
        elif t == "TorF2":
            assert r["answer"] == int(args["station"] in MEMBERS[args["line"]])
        elif t == "Counting1":
            between = _hops(_line_adjacency(args["line"]), args["station_1"], args["station_2"]) - 1
            assert r["options"][r["answer"]] == between
        elif t == "Counting2":
            assert r["answer"] == sum(args["station"] in m for m in MEMBERS.values())
        elif t == "Counting3":
            assert r["answer"] == len(RAW["lines"])
        else:
            a, b = args["station_1"], args["station_2"]
            assert r["question_transfer_count"] == _min_transfers(a, b)
            for route in r["reference_routes"]:
                assert len(route) == r["question_transfer_count"] + 1
                assert route[0]["departure_stop"] == NAME[a] and route[-1]["arrival_stop"] == NAME[b]
                for section, nxt in zip(route, route[1:]):
                    assert section["arrival_stop"] == nxt["departure_stop"]
                for section in route:
                    ids = {v: k for k, v in NAME.items()}
                    lid = line_id_of[section["route_name"]]
                    dep, arr = ids[section["departure_stop"]], ids[section["arrival_stop"]]
                    assert {dep, arr} <= MEMBERS[lid]
                    assert section["num_via_stops"] == len(section["via_stops"]) == _hops(_line_adjacency(lid), dep, arr) - 1
            assert r["answer_text"] == route_text(r["reference_routes"][0], by_id[r["template_id"]].route_form)
        template = by_id[r["template_id"]]
        assert template.type == r["type"]
        assert r["question"].endswith("\n" + template.instruction)


def test_station_and_line_columns_are_display_names(mini):
    tm, records = mini
    names = {s.name for s in tm.annotation.stations.values()}
    lines = {line.name for line in tm.annotation.lines}
    for r in records:
        for column in ("station_1", "station_2"):
            if r[column] is not None:
                assert r[column] in names and r[column] in r["question"]
        if r["line"] is not None:
            assert r["line"] in lines and r["line"] in r["question"]
        assert (r["line"] is not None) == (r["type"] in ("TorF2", "Counting1"))


# The README's question-difficulty table, typed out again: (easy upper bound, middle upper bound).
README_BOUNDS = {"TorF1": (4, 10), "TorF2": (18, 28), "Counting1": (3, 7), "Counting2": (1, 2), "Counting3": (4, 9), "planning": (0, 1)}


def test_difficulty_follows_the_readme_table(mini):
    _, records = mini
    network = _network_adjacency()
    for r in records:
        args, t = json.loads(r["program"])["args"], r["type"]
        if t == "Counting1":
            measure = _hops(_line_adjacency(args["line"]), args["station_1"], args["station_2"]) - 1
        elif t == "Counting2":
            measure = sum(args["station"] in m for m in MEMBERS.values())
        elif t == "Counting3":
            measure = len(RAW["lines"])
        elif t == "planning":
            measure = _min_transfers(args["station_1"], args["station_2"])
        elif t == "TorF2":
            measure = len(MEMBERS[args["line"]])
        else:
            measure = _hops(network, args["station_1"], args["station_2"])
        easy, middle = README_BOUNDS[t]
        expected = "easy" if measure <= easy else "middle" if measure <= middle else "hard"
        assert r["difficulty_question"] == expected, (t, measure)
        assert r["difficulty_city"] == "easy" and r["city_line_count"] == 4 and r["city_transfer_count"] == 4


def test_counting_options_are_four_distinct_near_misses():
    rng = random.Random(0)
    for correct in range(40):
        for letter in range(4):
            options = counting_options(correct, letter, rng, other_way=correct + 9 if correct % 2 else None)
            assert len(set(options)) == 4 and min(options) >= 0
            assert options[letter] == correct
            assert all(abs(o - correct) <= 3 or o == correct + 9 for o in options)


def test_counting1_letters_and_templates_are_used_evenly(mini):
    _, records = mini
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_type[r["type"]].append(r)
    letters = Counter(r["answer_text"] for r in by_type["Counting1"])
    assert set(letters) == set("ABCD") and max(letters.values()) - min(letters.values()) <= 1
    for rtype, rs in by_type.items():
        per_template = Counter(r["template_id"] for r in rs)
        assert max(per_template.values()) - min(per_template.values()) <= 1, rtype
        for tid in per_template:
            paraphrases = Counter(json.loads(r["program"])["paraphrase"] for r in rs if r["template_id"] == tid)
            assert max(paraphrases.values()) - min(paraphrases.values()) <= 1, tid
        assert len(per_template) == 1 or rtype == "planning", rtype
    assert set(Counter(r["template_id"] for r in by_type["planning"])) == {"planning_short", "planning_long_num", "planning_long_via"}


def test_yes_no_is_balanced_and_questions_are_distinct(mini):
    _, records = mini
    for rtype in ("TorF1", "TorF2"):
        answers = Counter(r["answer"] for r in records if r["type"] == rtype)
        assert abs(answers[1] - answers[0]) <= 1 and answers[1] > 5
    keys = Counter((r["type"], frozenset((r["station_1"], r["station_2"], r["line"]))) for r in records)
    assert max(keys.values()) == 1
    assert len({r["id"] for r in records}) == len(records)
    assert len({r["question"] for r in records}) == len(records)


def test_same_seed_same_records_other_seed_other_records(templates):
    tm = TransitMap.from_annotation(load(ROOT / "tests" / "fixtures" / "mini.json"))
    a = generate(tm, templates=templates, seed=1)
    b = generate(TransitMap.from_annotation(load(ROOT / "tests" / "fixtures" / "mini.json")), templates=templates, seed=1)
    c = generate(tm, templates=templates, seed=2)
    assert a == b
    assert [r["id"] for r in a] != [r["id"] for r in c]


def test_types_are_independent_of_each_other(templates):
    tm = TransitMap.from_annotation(load(ROOT / "tests" / "fixtures" / "mini.json"))
    alone = generate(tm, templates=templates, seed=1, counts={"TorF2": 10})
    together = generate(tm, templates=templates, seed=1, counts={"TorF1": 6, "TorF2": 10})
    assert alone == [r for r in together if r["type"] == "TorF2"]
    assert len(alone) == 10


# ------------------------------------------------------------------ degenerate questions

TRICKY = {
    "schema_version": 1, "city": "tricky", "country": "Nowhere", "name": "Tricky (fixture)", "language": "en",
    "license": "CC0-1.0", "source": "test",
    "stations": {
        **{s: {"name": s.upper()} for s in "abcdefghij"},
        "x1": {"name": "Twin"}, "x2": {"name": "twin"},
    },
    "lines": [
        # a loop of six: opposite stations are equally far both ways round
        {"id": "L", "name": "Loop Line", "color": "#112233", "loop": True, "segments": [["a", "b", "c", "d", "e", "f"]]},
        # a branch of uncertain order after d
        {"id": "U", "name": "Branch Line", "color": "#445566", "segments": [["d", "g", "x1"], ["g", "h", "i"]], "uncertain_segments": [1]},
        {"id": "T", "name": "Twin Line", "color": "#778899", "segments": [["a", "x2", "j"]]},
    ],
}


def test_degenerate_and_ambiguous_questions_are_dropped(templates):
    tm = TransitMap.from_annotation(loads(TRICKY))
    report = GenerationReport("tricky")
    records = generate(tm, templates=templates, seed=0, counts={t: 200 for t in DEFAULT_COUNTS}, report=report)
    assert records
    asked = {r[c] for r in records for c in ("station_1", "station_2")}
    assert "Twin" not in asked and "twin" not in asked  # display names collide
    assert report.dropped["*", "display name shared by another station"] == 2
    opposite = {frozenset(p) for p in (("A", "D"), ("B", "E"), ("C", "F"))}
    for r in records:
        assert r["station_1"] != r["station_2"] or r["type"] == "Counting3"
        pair = frozenset((r["station_1"], r["station_2"]))
        if r["type"] == "Counting1" and r["line"] == "Loop Line":
            assert pair not in opposite  # both ways round are equally long
        if r["type"] in ("Counting1", "planning"):
            # nothing order-dependent may ride the uncertain branch g-h-i
            touched = {r["station_1"], r["station_2"]}
            for route in r["reference_routes"] or []:
                for s in route:
                    touched |= {s["departure_stop"], s["arrival_stop"], *s["via_stops"]}
            if r["type"] == "Counting1" and r["line"] == "Branch Line":
                assert not touched & {"H", "I"}
            for route in r["reference_routes"] or []:
                assert not any(s["route_name"] == "Branch Line" and {s["departure_stop"], s["arrival_stop"]} & {"H", "I"} for s in route)
    planned = {frozenset((r["station_1"], r["station_2"])) for r in records if r["type"] == "planning"}
    assert planned and not planned & opposite  # only way between them: either way round the loop
    assert report.dropped["planning", "AmbiguousQueryError"] >= 3
    assert report.dropped["Counting1", "AmbiguousQueryError"] >= 3
    assert report.dropped["Counting1", "UncertainTopologyError"] >= 1
    # membership questions may still use the uncertain branch
    assert any(r["type"] in ("TorF2", "Counting2") and r["station_1"] in ("H", "I") for r in records)


def test_unknown_type_is_an_error(templates):
    tm = TransitMap.from_annotation(load(ROOT / "tests" / "fixtures" / "mini.json"))
    with pytest.raises(Exception, match="unknown record type"):
        generate(tm, templates=templates, counts={"TorF3": 1})
