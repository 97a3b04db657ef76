"""Datasets to score or train on, in mapkit's layout or the released ones; no torch.

``open_dataset(ref, split)`` reads a folder (or a Hub ``REPO_ID[@REVISION]`` from the
local cache) and returns mapkit records whatever the layout:

* mapkit: ``data/<split>-*.parquet`` as ``mapkit build`` writes it;
* ReasonMap (``FSCCS/ReasonMap``): one row per station pair with ``question_short``,
  ``question_long``, ``routes`` ({"route_0": [sections], ...}), ``station_1/2``,
  ``country``, ``city``, difficulty and count columns, ``figure`` (base64 PNG, or a path).
  Each row gives two planning records, ``<row>_short`` and ``<row>_long`` (the row
  number in file order, as the released script names its result files);
* ReasonMap-Plus / ReasonMap-Train: ``question``, ``figure``, ``type``, ``answer``,
  ``station_1/2``, ...: one record per row, id ``<row>`` (or the row's own ``id``).

A released row does not carry its city's line list in a mapkit annotation: it comes from
the row's ``json`` column (the stations mapping, or its path) or from
``stations/<country>/<city>.json`` inside the folder (the released repository's layout).
Images given as bytes or base64 and line lists given inline are written once to the cache
(``$MAPKIT_CACHE``, default ``~/.cache/mapkit``) so training and evaluation can open them
by path; records then carry absolute paths (``root / absolute`` is the absolute path).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapkit.errors import ConfigError, DatasetError, HubError
from mapkit.files import atomic_write

MAPKIT, REASONMAP, REASONMAP_PLUS = "mapkit", "reasonmap", "reasonmap-plus"
REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+(@[\w./-]+)?$")


@dataclass
class Dataset:
    root: Path
    records: list[dict]
    layout: str  # mapkit | reasonmap | reasonmap-plus
    source: str

    def lines_for(self, record: dict) -> Any:
        """The record's city lines (line name -> stations), or None when it has none."""
        from mapkit.rewards import load_lines

        return load_lines(self.root / record["annotation"]) if record.get("annotation") else None


def resolve(ref: str) -> Path:
    """A dataset folder from a path, or REPO_ID[@REVISION] through the Hugging Face cache."""
    if not ref:
        raise ConfigError("--data is missing: give a dataset folder or a Hub REPO_ID[@REVISION]")
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise DatasetError(f"--data {ref}: not a folder; give the dataset folder (with data/*.parquet inside)")
        return path
    if not REPO_ID.match(ref):
        raise DatasetError(f"--data {ref}: no such dataset folder (and not a Hub REPO_ID[@REVISION])")
    repo_id, _, revision = ref.partition("@")
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import snapshot_download

    where = f"--data {ref}: no such folder, and as a Hub dataset"
    try:
        return Path(snapshot_download(repo_id=repo_id, repo_type="dataset", revision=revision or None))
    except hf_errors.LocalEntryNotFoundError:
        raise DatasetError(f"{where} it is not in the local Hugging Face cache and the Hub cannot be reached "
                           f"(HF_HUB_OFFLINE set or no network); "
                           f"download it once online, or pass a dataset folder") from None
    except hf_errors.RevisionNotFoundError:
        raise DatasetError(f"{where} it has no revision {revision!r}") from None
    except hf_errors.RepositoryNotFoundError:
        raise DatasetError(f"{where} it does not exist (or is private: log in first)") from None
    except (hf_errors.HfHubHTTPError, OSError) as e:
        raise HubError(f"{where} it could not be downloaded ({e})") from None


def split_files(root: Path, split: str) -> list[Path]:
    for pattern in (f"data/{split}-*.parquet", f"data/{split}.parquet", f"{split}-*.parquet", f"{split}.parquet",
                    f"data/{split}-*.jsonl", f"data/{split}.jsonl", f"{split}.jsonl"):
        files = sorted(root.glob(pattern))
        if files:
            return files
    return []


def _available_splits(root: Path) -> list[str]:
    names = {f.name.split("-")[0].split(".")[0] for d in (root, root / "data") if d.is_dir()
             for f in d.iterdir() if f.suffix in (".parquet", ".jsonl")}
    return sorted(names)


def _read(files: list[Path]) -> list[dict]:
    rows: list[dict] = []
    for f in files:
        try:
            if f.suffix == ".parquet":
                import pyarrow.parquet as pq

                rows.extend(pq.read_table(f).to_pylist())
            else:
                rows.extend(json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
        except (OSError, ValueError) as e:
            raise DatasetError(f"{f}: not a readable dataset file ({e})") from None
    return rows


def detect_layout(columns: set[str]) -> str | None:
    if {"program", "template_id"} <= columns:
        return MAPKIT
    if {"question_short", "question_long", "routes"} <= columns:
        return REASONMAP
    if {"question", "type", "answer"} <= columns:
        return REASONMAP_PLUS
    return None


def open_dataset(ref: str, split: str = "test") -> Dataset:
    """Records of one split, converted to mapkit records when the layout is a released one."""
    root = resolve(ref)
    files = split_files(root, split)
    if not files:
        have = _available_splits(root)
        raise DatasetError(f"{root}: no {split!r} split (found: {', '.join(have) or 'nothing'}); "
                           f"a folder written by `mapkit build` or a released ReasonMap / ReasonMap-Plus layout")
    rows = _read(files)
    if not rows:
        raise DatasetError(f"{files[0]}: the {split!r} split is empty")
    layout = detect_layout(set(rows[0]))
    if layout is None:
        raise DatasetError(f"{files[0]}: unknown layout (columns {', '.join(sorted(rows[0]))}); expected mapkit's, "
                           f"ReasonMap's (question_short, question_long, routes) or ReasonMap-Plus's (question, type, answer)")
    if layout == MAPKIT:
        return Dataset(root, rows, layout, ref)
    convert = reasonmap_records if layout == REASONMAP else plus_records
    return Dataset(root, convert(rows, root, split), layout, ref)


# --------------------------------------------------------------------------- released rows

def cache_dir() -> Path:
    return Path(os.environ.get("MAPKIT_CACHE") or Path.home() / ".cache" / "mapkit") / "released"


def _cached(data: bytes, suffix: str) -> str:
    path = cache_dir() / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    return str(path)


def _figure(value: Any, root: Path, rid: str) -> str:
    """A path the trainer can open (relative to root, or absolute in the cache); "" for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, dict):  # datasets' Image feature: {"bytes": ..., "path": ...}
        if value.get("bytes"):
            return _cached(value["bytes"], ".png")
        value = value.get("path") or ""
    if isinstance(value, (bytes, bytearray)):
        return _cached(bytes(value), ".png")
    text = str(value)
    if len(text) < 1024 and (root / text).is_file():
        return os.path.normpath(text)
    try:
        return _cached(base64.b64decode(text, validate=True), ".png")
    except (ValueError, TypeError):
        raise DatasetError(f"row {rid}: figure {text[:60]!r} is neither a file in {root} nor a base64 image") from None


def _stations(row: dict, root: Path, rid: str) -> str:
    """A path to the row's city stations file (ReasonMap layout: line -> station names)."""
    value = row.get("json")
    if isinstance(value, str) and value and len(value) < 1024 and (root / value).is_file():
        return os.path.normpath(value)
    if isinstance(value, str) and value.strip().startswith("{"):
        value = json.loads(value)
    if isinstance(value, dict) and value:
        return _cached(json.dumps(value, ensure_ascii=False, sort_keys=False).encode("utf-8"), ".json")
    rel = f"stations/{row.get('country')}/{row.get('city')}.json"
    if (root / rel).is_file():
        return rel
    raise DatasetError(f"row {rid} ({row.get('city')}): no line list: give the row a `json` column (the stations mapping) "
                       f"or put the released stations file at {root / rel}")


def _routes(value: Any) -> list:
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):  # {"route_0": [...]}; parquet fills absent keys with None
        return [r for r in value.values() if r]
    return [r for r in (value or []) if r]


def _common(row: dict, root: Path, rid: str, split: str) -> dict:
    return {"split": split, "city": row.get("city"), "country": row.get("country"), "map_id": row.get("city"),
            "figure": _figure(row.get("figure"), root, rid), "difficulty_city": row.get("difficulty_city"),
            "difficulty_question": row.get("difficulty_question"), "city_line_count": row.get("city_line_count"),
            "city_transfer_count": row.get("city_transfer_count"),
            "question_transfer_count": row.get("question_transfer_count") or 0,
            "station_1": row.get("station_1"), "station_2": row.get("station_2")}


def reasonmap_records(rows: list[dict], root: Path, split: str) -> list[dict]:
    """Two planning records per ReasonMap row (short, then long)."""
    out = []
    for i, row in enumerate(rows):
        rid = str(i)
        base = {**_common(row, root, rid, split), "annotation": _stations(row, root, rid), "type": "planning",
                "options": None, "answer": -1, "answer_text": "", "line": None, "reference_routes": _routes(row.get("routes"))}
        long_form = "long_num" if "Number of Via Stops:" in str(row["question_long"]) else "long_via"
        out.append({**base, "id": f"{i}_short", "template_id": "planning_short", "route_form": "short",
                    "question": row["question_short"]})
        out.append({**base, "id": f"{i}_long", "template_id": f"planning_{long_form}", "route_form": long_form,
                    "question": row["question_long"]})
    return out


def plus_records(rows: list[dict], root: Path, split: str) -> list[dict]:
    """One record per ReasonMap-Plus / ReasonMap-Train row."""
    out = []
    for i, row in enumerate(rows):
        rid = str(row.get("id") if row.get("id") is not None else i)
        try:
            answer = int(row["answer"])
        except (TypeError, ValueError):
            raise DatasetError(f"row {rid}: answer {row['answer']!r} is not an integer") from None
        record = {**_common(row, root, rid, split), "id": rid, "type": row["type"], "template_id": str(row["type"]).lower(),
                  "question": row["question"], "options": None, "answer": answer,
                  "answer_text": _answer_text(row["type"], answer), "line": row.get("line"),
                  "reference_routes": _routes(row.get("routes")) if row.get("routes") else None}
        try:
            record["annotation"] = _stations(row, root, rid)
        except DatasetError:
            if row["type"] in ("planning", "Counting1"):
                raise
            record["annotation"] = ""  # TorF / Counting2-3 are graded without the lines
        out.append(record)
    return out


def _answer_text(kind: str, answer: int) -> str:
    if str(kind).startswith("TorF"):
        return "yes" if answer == 1 else "no"
    if kind == "Counting1" and 0 <= answer < 4:
        return "ABCD"[answer]
    return str(answer)
