"""Score saved completions without a model: ``mapkit eval --predictions PRED.jsonl``.

Each line of PRED.jsonl is ``{"id": <record id>, "completion": <text>}`` (other keys are
ignored). Every selected record of the split needs exactly one line and every line must
name a record of the split; otherwise one error lists the offenders. This is how API
models (and the papers' closed-model tables) get scored. No torch.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from mapkit.errors import DatasetError, MapkitError
from mapkit.evaluation.data import Dataset, open_dataset
from mapkit.evaluation.paper_tables import build_report
from mapkit.evaluation.scorers import Scorer

SHOW = 20  # offenders listed in an error


class PredictionsError(MapkitError):
    """A predictions file that cannot be matched with the dataset."""


def _listing(items: list[str]) -> str:
    more = f", ... ({len(items) - SHOW} more)" if len(items) > SHOW else ""
    return ", ".join(items[:SHOW]) + more


def read_predictions(path: str | Path) -> dict[str, str]:
    """id -> completion from a JSON-lines file; a readable error names file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PredictionsError(f"--predictions {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PredictionsError(f"--predictions {path}: cannot be read ({e})") from None
    out: dict[str, str] = {}
    dupes: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise PredictionsError(f"{path}:{n}: not JSON ({e.msg}); each line is {{\"id\": ..., \"completion\": ...}}") from None
        if not isinstance(row, dict) or "id" not in row or "completion" not in row:
            raise PredictionsError(f"{path}:{n}: each line needs \"id\" and \"completion\" (got "
                                   f"{', '.join(sorted(row)) if isinstance(row, dict) else type(row).__name__})")
        completion = row["completion"]
        if completion is None:
            completion = ""
        if not isinstance(completion, str):
            raise PredictionsError(f"{path}:{n}: \"completion\" must be a string, not {type(completion).__name__}")
        rid = str(row["id"])
        if rid in out:
            dupes.append(rid)
        out[rid] = completion
    if dupes:
        raise PredictionsError(f"{path}: {len(dupes)} id(s) given more than once: {_listing(dupes)}; keep one completion per id")
    if not out:
        raise PredictionsError(f"{path}: no predictions in the file")
    return out


def match(records: list[dict], completions: dict[str, str], path: str | Path) -> list[tuple[dict, str]]:
    """(record, completion) in the dataset's order; unknown ids and unanswered records fail."""
    ids = [str(r["id"]) for r in records]
    known = set(ids)
    unknown = [i for i in completions if i not in known]
    missing = [i for i in ids if i not in completions]
    problems = []
    if unknown:
        problems.append(f"{len(unknown)} id(s) in {path} are not records of this split: {_listing(unknown)}")
    if missing:
        problems.append(f"{len(missing)} record(s) have no prediction in {path}: {_listing(missing)}")
    if problems:
        raise PredictionsError("\n".join(problems) + "\n(ids are the dataset's `id` column; released layouts use "
                               "<row>_short / <row>_long for ReasonMap and <row> for ReasonMap-Plus; --types narrows the records)")
    return [(r, completions[str(r["id"])]) for r in records]


def score_predictions(predictions: str | Path, data: str | Dataset, *, split: str = "test", scorer: Scorer | None = None,
                      types: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, prediction rows) for a file of saved completions."""
    scorer = scorer or Scorer()
    dataset = data if isinstance(data, Dataset) else open_dataset(data, split)
    records = dataset.records
    if types:
        records = [r for r in records if r["type"] in types]
        if not records:
            have = Counter(r["type"] for r in dataset.records)
            raise DatasetError(f"--types {', '.join(types)}: the {split!r} split has none (it has {', '.join(sorted(have))})")
    if not scorer.released:
        from mapkit import rewards

        rewards.check_records(records)
    pairs = match(records, read_predictions(predictions), predictions)
    rows = [scorer.score(record, completion, dataset.lines_for(record)) for record, completion in pairs]
    report = build_report(rows, scorer)
    report.update(data=str(dataset.source), data_root=str(dataset.root), layout=dataset.layout, split=split,
                  types=list(types), predictions_file=str(predictions), model=f"predictions:{Path(predictions).name}")
    return report, rows
