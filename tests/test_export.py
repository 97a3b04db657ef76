"""`mapkit export`: LLaMA-Factory sharegpt (RewardMap's SFT baseline) and plain jsonl."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fakehub import make_dataset_folder


@pytest.fixture
def folder(tmp_path):
    from mapkit.publish.card import write_card

    out = make_dataset_folder(tmp_path / "out")
    write_card(out)
    return out


def records(folder, split=None):
    out = []
    for path in sorted((folder / "data").glob("*.parquet")):
        out.extend(r for r in pq.read_table(path).to_pylist() if split in (None, r["split"]))
    return out


def llamafactory_align(example: dict, attr: dict, media_dir: Path) -> dict:
    """What LLaMA-Factory's sharegpt converter checks and produces for one example: roles
    alternate user/assistant starting with the user, an even number of turns, one
    <image> token per image, image files that resolve (relative to media_dir)."""
    columns, tags = attr["columns"], attr["tags"]
    messages = example[columns["messages"]]
    assert len(messages) % 2 == 0 and messages, "Invalid message count"
    prompt = []
    for i, message in enumerate(messages):
        expected = tags["user_tag"] if i % 2 == 0 else tags["assistant_tag"]
        assert message[tags["role_tag"]] == expected, f"Invalid role tag in {messages}"
        prompt.append({"role": "user" if i % 2 == 0 else "assistant", "content": message[tags["content_tag"]]})
    images = [m if os.path.isabs(m) else str(media_dir / m) for m in example[columns["images"]]]
    assert sum(m["content"].count("<image>") for m in prompt) == len(images), "images do not match <image> tokens"
    for image in images:
        assert os.path.isfile(image), image
    return {"_prompt": prompt[:-1], "_response": prompt[-1:], "_images": images}


def test_sharegpt_export_loads_as_llamafactory_expects(folder, tmp_path, run_cli):
    from datasets import load_dataset

    out = tmp_path / "sft" / "mini_sft.json"
    code, stdout, stderr = run_cli("export", folder, "--format", "sharegpt", "--out", out)
    assert code == 0, stderr
    entry = json.loads(stdout)  # the dataset_info.json entry, alone on stdout
    attr = entry["mini_sft"]
    assert attr["file_name"] == "mini_sft.json" and attr["formatting"] == "sharegpt"
    assert attr["columns"] == {"messages": "conversations", "images": "images"}
    assert "left out 1 planning" in stderr
    # LLaMA-Factory reads the file with datasets' json builder
    ds = load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    train = [r for r in records(folder, "train") if r["type"] != "planning"]
    assert ds.num_rows == len(train)
    assert set(ds.column_names) == {"conversations", "images"}
    by_question = {r["question"]: r for r in train}
    for example in ds:
        aligned = llamafactory_align(example, attr, out.parent)
        question = aligned["_prompt"][0]["content"]
        assert question.startswith("<image>")
        source = by_question[question[len("<image>"):]]
        answer = aligned["_response"][0]["content"]
        assert answer == source["answer_text"]
        assert answer in {"yes", "no"} | set("ABCD") or answer.isdigit()
        assert Path(aligned["_images"][0]) == (folder / source["figure"]).resolve()


def test_bare_answers_by_type():
    from mapkit.errors import DatasetError
    from mapkit.publish.export import bare_answer

    assert bare_answer({"type": "TorF1", "answer": 1, "answer_text": "yes"}) == "yes"
    assert bare_answer({"type": "TorF2", "answer": 0, "answer_text": "no"}) == "no"
    assert bare_answer({"type": "Counting1", "answer": 3, "answer_text": "D"}) == "D"
    assert bare_answer({"type": "Counting3", "answer": 12, "answer_text": "12"}) == "12"
    assert bare_answer({"type": "planning", "answer": -1, "answer_text": "Route Name: A"}) == "Route Name: A"
    with pytest.raises(DatasetError, match="disagrees"):
        bare_answer({"type": "Counting1", "answer": 0, "answer_text": "B"})


def test_planning_relative_paths_and_all_splits(folder, tmp_path, run_cli):
    out = tmp_path / "sft" / "all.json"
    code, stdout, stderr = run_cli("export", folder, "--format", "sharegpt", "--out", out, "--split", "all",
                                   "--include-planning", "--relative-images", "--name", "mapkit_mini")
    assert code == 0, stderr
    data = json.loads(out.read_text())
    assert len(data) == len(records(folder))
    attr = json.loads(stdout)["mapkit_mini"]
    planning = [d for d in data if d["conversations"][1]["value"].startswith("Route Name:")]
    assert len(planning) == 1
    for example in data:
        image = example["images"][0]
        assert not os.path.isabs(image)
        llamafactory_align(example, attr, out.parent)  # resolves against dataset_dir, where the file sits


def test_jsonl_export(folder, tmp_path, run_cli):
    out = tmp_path / "mini.jsonl"
    code, stdout, stderr = run_cli("export", folder, "--format", "jsonl", "--out", out, "--split", "test")
    assert code == 0, stderr
    assert stdout == ""  # no dataset_info entry for jsonl
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    test = [r for r in records(folder, "test") if r["type"] != "planning"]
    assert [(x["id"], x["answer"]) for x in lines] == [(r["id"], r["answer_text"]) for r in test]
    assert all(x["split"] == "test" and Path(x["image"]).is_file() for x in lines)


def test_export_errors(folder, tmp_path, run_cli):
    code, _, err = run_cli("export", folder, "--format", "sharegpt", "--out", tmp_path / "x.json", "--split", "dev")
    assert code == 1 and "dev" in err and "train" in err
    code, _, err = run_cli("export", folder, "--format", "alpaca", "--out", tmp_path / "x.json")
    assert code == 2
    (folder / "manifest.json").unlink()
    code, _, err = run_cli("export", folder, "--format", "sharegpt", "--out", tmp_path / "x.json")
    assert code == 1 and "manifest.json" in err
    assert not (tmp_path / "x.json").exists()
