"""`mapkit train`: GRPO with the RewardMap curriculum.

The options are generated from GRPOConfig's fields (name, type, help), so the CLI and
the config file can never disagree; every option defaults to "not given", and only the
options given override ``--config FILE``. torch is imported inside the command.
"""
from __future__ import annotations

import inspect
import logging
import os
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Optional

import typer

from mapkit.cli._app import app, err, out, require_train_extra
from mapkit.train.config import GRPOConfig

_FLAG_TYPES = {int: int, float: float, str: str, bool: bool}
# short, fixed metavars keep --help readable
_METAVAR = {"data": "OUT|REPO_ID[@REVISION]", "model": "tiny|PATH", "out": "RUN", "stages": "all|1,2|NAMES"}


def _run(config: Path | None, **given: Any) -> None:
    require_train_extra("train")
    cfg = GRPOConfig.load(config, **given)
    import torch

    from mapkit.train.trainer import train as run_training

    if cfg.is_smoke and not torch.cuda.is_available():
        # the tiny model's matrices are too small to split across threads: extra OpenMP
        # workers only spin, and on a busy 2-core machine they double the wall time
        torch.set_num_threads(1)

    first = int(os.environ.get("RANK", "0")) == 0  # under `accelerate launch`, rank 0 speaks for all
    _log_to_stderr(logging.INFO if first else logging.WARNING)  # the first line says SMOKE MODEL when --model tiny
    result = run_training(cfg)
    if first and result.resumed_at is not None and result.resumed_at >= result.steps:
        out.print(f"nothing to do: the run in {result.out} had already finished ({result.steps} step(s), "
                  f"checkpoint {result.last_checkpoint}); a larger --max-steps continues it, a new --out starts another run")
    elif first:
        out.print(f"trained {result.steps} step(s); latest checkpoint: {result.last_checkpoint}")
        out.print(f"metrics: {result.out / 'metrics.jsonl'}")


def _options() -> list[inspect.Parameter]:
    hints = typing.get_type_hints(GRPOConfig)
    params = [inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
                                default=typer.Option(None, "--config", help="TOML or JSON file of settings (field names); flags override it."))]
    for f in fields(GRPOConfig):
        kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
        flag = "--" + f.name.replace("_", "-")
        default = "" if f.default in (MISSING, None, "") else f" [default: {f.default}]"
        names = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        option = typer.Option(None, *names, help=f.metadata["help"] + default, metavar=_METAVAR.get(f.name), show_default=False)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[_FLAG_TYPES[kind]], default=option))
    return params


def _log_to_stderr(level: int = logging.INFO) -> None:
    """mapkit.train's log records (skipped prompts, resume notes) to stderr, above the bar."""
    logger = logging.getLogger("mapkit.train")
    logger.setLevel(level)
    if any(getattr(h, "_mapkit", False) for h in logger.handlers):
        return

    class TqdmHandler(logging.Handler):
        _mapkit = True

        def emit(self, record: logging.LogRecord) -> None:
            from tqdm.auto import tqdm

            prefix = "warning: " if record.levelno >= logging.WARNING else ""
            tqdm.write(prefix + record.getMessage(), file=err.file)

    logger.addHandler(TqdmHandler())
    logger.propagate = False


def train(**kwargs: Any) -> None:
    """Train a VLM with GRPO on a dataset folder, stage by stage (RewardMap curriculum).

    Example (CPU smoke run: 12 steps, about 20 s on a 2-core machine, half of it importing torch):
    mapkit train --stages all --data out/tokyo --model tiny --out runs/smoke

    Needs the [train] extra: pip install 'mapkit[train]'.

    Writes RUN/metrics.jsonl (one row per step), RUN/completions.jsonl (a sample of
    completions) and RUN/checkpoint-<step>/; --resume continues from the latest.

    Data parallel: accelerate launch --num_processes N $(which mapkit) train ...
    (--prompts-per-step a multiple of N; FSDP through accelerate's own flags/config).
    """
    _run(**kwargs)


train.__signature__ = inspect.Signature(_options())  # type: ignore[attr-defined]
app.command("train")(train)
