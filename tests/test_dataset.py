"""Dataset folders: splits, validation, atomic writes, determinism, manifest, load_dataset."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

import mapkit.dataset.folder as folder_mod
from mapkit.dataset import assign_splits, build_dataset, check_split_leaks, read_dataset, record_problems, validate_folder, validate_records
from mapkit.errors import DatasetError
from mapkit.graph import TransitMap
from mapkit.questions import generate, load_templates

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini.json"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _records(n_cities: int = 6) -> list[dict]:
    """Records of several copies of mini (as different cities) with plenty of each type."""
    templates = load_templates()
    records = []
    data = json.loads(MINI.read_text())
    from mapkit.annotation import loads

    for i in range(n_cities):
        ann = loads({**data, "city": f"mini{i}", "name": f"Mini {i}"})
        records.extend(generate(TransitMap.from_annotation(ann), templates=templates, seed=i))
    return records


# ------------------------------------------------------------------ splits

def test_question_split_is_stratified_and_leak_free():
    records = assign_splits(_records(), seed=0)  # the kept ones: conflicting items may be dropped (split hygiene)
    share = Counter(r["split"] for r in records)
    assert set(share) == {"train", "test"}
    assert abs(share["test"] / len(records) - 0.2) < 0.02
    strata = defaultdict(Counter)
    for r in records:
        strata[r["type"], r["difficulty_question"]][r["split"]] += 1
    for key, c in strata.items():
        n = sum(c.values())
        if n >= 20:
            assert abs(c["test"] / n - 0.2) <= 0.08, (key, c)
    texts = defaultdict(set)
    pairs = defaultdict(set)
    for r in records:
        texts[r["question"]].add(r["split"])
        pairs[r["city"], r["type"], frozenset((r["station_1"], r["station_2"]))].add(r["split"])
    assert all(len(s) == 1 for s in texts.values())
    assert all(len(s) == 1 for s in pairs.values())


def test_split_keeps_same_pair_and_same_text_together():
    records = _records(2)
    # two Counting1 questions about the same pair on different lines, and a text shared across cities
    a, b = [r for r in records if r["type"] == "TorF2"][:2]
    b["station_1"] = a["station_1"]
    c = [r for r in records if r["type"] == "Counting2" and r["city"] == "mini0"][0]
    d = [r for r in records if r["type"] == "Counting2" and r["city"] == "mini1"][0]
    d["question"] = c["question"]
    for seed in range(5):
        assign_splits(records, seed=seed, test_fraction=0.5)
        assert a["split"] == b["split"] and c["split"] == d["split"]
    a["split"] = "test" if b["split"] == "train" else "train"
    with pytest.raises(DatasetError, match="leaks between splits"):
        check_split_leaks(records)


def test_split_by_city_holds_out_whole_cities():
    records = _records(6)  # six copies of one map: the same station names in every city
    kept = assign_splits(records, seed=3, by="city")
    assert 0 < len(kept) < len(records)  # held-out texts that also occur in train are dropped
    kept_ids = {r["id"] for r in kept}
    assert all(r["split"] == "test" for r in records if r["id"] not in kept_ids)
    train_texts = {r["question"] for r in kept if r["split"] == "train"}
    assert not any(r["question"] in train_texts for r in kept if r["split"] == "test")
    check_split_leaks(kept)
    split_of = defaultdict(set)
    for r in records:
        split_of[r["city"]].add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())
    held_out = [c for c, s in split_of.items() if s == {"test"}]
    assert 1 <= len(held_out) <= 2
    with pytest.raises(DatasetError, match="at least two cities"):
        assign_splits([r for r in records if r["city"] == "mini0"], by="city")
    with pytest.raises(DatasetError, match="unknown split mode"):
        assign_splits(records, by="station")


def test_split_is_deterministic_and_seeded():
    a, b, c = _records(3), _records(3), _records(3)
    assign_splits(a, seed=1), assign_splits(b, seed=1), assign_splits(c, seed=2)
    assert [r["split"] for r in a] == [r["split"] for r in b]
    assert [r["split"] for r in a] != [r["split"] for r in c]


# ------------------------------------------------------------------ validation

def test_inconsistent_records_are_rejected_before_writing(tmp_path):
    records = _records(1)
    assign_splits(records)
    good = records[0]
    assert record_problems(good) == []
    torf = next(r for r in records if r["type"] == "TorF1")
    counting = next(r for r in records if r["type"] == "Counting1")
    planning = next(r for r in records if r["type"] == "planning")
    assert "does not match answer_text" in record_problems({**torf, "answer_text": "yes" if torf["answer"] == 0 else "no"})[0]
    assert any("too short" in p for p in record_problems({**counting, "options": [1, 2, 3]}))
    assert any("non-unique" in p for p in record_problems({**counting, "options": [1, 1, 2, 3]}))
    assert record_problems({**counting, "answer_text": "E"})
    assert record_problems({**planning, "answer": 0})
    assert record_problems({**planning, "question_transfer_count": 7})
    assert record_problems({**torf, "difficulty_question": "medium"})
    assert record_problems({**torf, "figure": "/abs/map.png"})
    assert record_problems({**torf, "extra": 1})
    with pytest.raises(DatasetError, match="1 record"):
        validate_records(records[:5] + [{**torf, "answer": 5}])
    with pytest.raises(DatasetError, match="id used by an earlier record"):
        validate_records(records[:3] + records[:1])
    out = tmp_path / "ds"
    with pytest.raises(DatasetError):
        folder_mod.write_dataset(out, records[:5] + [{**torf, "answer": 5}], annotations={"mini0": MINI}, maps=[], manifest={"seed": 0, "cities": {}})
    assert not out.exists() and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ folders

def test_build_writes_the_design_folder(tmp_path, mini_with_image):
    out = tmp_path / "out" / "mini"
    result = build_dataset([mini_with_image], out, seed=5)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "annotations", "data", "manifest.json", "maps"]
    assert sorted(p.name for p in (out / "data").iterdir()) == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    assert (out / "annotations" / "mini.json").read_bytes() == mini_with_image.read_bytes()
    assert (out / "maps" / "mini.png").read_bytes() == (mini_with_image.parent / "mini.png").read_bytes()
    manifest = validate_folder(out)
    assert manifest["seed"] == 5 and manifest["mapkit_version"] and manifest["format_version"] == 1
    assert manifest["cities"]["mini"]["annotation_sha256"] == hashlib.sha256(mini_with_image.read_bytes()).hexdigest()
    assert manifest["cities"]["mini"]["map_source"] == "image"
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    assert set(manifest["templates"]) == {"counting.json", "grounding.json", "planning.json", "torf.json"}
    data = read_dataset(out)
    assert sum(map(len, data.values())) == manifest["counts"]["total"] == result.counts["total"]
    assert manifest["counts"]["split"] == {s: len(rs) for s, rs in data.items()}
    rows = [r for rs in data.values() for r in rs]
    assert {r["figure"] for r in rows} == {"maps/mini.png"} and {r["annotation"] for r in rows} == {"annotations/mini.json"}
    assert all(r["split"] == s for s, rs in data.items() for r in rs)
    card = (out / "README.md").read_text()
    front = card.split("---\n")[1]  # YAML front matter: load_dataset finds the splits through `configs`
    assert card.startswith("---\n") and "configs:\n- config_name: default\n" in front and "path: data/train-*" in front
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_non_png_maps_are_converted(tmp_path):
    data = json.loads(MINI.read_text())
    Image.new("RGB", (40, 30), (10, 20, 30)).save(tmp_path / "map.jpg", format="JPEG")
    data["image"] = {"file": "map.jpg", "width": 40, "height": 30}
    (tmp_path / "mini.json").write_text(json.dumps(data))
    build_dataset([tmp_path / "mini.json"], tmp_path / "out", counts_by_type={"Counting3": 1}, test_fraction=0)
    with Image.open(tmp_path / "out" / "maps" / "mini.png") as im:
        assert im.format == "PNG" and im.size == (40, 30)


def test_same_inputs_and_seed_give_byte_identical_folders(tmp_path, mini_with_image):
    build_dataset([mini_with_image], tmp_path / "a", seed=11)
    build_dataset([mini_with_image], tmp_path / "b", seed=11)
    build_dataset([mini_with_image], tmp_path / "c", seed=12)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b
    assert a["data/train-00000-of-00001.parquet"] != c["data/train-00000-of-00001.parquet"]


def test_determinism_holds_across_processes(tmp_path, mini_with_image):
    # str hashing is randomised per process: nothing may depend on set or dict-of-str order
    code = ("import sys; from mapkit.dataset import build_dataset; "
            "build_dataset([sys.argv[1]], sys.argv[2], seed=4, images=False)")
    for name, hashseed in (("p1", "1"), ("p2", "2")):
        subprocess.run([sys.executable, "-c", code, str(mini_with_image), str(tmp_path / name)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": hashseed})
    assert _files(tmp_path / "p1") == _files(tmp_path / "p2")


def test_failed_build_leaves_nothing_and_keeps_the_good_folder(tmp_path, mini_with_image, monkeypatch):
    out = tmp_path / "ds"
    calls = []
    real = folder_mod.write_parquet

    def write_then_fail(records, path):
        calls.append(path)
        real(records, path)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")

    monkeypatch.setattr(folder_mod, "write_parquet", write_then_fail)
    with pytest.raises(OSError, match="simulated"):
        build_dataset([mini_with_image], out)
    assert len(calls) == 2  # it failed midway, after writing files
    assert list(tmp_path.iterdir()) == [mini_with_image.parent]

    monkeypatch.setattr(folder_mod, "write_parquet", real)
    build_dataset([mini_with_image], out, seed=1)
    good = _files(out)
    calls.clear()
    monkeypatch.setattr(folder_mod, "write_parquet", write_then_fail)
    with pytest.raises(OSError):
        build_dataset([mini_with_image], out, seed=2)
    assert _files(out) == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ann", "ds"]

    monkeypatch.setattr(folder_mod, "write_parquet", real)
    build_dataset([mini_with_image], out, seed=2)  # a successful rebuild replaces it
    assert _files(out) != good and json.loads((out / "manifest.json").read_text())["seed"] == 2


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path, mini_with_image):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(DatasetError, match="not a mapkit dataset"):
        build_dataset([mini_with_image], out)
    assert (out / "thesis.tex").read_text() == "years of work"


def test_load_dataset_offline(tmp_path, mini_with_image, monkeypatch):
    out = tmp_path / "ds"
    build_dataset([mini_with_image], out)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    data = read_dataset(out)
    assert set(ds) == set(data)
    for split, rows in data.items():
        assert ds[split].num_rows == len(rows)
        assert ds[split][0] == rows[0]
    assert ds["train"].features["options"].feature.dtype == "int64"
