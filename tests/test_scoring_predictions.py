"""`mapkit eval --predictions`: saved completions scored without a model (and without
torch), the released ReasonMap / ReasonMap-Plus layouts read both ways, and the papers'
tables in the report."""
from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mapkit.errors import DatasetError
from mapkit.evaluation.data import open_dataset
from mapkit.evaluation.paper_tables import plus_table, reasonmap_table
from mapkit.evaluation.predictions import PredictionsError, read_predictions, score_predictions
from mapkit.evaluation.report import load_predictions, load_report
from mapkit.evaluation.scorers import Scorer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> Path:
    from mapkit.dataset import build_dataset

    out = tmp_path_factory.mktemp("scoring") / "mini"
    build_dataset([FIXTURES / "mini.json"], out, seed=0)
    return out


@pytest.fixture(scope="module")
def records(mini) -> list[dict]:
    return pq.read_table(mini / "data" / "test-00000-of-00001.parquet").to_pylist()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def gold(record: dict) -> str:
    return record["answer_text"] if record["type"] == "planning" else f"\\boxed{{{record['answer_text']}}}"


def test_cli_scores_saved_predictions(tmp_path, mini, records, run_cli):
    pred = write_jsonl(tmp_path / "pred.jsonl", [{"id": r["id"], "completion": "<think>\\boxed{maybe}</think>" + gold(r), "model": "api-x"}
                                                 for r in records])
    out = tmp_path / "report.json"
    code, stdout, stderr = run_cli("eval", "--predictions", pred, "--data", mini, "--scorer", "reasonmap", "--out", out)
    assert code == 0, stderr
    report = load_report(out)
    assert report["scorer"] == "reasonmap" and report["scored_by"]["planning"] == "ReasonMap main.py"
    assert report["accuracy"] == 100.0 and report["n"] == len(records)
    rows = load_predictions(out)
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    for row in rows:
        assert {"id", "type", "correct", "parsed"} <= set(row) and row["correct"] is True
        if row["type"] == "planning":
            assert row["map_score"] >= row["map_score_max"] / 2  # the bonus of a correct answer
    assert "scorer: reasonmap" in stdout and "ReasonMap-Plus table" in stdout


def test_unknown_and_missing_ids_are_listed(tmp_path, mini, records, run_cli):
    rows = [{"id": r["id"], "completion": "x"} for r in records[1:]] + [{"id": "nope-1", "completion": "x"}]
    pred = write_jsonl(tmp_path / "pred.jsonl", rows)
    code, _, stderr = run_cli("eval", "--predictions", pred, "--data", mini)
    assert code == 1
    assert "nope-1" in stderr and records[0]["id"] in stderr and "no prediction" in stderr and "Traceback" not in stderr
    with pytest.raises(PredictionsError, match=r"pred.jsonl:2: not JSON"):
        read_predictions(_bad(tmp_path))
    with pytest.raises(PredictionsError, match="more than once"):
        read_predictions(write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "completion": ""}, {"id": "a", "completion": "b"}]))
    with pytest.raises(PredictionsError, match='needs "id" and "completion"'):
        read_predictions(write_jsonl(tmp_path / "noid.jsonl", [{"completion": ""}]))


def _bad(tmp_path: Path) -> Path:
    path = tmp_path / "pred.jsonl"
    path.write_text('{"id": "a", "completion": ""}\n{oops\n', encoding="utf-8")
    return path


def test_predictions_need_no_torch(tmp_path, mini, records):
    pred = write_jsonl(tmp_path / "pred.jsonl", [{"id": r["id"], "completion": gold(r)} for r in records])
    out = tmp_path / "r.json"
    code = ("import sys; from mapkit.cli import main; rc = main(['eval', '--predictions', sys.argv[1], '--data', sys.argv[2], "
            "'--scorer', 'reasonmap-plus', '--out', sys.argv[3]]); "
            "print('TORCH' if 'torch' in sys.modules else 'NOTORCH', rc)")
    done = subprocess.run([sys.executable, "-c", code, str(pred), str(mini), str(out)], capture_output=True, text=True, check=False,
                          cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip().splitlines()[-1] == "NOTORCH 0", done.stderr[-2000:]
    assert out.is_file()


def test_answer_options(tmp_path, mini, records, run_cli):
    torf = [r for r in records if r["type"] == "TorF1"]
    rows = [{"id": r["id"], "completion": gold(r) + "</think>I am not sure"} for r in records]
    pred = write_jsonl(tmp_path / "pred.jsonl", rows)
    code, _, _ = run_cli("eval", "--predictions", pred, "--data", mini, "--types", "TorF1", "--out", tmp_path / "a.json")
    assert code == 1  # --types keeps only TorF1 records: the other ids are unknown
    pred = write_jsonl(tmp_path / "t.jsonl", [x for x in rows if x["id"] in {r["id"] for r in torf}])
    for flags, right in ((), 0), (("--full-text",), len(torf)), (("--answer-after", "NEVER"), len(torf)):
        code, _, stderr = run_cli("eval", "--predictions", pred, "--data", mini, "--types", "TorF1", "--out", tmp_path / "b.json", *flags)
        assert code == 0, stderr
        assert load_report(tmp_path / "b.json")["by_type"]["TorF1"]["correct"] == right, flags
    code, _, stderr = run_cli("eval", "--predictions", pred, "--data", mini, "--full-text", "--answer-after", "x")
    assert code == 1 and "contradict" in stderr


# --------------------------------------------------------------------------- released layouts

def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buf, format="PNG")
    return buf.getvalue()


CN_STATIONS = {"Line 5": ["甲站（换乘站）", "乙站", "丙站"], "Line 1": ["丁站", "甲站（换乘站）"]}


def reasonmap_standin(root: Path) -> Path:
    """Two pairs in FSCCS/ReasonMap's layout: the first with its stations in a `json`
    column, the second in stations/<country>/<city>.json."""
    ref = {"route_name": "地铁5号线(甲--丙)", "departure_stop": "甲", "arrival_stop": "丙", "via_stops": ["乙"], "num_via_stops": 1}
    base = {"country": "china", "city": "testcity", "difficulty_city": "middle", "difficulty_question": "easy",
            "city_line_count": 2, "city_transfer_count": 1, "question_transfer_count": 0,
            "figure": base64.b64encode(_png()).decode()}
    rows = [
        {**base, "question_short": "From 甲站 to 丙站? Route Name: ... Departure Stop: ... Arrival Stop: ...",
         "question_long": "From 甲站 to 丙站? ... Number of Via Stops: ...", "station_1": "甲站", "station_2": "丙站",
         "routes": {"route_0": [ref], "route_1": None}, "json": json.dumps(CN_STATIONS, ensure_ascii=False)},
        {**base, "question_short": "From 丁站 to 甲站? (short)", "question_long": "From 丁站 to 甲站? ... Via Stops: ...",
         "station_1": "丁站", "station_2": "甲站", "difficulty_city": "hard",
         "routes": {"route_0": [{**ref, "route_name": "地铁1号线", "departure_stop": "丁", "arrival_stop": "甲", "via_stops": []}],
                    "route_1": [{**ref, "route_name": "地铁1号线", "departure_stop": "丁站", "arrival_stop": "甲站", "via_stops": []}]},
         "json": None},
    ]
    (root / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "data" / "validation-00000-of-00001.parquet")
    (root / "stations" / "china").mkdir(parents=True)
    (root / "stations" / "china" / "testcity.json").write_text(json.dumps(CN_STATIONS, ensure_ascii=False), encoding="utf-8")
    return root


def test_reasonmap_layout_scored_like_the_released_script(tmp_path, monkeypatch):
    monkeypatch.setenv("MAPKIT_CACHE", str(tmp_path / "cache"))
    root = reasonmap_standin(tmp_path / "rm")
    data = open_dataset(str(root), "validation")
    assert data.layout == "reasonmap" and [r["id"] for r in data.records] == ["0_short", "0_long", "1_short", "1_long"]
    assert [r["route_form"] for r in data.records] == ["short", "long_num", "short", "long_via"]
    assert Path(data.records[0]["figure"]).is_file() and data.records[2]["annotation"] == "stations/china/testcity.json"
    answers = {
        "0_short": "Route Name: Line 5\nDeparture Stop: 甲站\nArrival Stop: 丙站",
        "0_long": "<think>Route Name: Line 1\n</think>Route Name: Line 5\nDeparture Stop: 甲站\nArrival Stop: 丙站\nNumber of Via Stops: 1",
        "1_short": "Route Name: Line 1\nDeparture Stop: 丁站\nArrival Stop: 甲站",
        "1_long": "Route Name: Line 1\nDeparture Stop: 丁站\nArrival Stop: 甲站\nVia Stops: \n",
    }
    pred = write_jsonl(tmp_path / "p.jsonl", [{"id": k, "completion": v} for k, v in answers.items()])
    report, rows = score_predictions(pred, data, split="validation", scorer=Scorer("reasonmap"))
    by_id = {r["id"]: r for r in rows}
    # 0_short: 1 + 2 + 1 + 1 = 5, + 10.  0_long: 5 + num via 4 = 9, + 20.
    # 1_short: reference 1 gives 1 + 2 + 1 + 1 = 5 (+10); reference 2's departure 丁站 ends in 站, so its arrival
    # is compared with 丁站: 4 (+10); the best is 15.  1_long: via list empty on both sides: IoU 0: 5 + 0, + 20.
    assert {k: (r["correct"], r["map_score"]) for k, r in by_id.items()} == {
        "0_short": (True, 15), "0_long": (True, 29.0), "1_short": (True, 15), "1_long": (True, 25.0)}
    rm = report["reasonmap"]
    assert (rm["acc_short"], rm["acc_long"], rm["map_score_short"], rm["map_score_long"]) == (100.0, 100.0, 15.0, 27.0)
    assert (rm["num_via_stop_score"], rm["via_stops_score"]) == (2.0, 0.0)  # (4 + 0) / 2 long questions, as released


def test_plus_layout(tmp_path):
    root = tmp_path / "plus"
    (root / "maps").mkdir(parents=True)
    (root / "maps" / "c.png").write_bytes(_png())
    rows = [{"question": "Is 甲站 on Line 5? \\boxed{}", "figure": "maps/c.png", "type": "TorF2", "answer": 1, "station_1": "甲站",
             "station_2": None, "country": "china", "city": "c", "difficulty_city": "easy", "city_line_count": 2,
             "city_transfer_count": 1},
            {"question": "How many lines?", "figure": "maps/c.png", "type": "Counting3", "answer": 2, "station_1": None,
             "station_2": None, "country": "china", "city": "c", "difficulty_city": "hard", "city_line_count": 2,
             "city_transfer_count": 1}]
    pq.write_table(pa.Table.from_pylist(rows), root / "test.parquet")
    data = open_dataset(str(root), "test")
    assert data.layout == "reasonmap-plus" and [r["id"] for r in data.records] == ["0", "1"]
    pred = write_jsonl(tmp_path / "p.jsonl", [{"id": "0", "completion": "the answer is yes."}, {"id": 1, "completion": "\\boxed{3}"}])
    report, rows = score_predictions(pred, data, scorer=Scorer("reasonmap-plus"))
    assert [r["correct"] for r in rows] == [True, False]
    # weighted: easy (1.0) right, hard (2.0) wrong -> 1 / 3
    assert report["reasonmap_plus"] == {"n": 2, "accuracy": {"TorF2": 100.0, "Counting3": 0.0}, "weighted_accuracy": 33.33}


def test_export_reasonmap_round_trip(tmp_path, mini, run_cli):
    out = tmp_path / "rm"
    code, _, stderr = run_cli("export", mini, "--format", "reasonmap", "--out", out, "--split", "all")
    assert code == 0, stderr
    built = {s: pq.read_table(f).to_pylist() for s, f in (("train", out / "data/train-00000-of-00001.parquet"),
                                                           ("test", out / "data/test-00000-of-00001.parquet"))}
    test = built["test"]
    mine = [r for r in pq.read_table(mini / "data/test-00000-of-00001.parquet").to_pylist() if r["type"] == "planning"]
    assert len(test) == len({(r["station_1"], r["station_2"]) for r in mine})
    assert all("Number of Via Stops:" in r["question_long"] or "Via Stops:" in r["question_long"] for r in test)
    assert all("Route Name:" in r["question_short"] and "Via Stops" not in r["question_short"] for r in test)
    assert {r["country"] for r in test} == {"nowhere"}  # lower-case, as the released folders
    assert all(plan for r in test for plan in r["routes"].values())  # no null route_k: the released loop would stop
    assert json.loads((out / "stations" / "nowhere" / "mini.json").read_text())  # what the released script opens
    # the gold route of every pair is valid for the released checker, in both forms
    data = open_dataset(str(out), "test")
    by_pair = {(r["station_1"], r["station_2"]): r for r in mine}
    pred = write_jsonl(tmp_path / "p.jsonl", [{"id": r["id"], "completion": _gold_route(by_pair[(r["station_1"], r["station_2"])], r)}
                                              for r in data.records])
    report, _ = score_predictions(pred, data, scorer=Scorer("reasonmap"))
    assert report["reasonmap"]["acc_short"] == report["reasonmap"]["acc_long"] == 100.0


def _gold_route(record: dict, asked: dict) -> str:
    """The record's reference route written in the form ``asked`` wants."""
    sections = []
    for s in record["reference_routes"][0]:
        text = f"Route Name: {s['route_name']}\nDeparture Stop: {s['departure_stop']}\nArrival Stop: {s['arrival_stop']}\n"
        if asked["route_form"] == "long_num":
            text += f"Number of Via Stops: {s['num_via_stops']}\n"
        elif asked["route_form"] == "long_via":
            text += f"Via Stops: {', '.join(s['via_stops'])}\n"
        sections.append(text)
    return "--\n".join(sections)


def test_tables_weight_every_question_one_and_report_the_weighting_apart():
    rows = [
        {"type": "planning", "route_form": "short", "correct": True, "map_score": 15, "difficulty_city": "easy"},
        {"type": "planning", "route_form": "short", "correct": False, "map_score": 4, "difficulty_city": "hard"},
        {"type": "planning", "route_form": "long_num", "correct": False, "map_score": 7.5, "difficulty_city": "middle",
         "num_via_stop_score": 3.0, "via_stops_score": 0},
        {"type": "planning", "route_form": "long_via", "correct": True, "map_score": 30.5, "difficulty_city": "easy",
         "num_via_stop_score": 0, "via_stops_score": 5.5},
    ]
    t = reasonmap_table(rows)
    assert (t["acc_short"], t["acc_long"], t["map_score_short"], t["map_score_long"]) == (50.0, 50.0, 9.5, 19.0)
    assert (t["num_via_stop_score"], t["via_stops_score"]) == (1.5, 2.75)
    assert t["weighted_acc_short"] == round(100 * 1.0 / 3.0, 2) and t["weighted_acc_long"] == 40.0  # 1.0 / (1.5 + 1.0)
    assert plus_table(rows) is None and reasonmap_table([{"type": "TorF1", "correct": True}]) is None


def test_released_layout_from_the_hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as c

    monkeypatch.setenv("MAPKIT_CACHE", str(tmp_path / "mcache"))
    cache = tmp_path / "cache"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "datasets--FSCCS--ReasonMap"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    reasonmap_standin(repo / "snapshots" / commit)
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    data = open_dataset("FSCCS/ReasonMap", "validation")
    assert data.layout == "reasonmap" and len(data.records) == 4 and data.root == repo / "snapshots" / commit
    with pytest.raises(DatasetError, match="not in the local Hugging Face cache"):
        open_dataset("FSCCS/ReasonMap-Plus", "test")
