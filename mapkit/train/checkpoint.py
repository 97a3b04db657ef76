"""Checkpoints ``RUN/checkpoint-<step>/`` and the run's JSONL logs.

A checkpoint holds everything a resume needs: the model in save_pretrained form (the
adapter only, with --lora) with its processor, so ``from_pretrained`` opens it; the
optimizer and scheduler states; the sampler position; every RNG state; the config
(``train_config.json``). It is written into a hidden temporary folder and renamed into
place, so a run killed mid-save leaves the previous checkpoint as the latest good one.
"""
from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mapkit.files import atomic_write_text

STATE = "trainer_state.json"  # written last: its presence marks a complete checkpoint
_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run, oldest first."""
    found = []
    for path in Path(run).glob("checkpoint-*"):
        m = _NAME.match(path.name)
        if m and (path / STATE).is_file():
            found.append((int(m.group(1)), path))
    return sorted(found)


def latest(run: Path) -> Path | None:
    found = checkpoints(run)
    return found[-1][1] if found else None


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(run: Path, step: int, *, model, processor, optimizer, scheduler, sampler, cfg, extra: dict | None = None,
         model_state: dict | None = None, optimizer_state: dict | None = None, rng_states: list | None = None) -> Path:
    """Write checkpoint-<step> atomically; returns its path.

    Data parallel (rank 0 writes): ``model_state`` / ``optimizer_state`` are full state
    dicts gathered from sharded ranks (FSDP), ``rng_states`` every rank's RNG state
    (rng_states.pt; rng_state.pt stays rank 0's).
    """
    run = Path(run)
    final = run / f"checkpoint-{step}"
    tmp = run / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, **({"state_dict": model_state} if model_state is not None else {}))
    processor.save_pretrained(tmp)
    torch.save(optimizer.state_dict() if optimizer_state is None else optimizer_state, tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(rng_state(), tmp / "rng_state.pt")
    if rng_states is not None:
        torch.save(rng_states, tmp / "rng_states.pt")
    cfg.save(tmp / "train_config.json")
    state = {"step": step, "sampler": sampler.state_dict(), **(extra or {})}
    (tmp / STATE).write_text(json.dumps(state, indent=2) + "\n")
    if final.exists():  # saving the same step again (a re-run): move the old one aside first
        old = run / f".checkpoint-{step}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    return final


def prune(run: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` complete checkpoints (keep 0: delete none)."""
    if keep > 0:
        for _, path in checkpoints(run)[:-keep]:
            shutil.rmtree(path)


def load_state(path: Path, *, optimizer, scheduler, sampler) -> int:
    """Restore optimizer (unless None: the caller loads it), scheduler, sampler and RNG
    states; returns the step."""
    state = json.loads((path / STATE).read_text())
    if optimizer is not None:
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    sampler.load_state_dict(state["sampler"])
    set_rng_state(torch.load(path / "rng_state.pt", weights_only=False))
    return int(state["step"])


class RunLog:
    """metrics.jsonl (one row per step) and completions.jsonl, appended and flushed each
    step. On resume, rows past the checkpoint's step (written after it, then lost with
    the model state) are dropped so every step appears exactly once."""

    def __init__(self, run: Path, resume_step: int | None = None):
        self.metrics_path = Path(run) / "metrics.jsonl"
        self.completions_path = Path(run) / "completions.jsonl"
        if resume_step is not None:
            for path in (self.metrics_path, self.completions_path):
                _truncate_after(path, resume_step)
        self._metrics = self.metrics_path.open("a")
        self._completions = self.completions_path.open("a")

    def write(self, row: dict, completions: list[dict]) -> None:
        self._metrics.write(json.dumps(_clean(row), ensure_ascii=False) + "\n")
        self._metrics.flush()
        for c in completions:
            self._completions.write(json.dumps(_clean(c), ensure_ascii=False) + "\n")
        self._completions.flush()

    def close(self) -> None:
        self._metrics.close()
        self._completions.close()


def _truncate_after(path: Path, step: int) -> None:
    if not path.is_file():
        return
    keep = [line for line in read_log_lines(path) if line[1]["step"] <= step]
    keep = [text for text, _ in keep]
    atomic_write_text(path, "".join(line + "\n" for line in keep))


def read_log_lines(path: Path) -> list[tuple[str, dict]]:
    """(text, row) for each line of a run's JSONL log. A torn last line (the run was killed
    while writing it) is dropped with a warning; a bad line before it is a ConfigError
    naming the file and line, since that is damage, not an interrupted write."""
    import logging

    from mapkit.errors import ConfigError

    lines = path.read_text("utf-8", errors="replace").splitlines()
    out = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
            if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                raise ValueError("no integer 'step'")
        except ValueError as e:
            if number == len(lines):
                logging.getLogger("mapkit.train").warning(
                    "%s: dropped its torn last line %d (%d characters; the run stopped while writing it)", path, number, len(text))
                break
            raise ConfigError(f"{path}: line {number} is not a JSON row with a 'step' ({e}); "
                              "fix or remove that line, or start a new run with another --out") from None
        out.append((text, row))
    return out


def _clean(value):
    """NaN/inf -> null: JSON has no NaN, and a metric that does not apply is absent."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
