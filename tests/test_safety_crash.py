"""Crash-safe dataset folders: a build killed at any point leaves the old folder or the
new one at the target, and the next build cleans up after it (issue: safe by construction).
Builds run in a subprocess that the MAPKIT_TEST_CRASH hook kills at a chosen point."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MINI_DIR = Path(__file__).resolve().parent / "fixtures"


def build(out: Path, *extra: str, crash: str | None = None, seed: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MAPKIT_TEST_CRASH", None)
    if crash:
        env["MAPKIT_TEST_CRASH"] = crash
    return subprocess.run([sys.executable, "-m", "mapkit", "build", "--city", "mini", "--annotations", str(MINI_DIR),
                           "--out", str(out), "--seed", str(seed), "--no-images", *extra],
                          env=env, capture_output=True, text=True, timeout=300)


def seed_of(out: Path) -> int:
    import json

    return json.loads((out / "manifest.json").read_text())["seed"]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture
def good(tmp_path) -> Path:
    out = tmp_path / "ds"
    assert build(out, seed=1).returncode == 0
    (tmp_path / "bystander.txt").write_text("not ours")
    (tmp_path / ".other.partial-1").mkdir()  # not a leftover of this target: never touched
    return out


def test_killed_between_the_renames_the_next_build_restores_the_good_copy(good, tmp_path):
    result = build(good, crash="between-renames", seed=2)
    assert result.returncode == -signal.SIGKILL
    assert not good.exists()  # the moment the hook chose: old moved aside, new not yet in place
    stranded = [n for n in leftovers(tmp_path) if n.startswith(".ds.old-")]
    assert len(stranded) == 1
    # the next build fails (bad option) but still restores the stranded copy first
    failed = build(good, "--templates", str(tmp_path / "no-templates"), seed=3)
    assert failed.returncode != 0
    assert good.is_dir() and seed_of(good) == 1
    assert "restored" in failed.stderr
    assert leftovers(tmp_path) == [".other.partial-1"]
    assert (tmp_path / "bystander.txt").read_text() == "not ours"
    from mapkit.dataset import validate_folder

    validate_folder(good)


def test_killed_before_the_swap_leaves_the_old_folder_and_a_partial_the_next_build_removes(good, tmp_path):
    result = build(good, crash="before-swap", seed=2)
    assert result.returncode == -signal.SIGKILL
    assert seed_of(good) == 1
    assert any(n.startswith(".ds.partial-") for n in leftovers(tmp_path))
    ok = build(good, seed=4)
    assert ok.returncode == 0, ok.stderr
    assert seed_of(good) == 4 and "removed .ds.partial-" in ok.stderr
    assert leftovers(tmp_path) == [".other.partial-1"]


def test_sigterm_cleans_up_like_ctrl_c(good, tmp_path):
    result = build(good, crash="term-before-swap", seed=2)
    assert result.returncode == 143 and "terminated (SIGTERM)" in result.stderr and "Traceback" not in result.stderr
    assert seed_of(good) == 1
    assert leftovers(tmp_path) == [".other.partial-1"]


def test_a_leftover_of_a_live_process_is_left_alone_a_dead_ones_removed(good, tmp_path):
    from mapkit.dataset.crashsafe import recover

    live = tmp_path / f".ds.partial-{os.getppid()}"  # our parent process is alive
    live.mkdir()
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = [tmp_path / f".ds.{kind}-{int(done.stdout)}" for kind in ("partial", "maps", "old")]
    for path in dead:
        path.mkdir()
    recover(good)
    assert live.is_dir() and not any(p.exists() for p in dead)
    assert (tmp_path / ".other.partial-1").is_dir() and seed_of(good) == 1


def test_killed_right_after_the_atomic_exchange_the_target_holds_the_new_folder(good, tmp_path):
    from mapkit.dataset.crashsafe import _exchange

    a, b = tmp_path / "probe-a", tmp_path / "probe-b"
    a.mkdir(), b.mkdir()
    (a / "x").touch()
    if not _exchange(a, b):
        pytest.skip("this file system has no atomic exchange (renameat2); the two-rename path is tested above")
    assert (b / "x").exists() and not (a / "x").exists()
    a.rmdir(), (b / "x").unlink(), b.rmdir()
    result = build(good, crash="after-exchange", seed=2)
    assert result.returncode == -signal.SIGKILL
    assert seed_of(good) == 2  # never absent: old, then new, in one step
    assert any(n.startswith(".ds.partial-") for n in leftovers(tmp_path))  # the old folder, to delete
    ok = build(good, seed=5)
    assert ok.returncode == 0 and seed_of(good) == 5
    assert leftovers(tmp_path) == [".other.partial-1"]
