"""Every consumer of a dataset folder (train, eval, export, push) runs the one folder
check of mapkit.dataset.check: a damaged or edited folder ends in exit 1 naming the file,
never a traceback. `--resume` survives a torn last log line."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from train_support import built_mini, no_lines, toy_reward

PARQUET = "data/train-00000-of-00001.parquet"


@pytest.fixture
def built(tmp_path_factory, tmp_path) -> Path:
    """A private copy of the built mini dataset (tests damage it)."""
    out = tmp_path / "ds"
    shutil.copytree(built_mini(tmp_path_factory), out)
    return out


def rehash(folder: Path, rel: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    manifest["files"][rel] = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def consumers(folder: Path, tmp_path: Path) -> dict[str, list]:
    return {
        "export": ["export", folder, "--format", "jsonl", "--out", tmp_path / "sft.jsonl"],
        "export-reasonmap": ["export", folder, "--format", "reasonmap", "--out", tmp_path / "released"],
        "push": ["push", folder, "--repo-id", "org/x", "--dry-run"],
        "train": ["train", "--data", folder, "--model", "tiny", "--out", tmp_path / "run", "--max-steps", 1,
                  "--prompts-per-step", 2, "--num-generations", 2, "--max-pixels", 3136, "--max-new-tokens", 4, "--no-progress"],
        "eval": ["eval", "--model", "tiny", "--data", folder, "--split", "train", "--out", tmp_path / "eval.json", "--no-progress"],
    }


def expect_refused(run_cli, args, named: str, tmp_path: Path) -> str:
    code, out, err = run_cli(*args)
    assert code == 1, (args[0], out, err)
    assert "Traceback" not in err and named in err, (args[0], err)
    assert not (tmp_path / "run").exists() and not (tmp_path / "eval.json").exists() and not (tmp_path / "sft.jsonl").exists()
    assert not (tmp_path / "released").exists()
    return err


@pytest.mark.train
@pytest.mark.parametrize("command", ["export", "export-reasonmap", "push", "train", "eval"])
def test_truncated_parquet_is_refused_by_every_consumer(built, tmp_path, run_cli, command):
    truncate(built / PARQUET)
    err = expect_refused(run_cli, consumers(built, tmp_path)[command], PARQUET, tmp_path)
    assert "sha256 differs from manifest.json" in err


@pytest.mark.train
@pytest.mark.parametrize("command", ["export", "export-reasonmap", "push", "train", "eval"])
def test_truncated_parquet_with_a_matching_manifest_is_refused_as_unreadable(built, tmp_path, run_cli, command):
    truncate(built / PARQUET)
    rehash(built, PARQUET)  # even a manifest that vouches for the damage does not make it readable
    err = expect_refused(run_cli, consumers(built, tmp_path)[command], PARQUET, tmp_path)
    assert "not a readable parquet file" in err


@pytest.mark.train
@pytest.mark.parametrize("command", ["export", "export-reasonmap", "push", "train", "eval"])
def test_annotation_edited_after_the_build_is_refused(built, tmp_path, run_cli, command):
    path = built / "annotations" / "mini.json"
    data = json.loads(path.read_text("utf-8"))
    data["stations"][next(iter(data["stations"]))]["name"] = "Renamed"
    path.write_text(json.dumps(data), "utf-8")
    err = expect_refused(run_cli, consumers(built, tmp_path)[command], "annotations/mini.json", tmp_path)
    assert "sha256 differs from manifest.json" in err


@pytest.mark.train
@pytest.mark.parametrize("command", ["export", "train", "eval"])
def test_missing_or_garbled_manifest_is_refused(built, tmp_path, run_cli, command):
    (built / "manifest.json").write_text("{", "utf-8")
    expect_refused(run_cli, consumers(built, tmp_path)[command], "manifest.json", tmp_path)
    (built / "manifest.json").unlink()
    expect_refused(run_cli, consumers(built, tmp_path)[command], "manifest.json", tmp_path)


@pytest.mark.train
@pytest.mark.parametrize("log", ["metrics.jsonl", "completions.jsonl"])
def test_resume_drops_a_torn_last_log_line_and_says_so(built, tmp_path, run_cli, monkeypatch, log):
    from mapkit.train import trainer

    monkeypatch.setattr(trainer, "make_reward", lambda *a, **k: toy_reward)
    monkeypatch.setattr(trainer, "lines_loader", lambda: no_lines)
    out = tmp_path / "run"
    args = ["train", "--data", built, "--model", "tiny", "--out", out, "--prompts-per-step", 2, "--num-generations", 2,
            "--max-pixels", 3136, "--max-new-tokens", 4, "--no-progress", "--save-every", 1]
    code, _, err = run_cli(*args, "--max-steps", 2)
    assert code == 0, err
    with (out / log).open("a") as f:
        f.write('{"step": 3, "stage": "to')  # killed mid-write
    code, _, err = run_cli(*args, "--max-steps", 3, "--resume")
    assert code == 0, err
    assert "Traceback" not in err and f"{log}: dropped its torn last line" in err
    rows = [json.loads(line) for line in (out / log).read_text().splitlines()]
    assert 3 in [r["step"] for r in rows]
    if log == "metrics.jsonl":
        assert [r["step"] for r in rows] == [1, 2, 3]


@pytest.mark.train
def test_a_damaged_line_before_the_last_is_an_error_naming_file_and_line(tmp_path):
    from mapkit.errors import ConfigError
    from mapkit.train.checkpoint import read_log_lines

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\nGARBAGE\n{"step": 2}\n')
    with pytest.raises(ConfigError, match=r"metrics.jsonl: line 2 is not a JSON row"):
        read_log_lines(path)
    path.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert [row["step"] for _, row in read_log_lines(path)] == [1, 2]
