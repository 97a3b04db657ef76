"""Hub-native dataset folders: the `maps` config (one image per map), `mapkit.dataset.load`
attaching images lazily, `to_trl`, the card's licences and loading snippet, file modes."""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from mapkit.dataset import MAPS_FILE, build_dataset, read_dataset, validate_folder
from mapkit.errors import DatasetError

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini.json"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return {"cache_dir": str(tmp_path / "hf-cache")}


def test_maps_parquet_holds_one_row_per_map_and_does_not_grow_with_questions(tmp_path, mini_with_image):
    few = build_dataset([mini_with_image], tmp_path / "few", counts_by_type={"TorF1": 2, "Counting3": 1}, test_fraction=0)
    many = build_dataset([mini_with_image], tmp_path / "many", seed=0)
    assert len(many.records) > 10 * len(few.records)
    rows = pq.read_table(tmp_path / "many" / MAPS_FILE).to_pylist()
    assert [r["map_id"] for r in rows] == sorted({r["map_id"] for r in many.records}) == ["mini"]
    png = (mini_with_image.parent / "mini.png").read_bytes()
    assert rows[0]["image"]["bytes"] == png and (rows[0]["width"], rows[0]["height"]) == (64, 48)
    # the maps file is the same bytes whatever the number of questions about the map
    assert (tmp_path / "few" / MAPS_FILE).read_bytes() == (tmp_path / "many" / MAPS_FILE).read_bytes()
    # and the question files hold no image: not one copy of the PNG, whatever their size
    for path in (tmp_path / "many" / "data").glob("*.parquet"):
        table = pq.read_table(path)
        assert "image" not in table.column_names and png not in path.read_bytes()


def test_load_gives_each_question_its_map_as_a_pil_image(tmp_path, mini_with_image, offline):
    from mapkit.dataset import load

    out = tmp_path / "ds"
    build_dataset([mini_with_image], out)
    ds = load(out, **offline)
    data = read_dataset(out)
    assert set(ds) == set(data)
    with Image.open(mini_with_image.parent / "mini.png") as expected:
        expected = expected.convert("RGB")
        for split, rows in data.items():
            assert ds[split].num_rows == len(rows)
            for i in (0, len(rows) - 1):
                row = ds[split][i]
                assert row["id"] == rows[i]["id"] and row["question"] == rows[i]["question"]
                assert isinstance(row["image"], Image.Image)
                assert row["image"].convert("RGB").tobytes() == expected.tobytes()
    batch = ds["train"][:3]
    assert len(batch["image"]) == 3 and all(isinstance(im, Image.Image) for im in batch["image"])
    one = load(out, split="test", **offline)
    assert one.num_rows == len(data["test"]) and one[0]["image"].size == (64, 48)
    assert "image" not in load(out, split="test", images=False, **offline)[0]
    # 64x48 = 3072 px over a 2000 px budget: Qwen2.5-VL's frame, sides multiples of 28
    # (64/sqrt(1.536) = 51.6 -> 28, 48/sqrt(1.536) = 38.7 -> 28), what its processor would make
    small = load(out, split="test", max_pixels=2000, **offline)[0]["image"]
    assert small.size == (28, 28)
    assert load(out, split="test", max_pixels=4000, **offline)[0]["image"].size == (64, 48)  # within budget: untouched


def test_load_dataset_reads_both_configs_offline(tmp_path, mini_with_image, offline):
    import datasets

    out = tmp_path / "ds"
    build_dataset([mini_with_image], out)
    questions = datasets.load_dataset(str(out), **offline)  # no config name: the questions
    assert {s: questions[s].num_rows for s in questions} == {s: len(r) for s, r in read_dataset(out).items()}
    maps = datasets.load_dataset(str(out), "maps", split="train", **offline)
    assert maps.num_rows == 1 and maps[0]["map_id"] == "mini" and maps[0]["image"].size == (64, 48)
    assert isinstance(maps.features["image"], datasets.Image)


def test_text_only_build_has_no_maps_config_and_load_gives_no_image(tmp_path, mini_with_image, offline):
    from mapkit.dataset import load

    out = tmp_path / "ds"
    build_dataset([mini_with_image], out, images=False)
    assert not (out / MAPS_FILE).exists()
    assert "config_name: maps" not in (out / "README.md").read_text()
    assert load(out, split="train", **offline)[0]["image"] is None


def test_validation_refuses_a_folder_whose_maps_config_is_missing_or_wrong(tmp_path, mini_with_image):
    import pyarrow as pa

    out = tmp_path / "ds"
    build_dataset([mini_with_image], out)
    validate_folder(out)

    def listed(digest):  # what manifest.json says of the maps parquet (None: not listed)
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
        manifest["files"].pop(MAPS_FILE, None)
        if digest:
            manifest["files"][MAPS_FILE] = digest
        (out / "manifest.json").write_text(json.dumps(manifest), "utf-8")

    table = pq.read_table(out / MAPS_FILE)
    (out / MAPS_FILE).unlink()
    with pytest.raises(DatasetError, match="maps-00000-of-00001.parquet: listed in manifest.json but missing"):
        validate_folder(out)
    listed(None)  # a manifest that does not list it either: the maps check still wants it
    with pytest.raises(DatasetError, match="maps-00000-of-00001.parquet is missing"):
        validate_folder(out)
    renamed = table.set_column(0, "map_id", pa.array(["elsewhere"]))
    pq.write_table(renamed, out / MAPS_FILE)
    listed(hashlib.sha256((out / MAPS_FILE).read_bytes()).hexdigest())  # past the hash check
    with pytest.raises(DatasetError, match="no row for map 'mini'"):
        validate_folder(out)


def test_card_declares_the_maps_config_with_an_image_feature(tmp_path, mini_with_image):
    from huggingface_hub import DatasetCard

    out = tmp_path / "ds"
    build_dataset([mini_with_image], out)
    data = DatasetCard.load(out / "README.md").data.to_dict()
    configs = {c["config_name"]: c["data_files"] for c in data["configs"]}
    assert configs["maps"] == [{"split": "train", "path": MAPS_FILE}]
    info = {i["config_name"]: i for i in data["dataset_info"]}
    features = {f["name"]: f for f in info["maps"]["features"]}
    assert features["image"]["dtype"] == "image" and info["maps"]["splits"][0]["num_examples"] == 1
    body = (out / "README.md").read_text()
    assert 'row["image"]  # PIL image' in body and 'load_dataset("ORG/NAME", "maps"' in body


def test_licence_ids_per_source():
    from mapkit.publish.card import LICENSE_LINK, hub_license, license_metadata

    assert hub_license("MIT, Copyright (c) 2025 Sicheng Feng (ReasonMap)") == "mit"
    assert hub_license("CC0-1.0 for this compilation, written by mapkit contributors") == "cc0-1.0"
    assert hub_license("CC BY 4.0 (the operator's open data terms)") == "cc-by-4.0"
    assert hub_license("see the GTFS feed's licence") == "other"
    assert license_metadata({"a": {"license": "MIT"}, "b": {"license": "MIT, see above"}}) == {"license": "mit"}
    assert license_metadata({"a": {"license": "CC0-1.0"}, "b": {"license": "MIT"}}) == {"license": ["cc0-1.0", "mit"]}
    other = license_metadata({"a": {"license": "see the feed"}})
    assert other["license"] == "other" and other["license_link"] == LICENSE_LINK
    assert __import__("re").fullmatch(r"[a-z0-9-]+", other["license_name"])


def test_card_licence_section_says_what_each_licence_covers(tmp_path, mini_with_image):
    from huggingface_hub import DatasetCard

    out = tmp_path / "ds"
    build_dataset([mini_with_image], out)
    assert DatasetCard.load(out / "README.md").data.to_dict()["license"] == "cc0-1.0"
    section = (out / "README.md").read_text().split("## Licence", 1)[1].split("## ", 1)[0]
    assert "| mini | cc0-1.0 | CC0-1.0 | annotation, questions, map image |" in section


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_file_of_a_build_has_the_umask_mode(tmp_path, mini_with_image, umask):
    """Rendered PNGs, geometry, card, parquet, manifest: what `open` would give, never 0600."""
    data = json.loads(mini_with_image.read_text())
    del data["image"]  # rendered map: the renderer's atomic writes too
    rendered = mini_with_image.with_name("rendered.json")
    rendered.write_text(json.dumps({**data, "city": "rendered"}))
    old = os.umask(umask)
    try:
        out = tmp_path / f"ds{umask:o}"
        build_dataset([mini_with_image, rendered], out, counts_by_type={"TorF1": 2})
    finally:
        os.umask(old)
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert {"README.md", "maps/rendered.png", "maps/rendered.geometry.json", MAPS_FILE} <= set(modes)
    assert set(modes.values()) == {0o666 & ~umask}, modes


def test_scaffold_preview_and_render_files_honour_the_umask(tmp_path, mini_with_image):
    from mapkit.files import atomic_write
    from mapkit.importers.scaffold import scaffold

    old = os.umask(0o022)
    try:
        paths = [scaffold("oslo", out=tmp_path / "oslo.json", image=mini_with_image.parent / "mini.png"),
                 atomic_write(tmp_path / "x.bin", b"x")]
    finally:
        os.umask(old)
    assert [stat.S_IMODE(p.stat().st_mode) for p in paths] == [0o644, 0o644]


def test_to_trl_orders_rows_by_curriculum_stage_and_adds_the_prompt(tmp_path, mini_with_image, offline):
    from mapkit.dataset import load, to_trl

    out = tmp_path / "ds"
    build_dataset([mini_with_image], out)
    split = load(out, split="train", **offline)
    trl = to_trl(split, curriculum="rewardmap", seed=3)
    stage_of = {"TorF1": 0, "TorF2": 0, "Counting2": 1, "Counting3": 1, "Counting1": 2, "planning": 3}  # RewardMap's order
    rows = [trl[i] for i in range(trl.num_rows)]
    stages = [stage_of[r["type"]] for r in rows]
    assert stages == sorted(stages) and len(set(stages)) == 4
    assert sorted(r["id"] for r in rows) == sorted(split["id"])
    assert all(r["prompt"] == [{"role": "user", "content": r["question"]}] for r in rows)
    assert isinstance(rows[0]["image"], Image.Image)
    # shuffled inside a stage, by the seed
    assert [r["id"] for r in rows] != [r["id"] for r in sorted(rows, key=lambda r: (stage_of[r["type"]], r["id"]))]
    again = to_trl(split, curriculum="rewardmap", seed=3)
    assert again["id"] == [r["id"] for r in rows]
    assert to_trl(split, curriculum=None)["id"] == split["id"]


def test_maps_parquet_hash_is_in_the_manifest(tmp_path, mini_with_image):
    out = tmp_path / "ds"
    build_dataset([mini_with_image], out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"][MAPS_FILE] == hashlib.sha256((out / MAPS_FILE).read_bytes()).hexdigest()
