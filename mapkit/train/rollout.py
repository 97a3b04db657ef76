"""Rollouts: records -> chat prompts with the map image -> sampled completions -> rewards.

Maps are huge (ReasonMap averages ~5,800 x 5,400 px), so each map is resized to the
pixel budget (--max-pixels / --min-pixels, sides multiples of the vision patch grid)
before the processor sees it. A prompt's length is measured after the processor has
expanded the image placeholder into its visual tokens; a prompt longer than
--max-prompt-length is skipped with a warning, never truncated (a cut prompt would
train the model on a question it was not asked).
"""
from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mapkit.errors import DatasetError, MapkitError, RewardError
from mapkit.frames import GROUNDING_TYPES, frame_size, in_model_frame, smart_resize
from mapkit.train.generation import end_ids, hf_generate, placeholder_ids, prompt_too_long  # noqa: F401  (re-exported)

log = logging.getLogger("mapkit.train")

REQUIRED_COLUMNS = ("id", "type", "question", "answer", "figure", "annotation", "difficulty_city")
TOKEN_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")  # [1, L] per-token inputs
REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+(@[\w./-]+)?$")


# --- data -----------------------------------------------------------------------------

@dataclass
class TrainData:
    root: Path  # the dataset folder (maps/ and annotations/ are relative to it)
    records: list[dict]
    source: str  # what --data said, for the logs


def resolve_data(ref: str) -> Path:
    """A dataset folder from a path, or REPO_ID[@REVISION] through the local Hub cache
    (one rule for training, evaluation and scoring: ``mapkit.evaluation.data.resolve``)."""
    from mapkit.evaluation.data import resolve

    return resolve(ref)


def load_data(ref: str, split: str = "train") -> TrainData:
    root = resolve_data(ref)
    # mapkit's layout or the released ReasonMap / ReasonMap-Plus ones
    from mapkit.dataset.check import validate_folder
    from mapkit.evaluation.data import MAPKIT, open_dataset, split_files

    # The shared folder check (manifest hashes, parquet readable): a damaged or edited
    # mapkit folder stops here with the file named instead of failing mid-run.
    vouched = (root / "manifest.json").exists()
    if vouched:
        validate_folder(root, records=False)
    files = split_files(root, split)
    if not files:
        have = sorted({f.name.split("-")[0] for f in (root / "data").glob("*.parquet")})
        raise DatasetError(f"{root}: no {split!r} split in data/ (found: {', '.join(have) or 'nothing'}); "
                           f"is this a folder written by `mapkit build`?")
    dataset = open_dataset(str(root), split)
    if dataset.layout == MAPKIT and not vouched:
        validate_folder(root, records=False)  # refuses it, naming the missing manifest.json
    records = dataset.records
    missing = [c for c in REQUIRED_COLUMNS if records and c not in records[0]]
    if missing:
        raise DatasetError(f"{files[0]}: missing record column(s) {', '.join(missing)}; rebuild with `mapkit build`")
    return TrainData(root=root, records=records, source=ref)


# --- images ---------------------------------------------------------------------------

def fit_to_budget(width: int, height: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 28 * 28 * 16384) -> tuple[int, int]:
    """(width, height) with sides multiples of ``factor``, aspect kept, and
    min_pixels <= width * height <= max_pixels.

    >>> fit_to_budget(5800, 5400, max_pixels=112 * 112)  # each side floored to 28s: 116 -> 112, 108 -> 84
    (112, 84)
    """
    return smart_resize(width, height, factor, min_pixels, max_pixels)  # Qwen2.5-VL's own rule (mapkit.frames)


@functools.lru_cache(maxsize=16)  # records share one map per city: decode each once
def load_map(path: str, factor: int, min_pixels: int, max_pixels: int):
    from PIL import Image

    from mapkit.render.images import open_map

    image = open_map(path)
    size = fit_to_budget(*image.size, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return image if size == image.size else image.resize(size, Image.Resampling.BICUBIC)


def patch_factor(processor) -> int:
    ip = getattr(processor, "image_processor", None)
    return int(getattr(ip, "patch_size", 14) or 14) * int(getattr(ip, "merge_size", 2) or 2)


# --- prompts --------------------------------------------------------------------------

def model_view(processor, record: dict, root: Path, cfg) -> dict:
    """The record as the model sees it: a Grounding question's coordinates rescaled to
    the resized map (``mapkit.frames.in_model_frame``, which also tells the reward the
    size). Other records, and records without a map, come back as they are."""
    if record.get("type") not in GROUNDING_TYPES or not record.get("figure"):
        return record
    from mapkit.render.images import image_size

    path = root / record["figure"]
    try:
        size, frame = image_size(path), frame_size(record)
    except MapkitError as e:
        raise DatasetError(f"record {record['id']}: {e}") from None
    if tuple(size) != frame:
        raise DatasetError(f"record {record['id']}: map {path} is {size[0]}x{size[1]} but the record's coordinates are "
                           f"for {frame[0]}x{frame[1]}; rebuild the dataset")
    return in_model_frame(record, fit_to_budget(*size, patch_factor(processor), cfg.min_pixels, cfg.max_pixels))


def build_prompt(processor, record: dict, root: Path, cfg) -> dict[str, torch.Tensor]:
    """Processor inputs (batch of one) for a record: the map image, then the question."""
    content: list[dict[str, Any]] = []
    images = None
    if record.get("figure"):
        path = root / record["figure"]
        if not path.is_file():
            raise DatasetError(f"record {record['id']}: map image {path} is missing")
        images = [load_map(str(path), patch_factor(processor), cfg.min_pixels, cfg.max_pixels)]
        content.append({"type": "image"})
    content.append({"type": "text", "text": record["question"]})
    text = processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True)
    return dict(processor(text=[text], images=images, return_tensors="pt"))


# --- rewards --------------------------------------------------------------------------

# fn(completion, record, lines) -> {"reward", "correct", "detail", "format", "weight", "parsed", ...}
RewardFn = Callable[[str, dict, Any], dict]
PARTS = ("correct", "detail", "format", "weight")


def make_reward(mode: str = "paper", weighting: str = "difficulty_aware", detail: bool = True,
                 answer_after: str | None = None) -> RewardFn:
    """The RewardMap reward (``mapkit.rewards.breakdown``) with the run's switches;
    ``answer_after`` rewards only the text after that marker's last occurrence."""
    rewards = _rewards_module()
    from mapkit.evaluation.answer import final_answer

    def fn(completion: str, record: dict, lines: Any) -> dict:
        if answer_after:
            completion = final_answer(completion, (answer_after,))
        parts = rewards.breakdown(completion, record, lines, mode=mode, weighting=weighting, detail=detail)
        return {"reward": parts.reward, "correct": parts.correct, "detail": parts.detail, "format": parts.format,
                "weight": parts.weight, "parsed": parts.parsed, "reason": parts.reason}

    return fn


def _rewards_module():
    try:
        from mapkit import rewards
    except ImportError as e:
        raise RewardError(f"the RewardMap reward (mapkit.rewards) cannot be imported: {e}") from None
    return rewards


def lines_loader() -> Callable[[Path], Any]:
    """Annotation file -> the city's lines (mapkit.rewards caches one per file)."""
    return _rewards_module().load_lines


# --- rollouts -------------------------------------------------------------------------

@dataclass
class Group:
    """One prompt and its G sampled completions."""

    record: dict
    prompt: dict[str, torch.Tensor]  # processor output, batch of one
    completions: list[torch.Tensor]  # G x [len_i] token ids, up to and including the end token
    truncated: list[bool]  # hit max_new_tokens without an end token
    texts: list[str]
    rewards: list[dict] = field(default_factory=list)

    @property
    def prompt_length(self) -> int:
        return int(self.prompt["input_ids"].shape[1])


@torch.no_grad()
def sample(model, processor, prompt: dict, cfg, device, synced_gpus: bool = False) -> tuple[list[torch.Tensor], list[bool]]:
    """G completions of one prompt (generation.hf_generate): (completions, truncated)."""
    inputs = {k: v.to(device) for k, v in prompt.items()}
    out = hf_generate(model, processor, inputs, temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                      n=cfg.num_generations, synced_gpus=synced_gpus)
    return [ids for ids, _ in out], [t for _, t in out]


def rollout(model, processor, records: list[dict], root: Path, cfg, device, reward_fn: RewardFn,
            lines_for: Callable[[dict], Any], sample_fn: Callable | None = None) -> tuple[list[Group], list[dict]]:
    """Groups for the records that fit, and the skipped ones ({id, prompt_tokens}).
    ``sample_fn(prompt, record) -> (completions, truncated)`` replaces ``sample`` (vLLM)."""
    groups, skipped = [], []
    was_training = model.training
    model.eval()
    try:
        for record in records:
            record = model_view(processor, record, root, cfg)
            prompt = build_prompt(processor, record, root, cfg)
            length = prompt_too_long(prompt, cfg.max_prompt_length, record["id"], "skipping")
            if length is not None:
                skipped.append({"id": record["id"], "prompt_tokens": length})
                continue
            completions, truncated = (sample_fn(prompt, record) if sample_fn else sample(model, processor, prompt, cfg, device))
            texts = processor.batch_decode(completions, skip_special_tokens=True)
            group = Group(record, prompt, completions, truncated, texts)
            lines = lines_for(record)
            group.rewards = [reward_fn(text, record, lines) for text in texts]
            groups.append(group)
    finally:
        model.train(was_training)
    return groups, skipped


def collate(items: list[tuple[dict, torch.Tensor]], pad_id: int, device) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """(prompt inputs, completion ids) pairs -> model inputs for prompt + completion.

    Prompts are left-padded and completions right-padded, so every completion starts at
    the same column and the last T + 1 logits cover them. Returns (inputs,
    completion_ids [n, T], completion_mask [n, T]).
    """
    P = max(p["input_ids"].shape[1] for p, _ in items)
    T = max(len(c) for _, c in items)
    n = len(items)
    ids = torch.full((n, P + T), pad_id, dtype=torch.long)
    attention = torch.zeros((n, P + T), dtype=torch.long)
    extra_token = {k: torch.zeros((n, P + T), dtype=items[0][0][k].dtype) for k in TOKEN_KEYS[2:] if k in items[0][0]}
    completion_ids = torch.full((n, T), pad_id, dtype=torch.long)
    mask = torch.zeros((n, T), dtype=torch.float32)
    for i, (prompt, completion) in enumerate(items):
        p, c = prompt["input_ids"].shape[1], len(completion)
        ids[i, P - p:P] = prompt["input_ids"][0]
        attention[i, P - p:P] = prompt["attention_mask"][0]
        for k, v in extra_token.items():
            v[i, P - p:P] = prompt[k][0]
        ids[i, P:P + c] = completion
        attention[i, P:P + c] = 1
        completion_ids[i, :c] = completion
        mask[i, :c] = 1
    inputs: dict[str, torch.Tensor] = {"input_ids": ids, "attention_mask": attention, **extra_token}
    for key in items[0][0]:
        if key not in TOKEN_KEYS:  # pixel_values [patches, d], image_grid_thw [images, 3]: one block per sequence
            inputs[key] = torch.cat([prompt[key] for prompt, _ in items], dim=0)
    return {k: v.to(device) for k, v in inputs.items()}, completion_ids.to(device), mask.to(device)


@dataclass
class MicroBatch:
    """Sequences ``rows`` of a step, collated only when used (``load``), so a step's
    images are never all on the device at once. ``weight`` [n] is 0 for sequences
    dropped from the loss (--skip-zero-std)."""

    items: list[tuple[dict, torch.Tensor]]  # (prompt inputs shared by the group, completion ids)
    rows: torch.Tensor
    weight: torch.Tensor
    pad_id: int
    device: Any

    def load(self) -> dict[str, Any]:
        inputs, completion_ids, mask = collate(self.items, self.pad_id, self.device)
        return {"inputs": inputs, "completion_ids": completion_ids, "mask": mask, "weight": self.weight.to(self.device)}

    @property
    def tokens(self) -> float:
        """Real completion tokens that count in the loss."""
        return float(sum(len(c) * float(w) for (_, c), w in zip(self.items, self.weight)))

    @property
    def sequences(self) -> float:
        """Sequences that count in the loss (kept, with at least one token)."""
        return float(sum(float(w) for (_, c), w in zip(self.items, self.weight) if len(c)))

    def units(self, loss_agg: str) -> float:
        """What the step's loss averages over in this micro-batch (--loss-agg)."""
        return self.tokens if loss_agg == "token-mean" else self.sequences


def micro_batches(groups: list[Group], keep: torch.Tensor, size: int, pad_id: int, device) -> list[MicroBatch]:
    sequences = [(g.prompt, c) for g in groups for c in g.completions]
    return [MicroBatch(sequences[lo:lo + size], torch.arange(lo, min(lo + size, len(sequences))), keep[lo:lo + size], pad_id, device)
            for lo in range(0, len(sequences), size)]
