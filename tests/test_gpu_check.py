"""benchmarks/gpu_check.py rehearsed on a CPU (--tiny), so the script cannot fail on a typo
when a GPU lease is short. It asserts the script runs every phase and writes its figures,
never a timing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_gpu_check_tiny_runs_every_phase_and_writes_figures(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), str(tmp_path / "out"), "--tiny"],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    phases = report["phases"]
    assert list(phases) == ["environment", "gpu_tests", "dataset", "train_eval_tiny-a", "train_eval_tiny-b", "accelerate_fsdp_step"]
    assert {name: p["status"] for name, p in phases.items()} == dict.fromkeys(phases, "ok"), json.dumps(phases)[:3000]
    assert phases["gpu_tests"]["returncode"] == 0
    for size in ("tiny-a", "tiny-b"):
        run = phases[f"train_eval_{size}"]
        assert run["stopped"] == "done" and [s["step"] for s in run["steps"]] == [1, 2, 3]
        for s in run["steps"]:
            assert s["sequences"] == 4 and s["completion_len_mean"] <= 8
            for key in ("seconds_rollout", "seconds_reference", "seconds_update", "generated_tokens_per_s"):
                assert s[key] > 0, key
        assert run["eval"]["questions"] == 4 and run["eval"]["questions_per_s"] > 0
    fsdp = phases["accelerate_fsdp_step"]
    assert fsdp["returncode"] == 0 and fsdp["steps_logged"] == 1 and fsdp["checkpoint"]
    assert (tmp_path / "out" / "gpu_check.log").stat().st_size > 0
