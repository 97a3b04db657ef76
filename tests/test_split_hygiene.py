"""Split hygiene: no test question can be answered from a train question, across types."""
from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mapkit.annotation import load
from mapkit.dataset import assign_splits, build_dataset, check_split_leaks, read_dataset, split_file, validate_folder
from mapkit.dataset.records import write_parquet
from mapkit.errors import DatasetError
from mapkit.graph import TransitMap
from mapkit.questions import DEFAULT_COUNTS, generate, load_templates

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini.json"


def leaks(rows: list[dict]) -> list[tuple[str, str]]:
    """Oracle, written as plain loops over every pair of records in different splits:
    the same (city, station pair) in any two types, or a TorF2 "is S on L" against a
    record that states S is on L (a Counting1 endpoint on L, a planning route riding L
    through S) or asks it again."""
    def stated(r):  # (line, station) facts a record states
        if r["type"] == "Counting1":
            return {(r["line"], r["station_1"]), (r["line"], r["station_2"])}
        if r["type"] == "planning":
            return {(sec["route_name"], s) for route in r["reference_routes"] for sec in route
                    for s in [sec["departure_stop"], sec["arrival_stop"], *sec["via_stops"]]}
        return set()

    found = []
    for a in rows:
        for b in rows:
            if a["split"] == b["split"] or a["city"] != b["city"] or a["id"] >= b["id"]:
                continue
            if a["station_2"] and b["station_2"] and {a["station_1"], a["station_2"]} == {b["station_1"], b["station_2"]}:
                found.append((a["id"], b["id"]))
            for x, y in ((a, b), (b, a)):
                fact = (x["line"], x["station_1"])
                if x["type"] == "TorF2" and (fact in stated(y) or (y["type"] == "TorF2" and (y["line"], y["station_1"]) == fact)):
                    found.append((x["id"], y["id"]))
    return found


def _mini_records(n_cities: int) -> list[dict]:
    from mapkit.annotation import loads

    data = json.loads(MINI.read_text())
    templates = load_templates()
    records = []
    for i in range(n_cities):
        ann = loads({**data, "city": f"mini{i}", "name": f"Mini {i}"})
        records.extend(generate(TransitMap.from_annotation(ann), templates=templates, seed=i))
    return records


def test_small_cities_drop_rather_than_leak_and_keep_yes_no_balanced():
    records = _mini_records(4)  # 12 stations each: nearly every question touches every other
    assert leaks([{**r, "split": "train" if i % 5 else "test"} for i, r in enumerate(records)])  # the oracle sees leaks
    kept = assign_splits(records, seed=0)
    assert leaks(kept) == []
    assert 0 < len(kept) < len(records) and {r["split"] for r in kept} == {"train", "test"}
    for city in {r["city"] for r in records}:
        for t in ("TorF1", "TorF2"):
            before = Counter(r["answer"] for r in records if r["city"] == city and r["type"] == t)
            after = Counter(r["answer"] for r in kept if r["city"] == city and r["type"] == t)
            assert abs(after[1] - after[0]) <= max(1, abs(before[1] - before[0])), (city, t, after)


def test_planted_cross_type_leaks_are_rejected_with_both_ids(tmp_path, run_cli):
    out = tmp_path / "ds"
    build_dataset([MINI], out, images=False, warn=lambda m: None)
    data = read_dataset(out)
    rows = [r for rs in data.values() for r in rs]
    assert leaks(rows) == []
    validate_folder(out)

    # a train TorF1 item hand-edited to ask about a test planning item's stations (reversed)
    plan = next(r for r in rows if r["type"] == "planning" and r["split"] == "test")
    torf = next(r for r in rows if r["type"] == "TorF1" and r["split"] == "train")
    torf.update(station_1=plan["station_2"], station_2=plan["station_1"])
    write_parquet(data["train"], out / split_file("train"))
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))  # vouch for the edit: past the hash check
    manifest["files"][split_file("train")] = hashlib.sha256((out / split_file("train")).read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    assert leaks(rows) == [tuple(sorted((plan["id"], torf["id"])))]
    with pytest.raises(DatasetError, match="leaks between splits") as e:
        validate_folder(out)
    assert plan["id"] in str(e.value) and torf["id"] in str(e.value) and "station pair" in str(e.value)
    code, _, err = run_cli("validate", out)
    assert code == 1 and plan["id"] in err and torf["id"] in err


def test_planted_line_station_fact_leak_is_rejected():
    records = _mini_records(1)
    kept = assign_splits(records, seed=0)
    check_split_leaks(kept)
    plan = next(r for r in kept if r["type"] == "planning" and r["split"] == "test")
    section = plan["reference_routes"][0][0]
    asker = next(r for r in kept if r["type"] == "TorF2" and r["split"] == "train")
    asker.update(line=section["route_name"], station_1=section["via_stops"][0] if section["via_stops"] else section["arrival_stop"])
    assert leaks(kept)
    with pytest.raises(DatasetError, match="leaks between splits") as e:
        check_split_leaks(kept)
    fact = (asker["line"], asker["station_1"])
    stating = {b if a == asker["id"] else a for a, b in leaks(kept)}
    assert plan["id"] in stating
    message = str(e.value)
    assert asker["id"] in message and any(i in message for i in stating) and f"{fact[1]} is on {fact[0]}" in message
    # two records that only state facts (planning and Counting1) may sit in different splits
    stating = [r for r in kept if r["type"] in ("planning", "Counting1")]
    check_split_leaks([{**r, "split": "train" if i % 2 else "test"} for i, r in enumerate(stating)
                       if not any(x["station_2"] and {x["station_1"], x["station_2"]} == {r["station_1"], r["station_2"]}
                                  for x in stating[:i])])


# ------------------------------------------------------------------ the 30 ReasonMap cities

def test_30_cities_have_no_pair_or_fact_in_both_splits(run_cli, reasonmap_annotations, tmp_path):
    out = tmp_path / "text"
    code, stdout, err = run_cli("build", "--all", "--annotations", reasonmap_annotations, "--out", out, "--no-images")
    assert code == 0, err
    rows = [r for rs in read_dataset(out).values() for r in rs]
    by_city = defaultdict(list)
    for r in rows:
        by_city[r["city"]].append(r)
    assert len(by_city) == 30
    for city, rs in by_city.items():
        assert leaks(rs) == [], city
        assert {r["split"] for r in rs} == {"train", "test"}, city
    # what was dropped: the generator's own records per city, minus what the folder keeps
    manifest = json.loads((out / "manifest.json").read_text())
    templates = load_templates()
    dropped = {}
    for city in by_city:
        made = generate(TransitMap.from_annotation(load(reasonmap_annotations / f"{city}.json")), templates=templates,
                        seed=0, counts=DEFAULT_COUNTS, figure="")
        dropped[city] = len(made) - len(by_city[city])
        assert manifest["cities"][city]["dropped_split_hygiene"] == dropped[city], city
    assert 0 < sum(dropped.values()) < 0.05 * len(rows)
    shown = " ".join(stdout.split())
    assert "dropped for split hygiene" in shown
    assert all(f"{c} {n}" in shown for c, n in dropped.items() if n)
    card = (out / "README.md").read_text()
    assert "dropped for split hygiene" in card
    for city, n in dropped.items():
        assert f"| {city} |" in card and any(line.startswith(f"| {city} |") and line.split("|")[-3].strip() == str(n)
                                              for line in card.splitlines()), city


def _hand_record(rid: str, rtype: str, split: str, *, station_1=None, station_2=None, line=None, routes=None) -> dict:
    return {"id": rid, "type": rtype, "split": split, "city": "c", "question": f"question {rid}",
            "station_1": station_1, "station_2": station_2, "line": line, "reference_routes": routes}


def test_a_route_stating_an_asked_fact_is_caught_among_facts_nobody_asks():
    """Hand-made records: the leak index keeps only stated facts some record asks, and a
    planning route that rides L1 through S (a via stop of its second section) still
    conflicts with the TorF2 asking "is S on L1". Worked by hand: the route also states
    A, X, B, Q, R on L2/L1 and the Counting1 states S and Y on L3, none of them asked;
    the other TorF2 asks Z on L2, which nothing states. So exactly one leak: p1 / t2."""
    from mapkit.dataset import question_groups

    route = [[{"route_name": "L2", "departure_stop": "A", "arrival_stop": "X", "via_stops": ["Z0"], "num_via_stops": 1},
              {"route_name": "L1", "departure_stop": "X", "arrival_stop": "B", "via_stops": ["Q", "S", "R"],
               "num_via_stops": 3}]]
    records = [
        _hand_record("t2", "TorF2", "train", station_1="S", line="L1"),
        _hand_record("p1", "planning", "test", station_1="A", station_2="B", routes=route),
        _hand_record("c1", "Counting1", "test", station_1="S", station_2="Y", line="L3"),
        _hand_record("t3", "TorF2", "test", station_1="Z", line="L2"),
    ]
    assert question_groups(records) == [[0, 1], [2], [3]]
    with pytest.raises(DatasetError) as e:
        check_split_leaks(records)
    assert str(e.value) == ("1 split leak(s); move the records into one split or drop one:\n"
                            "record p1 (planning, test) leaks between splits: it shares the fact that S is on L1 in c "
                            "with record t2 (TorF2, train)")
    check_split_leaks([{**r, "split": "test"} if r["id"] == "t2" else r for r in records])  # one split: no leak
    # the same route through S on another line than the one asked: no conflict at all
    elsewhere = [[{**route[0][0]}, {**route[0][1], "route_name": "L4"}]]
    moved = [{**r, "reference_routes": elsewhere} if r["id"] == "p1" else r for r in records]
    assert question_groups(moved) == [[0], [1], [2], [3]]
    check_split_leaks(moved)
