"""Dataset folders: check records, split them, write and read the folder (README.md, "Building a dataset").

```
OUT/README.md                              dataset card (YAML ``configs``)
OUT/data/<split>-00000-of-00001.parquet    QuestionRecords, fixed row order
OUT/maps/<map_id>.png                      one image per map (+ .geometry.json when rendered)
OUT/maps/maps-00000-of-00001.parquet       the `maps` config: one row per map, image embedded
OUT/annotations/<city>.json                the exact annotation file used
OUT/manifest.json                          version, seed, input hashes, counts
```

Writes are atomic: everything goes into a hidden temporary sibling that is renamed into
place at the end, so a failed build leaves nothing behind and never replaces a good
folder. The same records give byte-identical parquet files (pyarrow, no timestamps).
``mapkit.dataset.build.build_dataset`` drives this module.
"""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mapkit
from mapkit.dataset.crashsafe import recover, sigterm_interrupts, staging, swap_into_place
from mapkit.dataset.maps import write_maps_parquet
from mapkit.dataset.records import read_parquet, validate_records, write_parquet
from mapkit.dataset.splits import LABELS, TYPE_ORDER, check_split_leaks
from mapkit.errors import DatasetError
from mapkit.files import sha256_file

FORMAT_VERSION = 1
SPLIT_ORDER = ("train", "validation", "test")
SHARD_RE = re.compile(r"^(?P<split>[A-Za-z0-9_.]+?)-(?P<index>\d{5})-of-(?P<count>\d{5})\.parquet$")


# ------------------------------------------------------------------ counts

def counts(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    by_split: Counter = Counter()
    by_type: Counter = Counter()
    by_difficulty: Counter = Counter()
    table: dict[str, dict[str, dict[str, int]]] = {}
    n = 0
    for r in records:
        n += 1
        by_split[r["split"]] += 1
        by_type[r["type"]] += 1
        by_difficulty[r["difficulty_question"]] += 1
        cell = table.setdefault(r["split"], {}).setdefault(r["type"], {})
        cell[r["difficulty_question"]] = cell.get(r["difficulty_question"], 0) + 1
    return {
        "total": n,
        "split": _ordered(by_split, SPLIT_ORDER),
        "type": _ordered(by_type, TYPE_ORDER),
        "difficulty": _ordered(by_difficulty, LABELS),
        "split_type_difficulty": {s: {t: _ordered(table[s][t], LABELS) for t in TYPE_ORDER if t in table[s]}
                                  for s in _ordered(table, SPLIT_ORDER)},
    }


def _ordered(d: Mapping[str, Any], order: Iterable[str]) -> dict[str, Any]:
    order = list(order)
    return {k: d[k] for k in sorted(d, key=lambda k: (order.index(k) if k in order else len(order), k))}


# ------------------------------------------------------------------ folders

@dataclass(frozen=True)
class MapFile:
    """How to put one city's map into ``maps/``: copy an image, or render the annotation."""

    map_id: str
    source: Path | None = None  # image to copy (converted to PNG when it is not one)
    render: Callable[[Path], None] | None = None  # writes maps/<map_id>.png (+ geometry)


def split_file(split: str) -> str:
    return f"data/{split}-00000-of-00001.parquet"


def write_dataset(out: str | Path, records: list[dict[str, Any]], *, annotations: Mapping[str, Path | bytes],
                  maps: Iterable[MapFile], manifest: dict[str, Any], leaks_checked: bool = False) -> Path:
    """Validate and write a dataset folder atomically; returns ``out``.

    ``annotations`` maps city -> annotation file to copy; ``manifest`` is completed with
    the format, version and counts. Nothing exists at ``out`` until everything is written.
    ``leaks_checked``: the records are exactly what ``assign_splits`` returned, which has
    checked them for split leaks (the build), so the check is not run a second time.
    """
    out = Path(out)
    validate_records(records)
    if not leaks_checked:
        check_split_leaks(records)
    recover(out)
    _check_replaceable(out)
    manifest = {**manifest, "format": "mapkit-dataset", "format_version": FORMAT_VERSION,
                "mapkit_version": mapkit.__version__, "counts": counts(records)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging(out, "partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with sigterm_interrupts():  # SIGTERM cleans up like Ctrl-C (crashsafe)
        _write_folder(tmp, out, records, annotations, maps, manifest)
    return out


def _write_folder(tmp: Path, out: Path, records: list[dict[str, Any]], annotations: Mapping[str, Path],
                  maps: Iterable[MapFile], manifest: dict[str, Any]) -> None:
    try:
        (tmp / "data").mkdir(parents=True)
        (tmp / "maps").mkdir()
        (tmp / "annotations").mkdir()
        for city, src in sorted(annotations.items()):  # a file to copy, or the bytes to write (--lang)
            if isinstance(src, bytes):
                (tmp / "annotations" / f"{city}.json").write_bytes(src)
            else:
                shutil.copyfile(src, tmp / "annotations" / f"{city}.json")
        written = []
        for m in maps:
            target = tmp / "maps" / f"{m.map_id}.png"
            if m.render is not None:
                m.render(target)
            elif m.source is not None:
                _copy_png(m.source, target)
            else:
                continue
            city = next((r["city"] for r in records if r.get("map_id") == m.map_id and r.get("figure")), None)
            if city is not None:  # the maps config lists the maps questions use
                written.append({"map_id": m.map_id, "city": city, "source": "rendered" if m.render is not None else "image"})
        write_maps_parquet(tmp, written)
        by_split: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in records:
            by_split[r["split"]].append(r)
        for split in _ordered(by_split, SPLIT_ORDER):
            write_parquet(by_split[split], tmp / split_file(split))
        manifest["files"] = {str(f.relative_to(tmp)): sha256_file(f) for f in sorted(tmp.rglob("*")) if f.is_file()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
        from mapkit.publish.card import write_card  # reads back what was just written: counts come from the files

        write_card(tmp)
        swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _copy_png(src: Path, target: Path) -> None:
    with src.open("rb") as f:
        is_png = f.read(8) == b"\x89PNG\r\n\x1a\n"
    if is_png:
        shutil.copyfile(src, target)
        return
    from mapkit.render.images import open_map

    open_map(src).save(target, format="PNG")


def _check_replaceable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise DatasetError(f"{out} is a non-empty folder that is not a mapkit dataset (no manifest.json); "
                           "refusing to replace it: choose another --out or remove it")


def read_dataset(folder: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Split -> its records as plain dicts (lists stay lists, nulls are None), splits in
    train/validation/test order; a damaged or misnamed file is a DatasetError naming it."""
    files = split_files(folder)
    if not files:
        raise DatasetError(f"{folder}: no data/*.parquet files; is this a mapkit dataset folder? (build one with `mapkit build`)")
    return {split: [row for path in paths for row in read_parquet(path)] for split, paths in files.items()}


def split_files(folder: Path | str) -> dict[str, list[Path]]:
    """Split name -> its parquet shards under ``data/``, splits in train/validation/test order."""
    folder = Path(folder)
    found: dict[str, list[Path]] = defaultdict(list)
    for path in sorted((folder / "data").glob("*.parquet")):
        m = SHARD_RE.match(path.name)
        if m is None:
            raise DatasetError(f"{path}: parquet file not named <split>-NNNNN-of-NNNNN.parquet (rebuild the folder with `mapkit build`)")
        found[m.group("split")].append(path)
    return {s: found[s] for s in _split_order(found)}


def _split_order(splits) -> list[str]:
    return sorted(splits, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))


def read_annotations(folder: Path | str) -> dict[str, dict[str, Any]]:
    """City -> the header fields of its annotation copy (name, country, licence, source...)."""
    out = {}
    for path in sorted((Path(folder) / "annotations").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DatasetError(f"{path}: not valid JSON ({e})") from e
        data = data if isinstance(data, dict) else {}
        out[str(data.get("city") or path.stem)] = {
            "file": f"annotations/{path.name}",
            **{k: data.get(k) for k in ("name", "country", "language", "license", "source")},
            "stations": len(data.get("stations") or {}),
            "lines": len(data.get("lines") or []),
        }
    return out


