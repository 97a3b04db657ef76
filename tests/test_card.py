"""The dataset card: YAML front matter the Hub and `datasets` read, body from real counts."""
from __future__ import annotations

import re
from collections import Counter

import pyarrow.parquet as pq
import pytest
from fakehub import make_dataset_folder


@pytest.fixture
def folder(tmp_path):
    from mapkit.publish.card import write_card

    out = make_dataset_folder(tmp_path / "out")
    write_card(out, repo_id="org/mapkit-mini", revision="v1.0.0")
    return out


def rows(folder):
    out = []
    for path in sorted((folder / "data").glob("*.parquet")):
        out.extend(pq.read_table(path).to_pylist())
    return out


def table_rows(text: str, heading: str) -> list[list[str]]:
    """Cells of the first markdown table after ``heading`` (header, separator, rows)."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        block.append([c.strip() for c in line.strip("|").split("|")])
    return block


def test_front_matter_is_read_back_by_huggingface_hub(folder):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(folder / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "cc0-1.0"  # from the annotation's "CC0-1.0"
    assert data["task_categories"] == ["visual-question-answering"]
    assert data["language"] == ["en"] and data["size_categories"] == ["n<1K"]
    assert data["pretty_name"] == "mapkit transit-map VQA (Mini)"
    assert data["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train-*"}, {"split": "test", "path": "data/test-*"}]},
        {"config_name": "maps", "data_files": [{"split": "train", "path": "maps/maps-00000-of-00001.parquet"}]}]
    counts = Counter(r["split"] for r in rows(folder))
    info = {i["config_name"]: i for i in data["dataset_info"]}
    assert {s["name"]: s["num_examples"] for s in info["default"]["splits"]} == dict(counts)
    names = [f["name"] for f in info["default"]["features"]]
    assert names[:3] == ["id", "split", "city"] and "reference_routes" in names


def test_body_counts_match_the_parquet_files(folder):
    text = (folder / "README.md").read_text()
    records = rows(folder)
    table = table_rows(text, "### By type, question difficulty and split")
    header, body = table[0], table[2:]
    assert header[:5] == ["type", "train easy", "train middle", "train hard", "train total"]
    expected = Counter((r["type"], r["split"], r["difficulty_question"]) for r in records)
    seen_types = set()
    for cells in body:
        qtype = cells[0]
        if qtype == "**all**":
            assert int(cells[header.index("train total")]) == sum(r["split"] == "train" for r in records)
            continue
        seen_types.add(qtype)
        for col, value in zip(header[1:], cells[1:]):
            split, difficulty = col.split(" ")
            want = (sum(expected[(qtype, split, d)] for d in ("easy", "middle", "hard")) if difficulty == "total"
                    else expected[(qtype, split, difficulty)])
            assert int(value) == want, (qtype, col)
    assert seen_types == {r["type"] for r in records}
    city = table_rows(text, "### By city")
    assert city[2][:5] == ["mini", "Nowhere", "easy", "4", "4"] and city[2][-1] == str(len(records))


def test_body_has_every_section(folder):
    text = (folder / "README.md").read_text()
    for heading in ("## Question types", "## Counts", "## Examples", "## Dataset structure", "## How it was built",
                    "## How to load", "## Licence", "## Citation"):
        assert heading in text, heading
    for qtype in ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning"):
        assert f"### {qtype}\n" in text  # one example per type
    assert "Options: A. 1, B. 2, C. 3, D. 4" in text and "Answer: `C`" in text
    assert "mapkit 0.1.0 with seed 0" in text
    assert re.search(r"\| mini \| Mini Metro \(test fixture\) \| CC0-1.0 \| hand-made test fixture \| 12 \| 4 \| image \| [0-9a-f]{12} \|", text)
    assert 'load_dataset("org/mapkit-mini", revision="v1.0.0")' in text
    assert "arXiv:2505.18675" in text and "arXiv:2510.02240" in text  # ReasonMap and RewardMap


def test_load_dataset_reads_the_folder_with_the_card(folder, tmp_path):
    from datasets import load_dataset

    ds = load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    records = rows(folder)
    assert sorted(ds) == ["test", "train"]
    assert ds["train"].num_rows == sum(r["split"] == "train" for r in records)
    assert ds["test"].num_rows == sum(r["split"] == "test" for r in records)
    from datasets import Features

    from mapkit.dataset import ARROW_SCHEMA

    assert ds["train"].features == ds["test"].features == Features.from_arrow_schema(ARROW_SCHEMA)
    assert ds["train"].features["options"].feature.dtype == "int64"
    assert sorted(ds["train"]["id"]) == sorted(r["id"] for r in records if r["split"] == "train")
    first = ds["train"][0]
    assert (folder / first["figure"]).is_file() and (folder / first["annotation"]).is_file()


def test_splits_with_different_schemas_are_refused(folder):
    import pyarrow as pa

    from mapkit.errors import DatasetError
    from mapkit.publish.card import write_card

    path = folder / "data" / "test-00000-of-00001.parquet"
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index("answer"), "answer",
                                    table.column("answer").cast(pa.string())), path)
    with pytest.raises(DatasetError, match="answer"):
        write_card(folder)


def test_licence_ids():
    from mapkit.publish.card import hub_license, size_category

    assert hub_license("CC BY-SA 4.0") == "cc-by-sa-4.0"
    assert hub_license("ODbL-1.0") == "odbl"
    assert hub_license("MIT") == "mit"
    assert hub_license("made up licence") == "other"
    assert hub_license(None) == "unknown"
    assert [size_category(n) for n in (5, 4018, 20_000)] == ["n<1K", "1K<n<10K", "10K<n<100K"]


def test_mixed_licences_list_each_id_and_unknown_ones_link_to_the_card(tmp_path):
    import json

    from mapkit.publish.card import card_data

    out = make_dataset_folder(tmp_path / "out")
    other = json.loads((out / "annotations" / "mini.json").read_text())
    other.update(city="other", license="MIT")
    (out / "annotations" / "other.json").write_text(json.dumps(other))
    data = card_data(out).to_dict()
    assert data["license"] == ["cc0-1.0", "mit"] and "license_name" not in data
    other.update(license="the operator's own terms")
    (out / "annotations" / "other.json").write_text(json.dumps(other))
    data = card_data(out).to_dict()
    assert data["license"] == ["cc0-1.0", "other"] and data["license_link"] == "README.md#licence"
    assert re.fullmatch(r"[a-z0-9-]+", data["license_name"])


def test_card_can_be_written_inside_the_build_before_the_readme_exists(tmp_path):
    """What the build does: everything written but README.md, then write_card(folder)."""
    from huggingface_hub import DatasetCard

    from mapkit.publish.card import CARD_MARKER, write_card

    out = make_dataset_folder(tmp_path / "out")
    (out / "README.md").unlink()
    path = write_card(out)
    assert path == out / "README.md" and CARD_MARKER in path.read_text()
    assert DatasetCard.load(path).data.to_dict()["configs"][0]["config_name"] == "default"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left behind
