"""`mapkit eval`: generate answers for a split and score them as training does.

    >>> from mapkit.train.predict import EvalConfig, evaluate               # doctest: +SKIP
    >>> result = evaluate(EvalConfig(model="runs/smoke/checkpoint-12", data="out/tokyo"))  # doctest: +SKIP
    >>> result.report["weighted_accuracy"]                                   # doctest: +SKIP

Prompts are the training prompts (``rollout.build_prompt``: the map resized to the same
pixel budget, then the question; ``--text-only`` drops the map), batched with left
padding (``rollout.collate``) and decoded greedily unless ``temperature > 0``. Each
answer is scored by ``mapkit.evaluation.scorers.Scorer`` (``--scorer``; the default ``mapkit`` is
``mapkit.evaluation.report.score_prediction``): correctness is the reward's own
R_correct (``mapkit.rewards.breakdown``), so training and evaluation cannot disagree.
A prompt longer than ``max_prompt_length`` is not asked (as in training) and counts as
wrong. The pure arithmetic of the report is ``mapkit.evaluation.report.summarize``.
"""
from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mapkit.errors import ConfigError, DatasetError, MapkitError
from mapkit.evaluation.report import GROUNDING_TYPES, TYPES
from mapkit.train import checkpoint as ckpt
from mapkit.train.config import DTYPES, SIZED_DEFAULTS, GRPOConfig, check_choice, check_pixels, check_positive, check_top_p
from mapkit.train.generation import end_ids, hf_generate, prompt_too_long
from mapkit.train.models import TINY, load_base, load_checkpoint, resolve_dtype, set_pixel_budget
from mapkit.train.rollout import build_prompt, collate, lines_loader, load_data, model_view
from mapkit.vocab import REWARD_MODES

log = logging.getLogger("mapkit.train.predict")

# settings a checkpoint's training run fixes, used as the evaluation's defaults
FROM_TRAINING = ("max_new_tokens", "max_prompt_length", "min_pixels", "max_pixels")
BATCH_SIZE = (8, 16)  # (real model, tiny)


@dataclass
class EvalConfig:
    model: str  # tiny | a local model folder | RUN/checkpoint-N | RUN (its latest checkpoint)
    data: str  # a dataset folder or REPO_ID[@REVISION]
    split: str = "test"
    limit: int | None = None  # evaluate a seeded random subset of this many records (kept in file order)
    types: tuple[str, ...] = ()  # only these record types (empty: all)
    text_only: bool = False  # no map image: ReasonMap's text-only baseline
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    max_new_tokens: int | None = None  # None: the checkpoint's training value, else 2048 (64 for tiny)
    batch_size: int | None = None  # None: 8 (16 for tiny)
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_prompt_length: int | None = None
    seed: int = 0
    reward_mode: str = "default"  # mapkit.rewards mode that decides correctness
    scorer: str = "mapkit"  # mapkit | reasonmap | reasonmap-plus (mapkit.evaluation.scorers)
    answer_after: str | None = None  # grade the text after this marker (default: </think> / ◁/think▷)
    full_text: bool = False  # grade the whole completion
    dtype: str = "auto"
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        self.types = tuple(x for t in self.types or () for x in (GROUNDING_TYPES if t == "Grounding" else (t,)))
        unknown = [t for t in self.types if t not in TYPES]
        if unknown:
            raise ConfigError(f"--types: unknown type(s) {', '.join(unknown)}; use {', '.join(TYPES)}")
        check_choice("reward_mode", self.reward_mode, REWARD_MODES)
        if self.temperature < 0:
            raise ConfigError(f"--temperature is {self.temperature}: use 0 for greedy decoding or a positive value to sample")
        check_top_p(self.top_p)
        for name in ("limit", "max_new_tokens", "batch_size", "min_pixels", "max_pixels", "max_prompt_length"):
            check_positive(name, getattr(self, name))
        check_pixels(self.min_pixels, self.max_pixels)
        self.scoring()  # rejects an unknown scorer or contradicting answer options
        check_choice("dtype", self.dtype, DTYPES)


    def scoring(self):
        from mapkit.evaluation.scorers import AnswerCut, Scorer

        return Scorer(self.scorer, self.reward_mode, AnswerCut.from_options(self.answer_after, self.full_text))


@dataclass
class ModelSpec:
    """What ``--model`` names, resolved before anything is loaded."""

    kind: str  # tiny | checkpoint | local
    path: Path | None
    train: GRPOConfig | None = None  # the training settings of a checkpoint

    @property
    def smoke(self) -> bool:
        return self.kind == TINY or (self.train is not None and self.train.is_smoke)


@dataclass
class EvalResult:
    report: dict[str, Any]
    predictions: list[dict[str, Any]] = field(default_factory=list)


# --- model ------------------------------------------------------------------------------

def resolve_model(name: str) -> ModelSpec:
    """``tiny``, a checkpoint folder (``train_config.json`` inside), a run folder (its
    latest complete checkpoint) or a local model folder."""
    if not name:
        raise ConfigError("--model is missing: give `tiny`, a local model folder or a RUN/checkpoint-N folder from `mapkit train`")
    if name == TINY:
        return ModelSpec(TINY, None)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ConfigError(f"--model {name}: no such folder; give `tiny`, a local model folder (save_pretrained form) "
                          f"or a RUN/checkpoint-N folder written by `mapkit train`")
    latest = ckpt.latest(path)
    if latest is not None:  # a run folder: its newest complete checkpoint
        log.info("--model %s is a run folder: evaluating its latest checkpoint %s", name, latest.name)
        path = latest
    elif list(path.glob("checkpoint-*")) and not (path / "config.json").is_file():
        raise ConfigError(f"--model {name}: a run folder without a complete checkpoint (no checkpoint-N/{ckpt.STATE})")
    cfg_file = path / "train_config.json"
    if not cfg_file.is_file():
        return ModelSpec("local", path)
    try:
        train_cfg = GRPOConfig(**json.loads(cfg_file.read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(f"--model {name}: {cfg_file} is not a readable mapkit training config ({e})") from None
    return ModelSpec("checkpoint", path, train_cfg)


def _load(spec: ModelSpec, cfg: EvalConfig, device: torch.device):
    dtype = resolve_dtype(cfg.dtype, device)
    if spec.kind == "checkpoint":
        try:
            model, processor = load_checkpoint(spec.path, device)
        except MapkitError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise ConfigError(f"--model {spec.path}: not a loadable checkpoint ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        model = model.to(dtype)  # trained with float32 master weights; evaluated in the inference dtype
    else:
        model, processor = load_base(TINY if spec.kind == TINY else str(spec.path), dtype=dtype, seed=cfg.seed,
                                     min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels)
        model = model.to(device)
    set_pixel_budget(processor, cfg.min_pixels, cfg.max_pixels)
    return model.eval(), processor


def _fill_defaults(cfg: EvalConfig, spec: ModelSpec) -> EvalConfig:
    """Settings left unset take the checkpoint's training values (same prompts and pixel
    budget as training), else the paper's / the tiny preset's."""
    values = asdict(cfg)
    for name in FROM_TRAINING:
        if values[name] is None:
            values[name] = getattr(spec.train, name) if spec.train is not None else SIZED_DEFAULTS[name][1 if spec.smoke else 0]
    if values["batch_size"] is None:
        values["batch_size"] = BATCH_SIZE[1 if spec.smoke else 0]
    return EvalConfig(**values)  # validated again with the filled-in values


# --- data -------------------------------------------------------------------------------

def select_records(records: list[dict], cfg: EvalConfig) -> list[dict]:
    """The records to ask: ``--types`` (each must be present), then ``--limit`` as a
    seeded random subset kept in file order (so a limit still spans the types)."""
    if cfg.types:
        have = sorted({r["type"] for r in records}, key=TYPES.index)
        absent = [t for t in cfg.types if t not in have]
        if absent:
            raise DatasetError(f"--types: the {cfg.split!r} split has no {', '.join(absent)} records (it has {', '.join(have) or 'none'})")
        records = [r for r in records if r["type"] in cfg.types]
    if not records:
        raise DatasetError(f"the {cfg.split!r} split has no records")
    if cfg.limit is not None and cfg.limit < len(records):
        keep = sorted(random.Random(cfg.seed).sample(range(len(records)), cfg.limit))
        records = [records[i] for i in keep]
    return records


# --- generation -------------------------------------------------------------------------

@contextmanager
def _threads(n: int | None):
    """The tiny model on CPU runs fastest on one thread (see `mapkit train`)."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.no_grad()
def generate(model, processor, prompts: list[dict], cfg: EvalConfig, device) -> list[tuple[torch.Tensor, bool]]:
    """One completion per prompt, batched with left padding (generation.hf_generate):
    (token ids up to and including the end token, truncated)."""
    _, pad = end_ids(model, processor)
    empty = torch.zeros(0, dtype=torch.long)
    inputs, _, _ = collate([(p, empty) for p in prompts], pad, device)  # prompts left-padded to one width
    return hf_generate(model, processor, inputs, temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens)


def evaluate(cfg: EvalConfig, *, on_batch: Callable[[int], None] | None = None) -> EvalResult:
    """Generate and score every selected record of the split; returns the report (as
    ``mapkit.evaluation.report.summarize`` computes it, plus the run's settings) and the
    predictions. Nothing is written: ``mapkit.evaluation.report.write_report`` does that."""
    from tqdm.auto import tqdm

    from mapkit import rewards
    from mapkit.evaluation.paper_tables import build_report

    t_start = time.perf_counter()
    scorer = cfg.scoring()
    spec = resolve_model(cfg.model)
    cfg = _fill_defaults(cfg, spec)
    data = load_data(cfg.data, cfg.split)
    records = select_records(data.records, cfg)
    rewards.check_records(records)  # a record that cannot be scored fails before the model loads
    load_lines = lines_loader()

    def lines_for(record):
        return load_lines(data.root / record["annotation"]) if record.get("annotation") else None

    for record in records:  # unreadable annotations fail now too, not after the generation
        if record["type"] in ("planning", "Counting1"):
            lines_for(record)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    if spec.smoke:
        log.warning("SMOKE MODEL: the tiny model's answers are noise; this evaluation tests the pipeline only")
    with _threads(1 if spec.smoke and device.type == "cpu" else None):
        torch.manual_seed(cfg.seed)
        model, processor = _load(spec, cfg, device)
        t_gen = time.perf_counter()
        # same map and similar question length side by side: little padding, one image decode per map
        order = sorted(range(len(records)), key=lambda i: (str(records[i].get("figure")), len(records[i]["question"])))
        predictions: list[dict | None] = [None] * len(records)
        bar = tqdm(total=len(records), unit="q", desc="eval", disable=not cfg.progress, dynamic_ncols=True)
        tokens = 0
        try:
            for lo in range(0, len(order), cfg.batch_size):
                batch = order[lo:lo + cfg.batch_size]
                asked, prompts = [], []
                for i in batch:
                    if not cfg.text_only:  # Grounding coordinates in the resized map's pixels
                        records[i] = model_view(processor, records[i], data.root, cfg)
                    record = records[i]
                    prompt = build_prompt(processor, {**record, "figure": None} if cfg.text_only else record, data.root, cfg)
                    length = prompt_too_long(prompt, cfg.max_prompt_length, record["id"], "not asking (counted wrong)")
                    if length is not None:
                        predictions[i] = {**scorer.score(record, "", lines_for(record)),
                                          "prompt_tokens": length, "completion_tokens": 0, "truncated": False, "skipped": True}
                        continue
                    asked.append(i)
                    prompts.append(prompt)
                if prompts:
                    outputs = generate(model, processor, prompts, cfg, device)
                    texts = processor.batch_decode([ids for ids, _ in outputs], skip_special_tokens=True)
                    for i, prompt, (ids, truncated), text in zip(asked, prompts, outputs, texts):
                        predictions[i] = {**scorer.score(records[i], text, lines_for(records[i])),
                                          "prompt_tokens": int(prompt["input_ids"].shape[1]), "completion_tokens": len(ids),
                                          "truncated": truncated, "skipped": False}
                        tokens += len(ids)
                bar.update(len(batch))
                if on_batch:
                    on_batch(len(batch))
        finally:
            bar.close()
    gen_seconds = time.perf_counter() - t_gen
    rows = [p for p in predictions if p is not None]
    report = build_report(rows, scorer)
    report.update(_settings(cfg, spec, data.root, device))
    report.update(
        skipped=sum(p["skipped"] for p in rows), truncated=sum(p["truncated"] for p in rows),
        seconds=round(time.perf_counter() - t_start, 3), generation_seconds=round(gen_seconds, 3),
        questions_per_s=round(len(rows) / gen_seconds, 3) if gen_seconds > 0 else None,
        tokens_per_s=round(tokens / gen_seconds, 1) if gen_seconds > 0 else None,
    )
    return EvalResult(report=report, predictions=rows)


def _settings(cfg: EvalConfig, spec: ModelSpec, root: Path, device) -> dict[str, Any]:
    from mapkit import __version__

    return {
        "model": cfg.model, "model_kind": spec.kind, "checkpoint": str(spec.path) if spec.kind == "checkpoint" else None,
        "smoke": spec.smoke, "data": cfg.data, "data_root": str(root), "split": cfg.split, "types": list(cfg.types),
        "limit": cfg.limit, "seed": cfg.seed, "reward_mode": cfg.reward_mode, "device": str(device), "mapkit_version": __version__,
        "generation": {"greedy": cfg.temperature == 0, "temperature": cfg.temperature, "top_p": cfg.top_p,
                       "max_new_tokens": cfg.max_new_tokens, "batch_size": cfg.batch_size, "min_pixels": cfg.min_pixels,
                       "max_pixels": cfg.max_pixels, "max_prompt_length": cfg.max_prompt_length, "text_only": cfg.text_only,
                       "dtype": cfg.dtype},
    }
