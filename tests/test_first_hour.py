"""The first hour of a new user: no dead ends in the README's tour (issue #13)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def tour_lines() -> list[str]:
    """The commands of the README's "A tour of the CLI" block, comments stripped."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## A tour of the CLI", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


# -- the [train] extra -------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["train", "--stages", "all", "--data", "out/tokyo", "--model", "tiny", "--out", "runs/smoke"],
    ["eval", "--model", "tiny", "--data", "out/tokyo"],
])
def test_commands_needing_torch_say_how_to_install_it(monkeypatch, run_cli, args):
    monkeypatch.setitem(sys.modules, "torch", None)  # as after `make tokyo`: `import torch` fails
    code, out, err = run_cli(*args)
    assert code == 1
    assert "needs the [train] extra" in err and "torch is not installed" in err
    assert "pip install 'mapkit[train]'" in err
    assert "Traceback" not in err + out and "ModuleNotFoundError" not in err + out


def test_eval_compare_needs_no_torch(monkeypatch, run_cli, tmp_path):
    import json

    report = {"n": 2, "accuracy": 0.5, "by_type": {"TorF1": {"n": 2, "correct": 1, "accuracy": 0.5}}}
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text(json.dumps(report))
    monkeypatch.setitem(sys.modules, "torch", None)
    code, out, err = run_cli("eval", "--compare", tmp_path / "a.json", tmp_path / "b.json")
    assert code in (0, 1) and "[train] extra" not in err and "Traceback" not in err  # never asks for torch


# -- files the tour names ----------------------------------------------------------------------
def test_every_file_the_tour_names_ships_with_the_project():
    named = {word for line in tour_lines() for word in line.split()
             if word.startswith(("examples/", "annotations/"))}
    assert {"examples/riverton_gtfs", "examples/riverton.png", "annotations/tokyo.json"} <= named
    for rel in named:
        assert (ROOT / rel).exists(), f"README tour names {rel}, which does not ship"


def test_example_feed_imports_and_builds(tmp_path, run_cli):
    code, out, err = run_cli("import", "gtfs", EXAMPLES / "riverton_gtfs", "--city", "riverton", "--out", tmp_path / "cities")
    assert code == 0, err
    assert "12 stations, 3 lines" in out
    from mapkit.annotation import load

    annotation = load(tmp_path / "cities" / "riverton.json")
    # hand-counted from the feed: Central (A, B), Market (A, C), Opera (A, C), Riverside (B, C)
    by_station: dict[str, int] = {}
    for line in annotation.lines:
        for sid in set(line.station_ids):
            name = annotation.stations[sid].name
            by_station[name] = by_station.get(name, 0) + 1
    assert sorted(n for n, c in by_station.items() if c > 1) == ["Central", "Market", "Opera", "Riverside"]
    code, out, err = run_cli("build", "--city", "riverton", "--annotations", tmp_path / "cities", "--out", tmp_path / "ds",
                             "--per-type", "3")
    assert code == 0, err
    assert (tmp_path / "ds" / "maps" / "riverton.png").is_file()


def test_preview_draws_a_fresh_scaffold(tmp_path, run_cli):
    image = EXAMPLES / "riverton.png"
    code, out, err = run_cli("new", "mycity", "--image", image, "--annotations", tmp_path)
    assert code == 0, err
    code, out, err = run_cli("preview", "--city", "mycity", "--annotations", tmp_path, "--out", tmp_path / "check.png")
    assert code == 0, err
    assert "No stations yet" in err and "riverton.png" in err
    with Image.open(image) as src, Image.open(tmp_path / "check.png") as drawn:
        assert drawn.height >= src.height and drawn.width > src.width  # the map plus the side panel
    # the command `new` suggests works too
    code, _, err = run_cli("preview", tmp_path / "mycity.json", "--out", tmp_path / "p.png")
    assert code == 0, err
    # a scaffold someone broke is still reported, not drawn
    (tmp_path / "bad.json").write_text((tmp_path / "mycity.json").read_text().replace('"schema_version": 1', '"schema_version": "x"'))
    code, _, err = run_cli("preview", tmp_path / "bad.json", "--image", image, "--out", tmp_path / "q.png")
    assert code == 1 and "schema_version" in err


def test_tour_outputs_are_ignored_by_git():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    outputs = ["cities/riverton.json", "sft/tokyo.json", "reasonmap/tokyo/x.json", "rm.json", "tokyo.png",
               "tokyo.geometry.json", "check.png",
               "out/tokyo/README.md", "runs/smoke/metrics.jsonl"]
    result = subprocess.run(["git", "check-ignore", *outputs], cwd=ROOT, capture_output=True, text=True)
    assert sorted(result.stdout.split()) == sorted(outputs)


def test_make_test_shows_install_progress():
    recipe = (ROOT / "Makefile").read_text().split("$(VENV)/.full-installed:", 1)[1].split("\n\n", 1)[0]
    (install,) = [line for line in recipe.splitlines() if "[train" in line and "PIP" in line]
    assert install.split()[0] == "$(PIP_LOUD)"
    loud = re.search(r"^PIP_LOUD\s*:=(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert "--quiet" not in loud and "-q" not in loud.split()


# -- --resume of a finished run ----------------------------------------------------------------
@pytest.mark.train
def test_resume_of_a_finished_run_says_so(tmp_path, tmp_path_factory, run_cli, monkeypatch):
    from train_support import built_mini, no_lines, toy_reward

    from mapkit.train import trainer

    monkeypatch.setattr(trainer, "make_reward", lambda *a, **k: toy_reward)
    monkeypatch.setattr(trainer, "lines_loader", lambda: no_lines)
    data = built_mini(tmp_path_factory)
    run = tmp_path / "run"
    args = ["train", "--stages", "planning", "--stage-steps", "1", "--data", data, "--model", "tiny", "--out", run,
            "--max-pixels", 3136, "--max-new-tokens", 4, "--prompts-per-step", 2, "--num-generations", 2, "--no-progress",
            "--tiny-warmup-steps", 0]
    code, out, err = run_cli(*args)
    assert code == 0, err
    assert "trained 1 step(s)" in out
    code, out, err = run_cli(*args, "--resume")
    assert code == 0, err
    assert "nothing to do" in out and "already finished (1 step(s)" in out and "trained" not in out
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1


# -- TRL ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.train
def test_trl_example_trains_a_few_steps_in_curriculum_order(tmp_path, monkeypatch):
    pytest.importorskip("trl", reason="trl is in the [dev] extra")
    import importlib.util

    import mapkit.rewards.trl as rtrl
    from mapkit.dataset import build_dataset

    data = tmp_path / "mini"
    build_dataset([ROOT / "tests" / "fixtures" / "mini.json"], data, seed=0)
    seen: list[tuple[str, str]] = []
    real = rtrl.reward_functions

    def spying(**kwargs):
        funcs = real(**kwargs)

        def spy(prompts=None, completions=(), **columns):
            seen.extend(zip(columns["id"], columns["type"], strict=True))
            assert all(im.width * im.height <= 112 * 112 for im in columns["image"])  # shrunk once by load
            values = funcs[0](prompts, completions, **columns)
            assert all(isinstance(v, float) and v == v for v in values)
            return values
        return [spy]

    monkeypatch.setattr(rtrl, "reward_functions", spying)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    spec = importlib.util.spec_from_file_location("trl_grpo", EXAMPLES / "trl_grpo.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    trainer = example.main(str(data), "tiny", steps=2, out=str(tmp_path / "run"))
    assert trainer.state.global_step == 2
    assert sum(1 for h in trainer.state.log_history if "reward" in h) == 2
    # 2 steps x 8 completions (2 prompts x 4 generations), the first prompts of stage 1 (TorF1 + TorF2)
    assert len(seen) == 16 and {t for _, t in seen} <= {"TorF1", "TorF2"}
    assert len({i for i, _ in seen}) == 4


# -- the whole tour ------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.train
def test_every_tour_line_runs_as_written(tmp_path):
    """Each README tour command, in a copy of the checkout, offline: exit 0."""
    repo = tmp_path / "checkout"
    for name in ("annotations", "examples", "templates", "mapkit"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (tmp_path / "shared").symlink_to(shared)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9",
           "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1", "HF_TOKEN": ""}
    for line in tour_lines():
        if "../shared/" in line and not shared.is_dir():
            continue  # the ReasonMap import needs the reference data beside the checkout
        if "--predictions answers.jsonl" in line:
            continue  # scores a model's answers against the release in the Hub cache: the README says so
        argv = line.split()
        argv = [sys.executable, "-m", "mapkit", *argv[1:]] if argv[0] == "mapkit" else [sys.executable, *argv[1:]]
        result = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{line}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, line
        if "push" in argv and "--dry-run" in argv:
            assert "could not compare with the remote" in result.stdout
