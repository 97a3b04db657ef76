"""``mapkit export OUT --format reasonmap``: planning items in the released ReasonMap layout.

One row per station pair with both prompt forms, as ``FSCCS/ReasonMap`` has them:
``question_short``, ``question_long``, ``routes`` ({"route_0": [sections], ...}),
``station_1/2``, ``country``, ``city``, difficulty and count columns and ``figure`` (the
map as base64 PNG, "" in a text-only build). A form the folder did not ask for a pair is
written from the planning templates (first paraphrase; the long form is "Number of Via
Stops" unless the pair was asked with "Via Stops"). Beside ``data/<split>-00000-of-00001.parquet``
go ``stations/<country>/<city>.json`` (line -> stations), which the released script reads,
so it (and ``mapkit eval --data``) can evaluate a mapkit-built city. ``routes`` is a
parquet struct, so every row has the same ``route_k`` fields: a pair with fewer reference
routes repeats its last one (a repeated reference changes no score, released or mapkit),
where a null would stop the released script (a pair without any reference route gets
empty plans, on which the released script credits the endpoints: 1 instead of 0).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from mapkit.errors import DatasetError

COLUMNS = ("question_short", "question_long", "routes", "station_1", "station_2", "country", "city", "difficulty_city",
           "difficulty_question", "city_line_count", "city_transfer_count", "question_transfer_count", "figure")


def _template_question(form: str, record: dict) -> str:
    from mapkit.questions.templates import load_templates

    wanted = f"planning_{form}"
    for template in load_templates().for_type("planning"):
        if template.id == wanted:
            return template.render(0, {"station_1": record["station_1"], "station_2": record["station_2"]})
    raise DatasetError(f"no planning template {wanted!r} to write the {form} form from")


def _routes(record: dict) -> dict[str, list[dict[str, Any]]]:
    routes = record.get("reference_routes") or []
    return {f"route_{i}": [dict(section) for section in route] for i, route in enumerate(routes)}


def reasonmap_rows(folder: Path, records: list[dict]) -> tuple[list[dict], dict[tuple[str, str], dict]]:
    """(rows, {(country, city): stations mapping}) for the planning records of one split."""
    from mapkit.rewards import load_lines
    from mapkit.rewards.score import route_form

    pairs: dict[tuple[str, str, str], dict[str, dict]] = {}
    for record in records:
        if record.get("type") == "planning":
            key = (str(record["city"]), str(record["station_1"]), str(record["station_2"]))
            pairs.setdefault(key, {})[route_form(record)] = record
    rows, stations = [], {}
    figures: dict[str, str] = {}
    for forms in pairs.values():
        first = forms.get("short") or forms.get("long_num") or forms["long_via"]
        long_record = forms.get("long_num") or forms.get("long_via")
        short = forms["short"]["question"] if "short" in forms else _template_question("short", first)
        long_ = long_record["question"] if long_record else _template_question("long_num", first)
        figure = str(first.get("figure") or "")
        if figure and figure not in figures:
            path = folder / figure
            if not path.is_file():
                raise DatasetError(f"record {first.get('id')}: image {figure} is not in {folder}")
            figures[figure] = base64.b64encode(path.read_bytes()).decode("ascii")
        # the released data names countries as its folders: "china", "new_zealand"
        country = str(first["country"]).strip().lower().replace(" ", "_")
        rows.append({"question_short": short, "question_long": long_, "routes": _routes(first),
                     **{c: first.get(c) for c in COLUMNS[3:-1]}, "country": country, "figure": figures.get(figure, "")})
        place = (country, str(first["city"]))
        if place not in stations:
            stations[place] = {name: list(s) for name, s in load_lines(folder / first["annotation"]).items()}
    most = max((len(r["routes"]) for r in rows), default=0)
    for row in rows:
        routes = row["routes"]
        for k in range(len(routes), most):
            routes[f"route_{k}"] = [dict(s) for s in routes[f"route_{k - 1}"]] if k else []
    return rows, stations


def export_reasonmap(folder: Path | str, out: Path | str, splits: list[str]) -> tuple[Path, int, dict[str, int]]:
    """Write ``out/`` (a folder); returns (out, rows written, rows per split). Atomic: a
    failure leaves no folder behind and never replaces an existing one half-way."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mapkit.dataset import read_dataset as read_records
    from mapkit.dataset import validate_folder
    from mapkit.publish.export import _select_splits

    folder, out = Path(folder), Path(out)
    validate_folder(folder)
    records = read_records(folder)
    per_split: Counter = Counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        all_stations: dict[tuple[str, str], dict] = {}
        for split in _select_splits(records, splits):
            rows, stations = reasonmap_rows(folder, records[split])
            if not rows:
                continue
            all_stations.update(stations)
            (tmp / "data").mkdir(exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows), tmp / "data" / f"{split}-00000-of-00001.parquet")
            per_split[split] = len(rows)
        if not per_split:
            raise DatasetError(f"no planning questions in {', '.join(splits)} of {folder}; nothing to export")
        for (country, city), mapping in all_stations.items():
            path = tmp / "stations" / country / f"{city}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(mapping, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        if out.exists():
            if not out.is_dir() or any(p.name not in ("data", "stations") for p in out.iterdir()):
                raise DatasetError(f"--out {out} exists and is not an earlier ReasonMap export; choose a new folder")
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out, sum(per_split.values()), dict(per_split)
