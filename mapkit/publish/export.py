"""Supervised fine-tuning data from a dataset folder.

``sharegpt`` is LLaMA-Factory's multimodal sharegpt layout, as RewardMap's SFT baseline
used it: a JSON list with one record per question::

    {"conversations": [{"from": "human", "value": "<image>How many lines ...?"},
                       {"from": "gpt", "value": "4"}],
     "images": ["/abs/path/OUT/maps/tokyo.png"]}

The assistant turn is the bare answer: the option letter (Counting1), yes/no (TorF1/2),
the number (Counting2/3); route planning is left out unless asked for (its target is the
canonical route text). ``jsonl`` writes one plain record per line for other trainers.

Example::

    >>> from mapkit.publish.export import export
    >>> export("out/tokyo", "sft/tokyo.json", fmt="sharegpt").count  # doctest: +SKIP
    2310
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mapkit.errors import DatasetError
from mapkit.files import atomic_write_text
from mapkit.frames import MIN_PIXELS, answer_in_frame, frame_size, in_model_frame, smart_resize
from mapkit.vocab import GROUNDING_TYPES

FORMATS = ("sharegpt", "jsonl")
IMAGE_TOKEN = "<image>"
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}


@dataclass
class ExportResult:
    path: Path
    count: int
    by_type: dict[str, int] = field(default_factory=dict)
    skipped_planning: int = 0
    dataset_info: dict[str, Any] | None = None  # the dataset_info.json entry (sharegpt only)


def bare_answer(record: dict[str, Any]) -> str:
    """The answer as a trainer's target: "B", "yes"/"no", "12", or the route text for planning.

    >>> bare_answer({"type": "Counting1", "answer": 1, "answer_text": "B"})
    'B'
    >>> bare_answer({"type": "TorF2", "answer": 0, "answer_text": "no"})
    'no'
    """
    qtype, answer, text = record.get("type"), record.get("answer"), record.get("answer_text")
    if qtype in ("TorF1", "TorF2") and answer in (0, 1):
        derived = "yes" if answer == 1 else "no"
    elif qtype == "Counting1" and isinstance(answer, int) and 0 <= answer < 26:
        derived = chr(ord("A") + answer)
    elif qtype in ("Counting2", "Counting3") and isinstance(answer, int):
        derived = str(answer)
    else:
        if not text:
            raise DatasetError(f"record {record.get('id')}: type {qtype} has no answer_text to train on")
        return str(text)
    if text is not None and str(text).strip().lower() != derived.lower():
        raise DatasetError(f"record {record.get('id')}: answer {answer} ({derived}) disagrees with answer_text "
                           f"{text!r}; rebuild the folder")
    return derived


def _grounding_view(record: dict[str, Any], max_pixels: int | None, min_pixels: int | None) -> dict[str, Any]:
    if max_pixels is None:
        raise DatasetError(f"record {record.get('id')}: Grounding answers are pixels of the image the model sees; give "
                           "--max-pixels (your trainer's image pixel budget, e.g. LLaMA-Factory's image_max_pixels) so "
                           "they are rescaled")
    size = smart_resize(*frame_size(record), min_pixels=min_pixels or MIN_PIXELS, max_pixels=max_pixels)
    return in_model_frame(record, size)


def _select_splits(available: Iterable[str], wanted: Iterable[str]) -> list[str]:
    available = list(available)
    wanted = list(wanted) or ["train"]
    if "all" in wanted:
        return available
    missing = [s for s in wanted if s not in available]
    if missing:
        raise DatasetError(f"split(s) {', '.join(missing)} not in the folder; it has {', '.join(available)} (or use --split all)")
    return [s for s in available if s in wanted]


def export(folder: Path | str, out: Path | str, *, fmt: str = "sharegpt", splits: Iterable[str] = ("train",),
           include_planning: bool = False, relative_images: bool = False, name: str | None = None,
           boxed: bool = False, max_pixels: int | None = None, min_pixels: int | None = None) -> ExportResult:
    """Write ``folder``'s questions to ``out`` as ``fmt``; returns counts and the dataset_info entry.

    ``boxed`` writes targets as ``\\boxed{B}`` (what the prompts ask for) instead of bare.
    Rows of a text-only build (empty ``figure``) get no image and no ``<image>`` token.
    Grounding rows are answered in pixels of the image the model sees: ``max_pixels``
    (the trainer's image pixel budget; ``min_pixels`` too if it is not 56*56) gives that
    image's size (``mapkit.frames.smart_resize``), and their question and target are
    rescaled to it.
    """
    from mapkit.dataset import read_dataset as read_records
    from mapkit.dataset import validate_folder

    if fmt not in FORMATS:
        raise DatasetError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    folder, out = Path(folder), Path(out)
    validate_folder(folder)
    records = read_records(folder)
    chosen = _select_splits(records, splits)
    rows: list[dict[str, Any]] = []
    by_type: Counter = Counter()
    skipped = 0
    base = out.resolve().parent
    for split in chosen:
        for record in records[split]:
            if record.get("type") == "planning" and not include_planning:
                skipped += 1
                continue
            images = []
            if record.get("figure"):  # empty in a text-only build (--no-images)
                image = (folder / record["figure"]).resolve()
                if not image.is_file():
                    raise DatasetError(f"record {record.get('id')}: image {record['figure']} is not in {folder}")
                images.append(os.path.relpath(image, base) if relative_images else str(image))
            if record.get("type") in GROUNDING_TYPES:
                record = _grounding_view(record, max_pixels, min_pixels)
                answer = answer_in_frame(record)
            else:
                answer = bare_answer(record)
            if boxed and record.get("type") != "planning":
                answer = f"\\boxed{{{answer}}}"
            question = str(record["question"]).replace(IMAGE_TOKEN, "")  # one image token per image, ours
            if fmt == "sharegpt":
                rows.append({"conversations": [{"from": "human", "value": IMAGE_TOKEN * len(images) + question},
                                               {"from": "gpt", "value": answer}],
                             "images": images})
            else:
                rows.append({"id": record.get("id"), "split": split, "city": record.get("city"), "type": record.get("type"),
                             "image": images[0] if images else None, "question": question, "answer": answer,
                             "answer_index": record.get("answer"), "options": record.get("options"),
                             "difficulty_city": record.get("difficulty_city"),
                             "difficulty_question": record.get("difficulty_question"),
                             **({"image_size": record["image_size"]} if "image_size" in record else {})})
            by_type[str(record.get("type"))] += 1
    if not rows:
        raise DatasetError(f"nothing to export from {', '.join(chosen)} of {folder}"
                           + (" (only planning questions: add --include-planning)" if skipped else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "sharegpt":
        atomic_write_text(out, json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        atomic_write_text(out, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    info = None
    if fmt == "sharegpt":
        info = {name or out.stem: {"file_name": out.name, "formatting": "sharegpt",
                                   "columns": {"messages": "conversations", "images": "images"},
                                   "tags": dict(SHAREGPT_TAGS)}}
    return ExportResult(out, len(rows), dict(by_type), skipped, info)
