"""The ``maps`` config of a dataset folder: one row per map image, the image embedded.

Questions point to their map by ``map_id`` (and ``figure``, the PNG's path), so a city's
image is stored once however many questions ask about it. ``maps/maps-00000-of-00001.parquet``
holds one row per map with the PNG's bytes in a ``datasets.Image`` column: the Hub's
dataset viewer shows it, ``load_dataset(REPO, "maps")`` decodes it, and
``mapkit.dataset.load`` joins it to the questions lazily. The PNG files stay beside it
for the tools that read paths (``mapkit train``, ``export``).

    >>> from datasets import load_dataset                                    # doctest: +SKIP
    >>> load_dataset("out/tokyo", "maps", split="train")[0]["image"].size    # doctest: +SKIP
    (4000, 3368)
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mapkit.errors import DatasetError

MAPS_CONFIG = "maps"
MAPS_FILE = "maps/maps-00000-of-00001.parquet"
MAPS_SPLIT = "train"  # a config with one split: the Hub viewer's convention
# images are already compressed (PNG): parquet compression would only cost time; small row
# groups keep the viewer from reading every map to show the first one
ROW_GROUP = 4


def maps_features():
    from datasets import Features, Image, Value

    return Features({"map_id": Value("string"), "image": Image(), "city": Value("string"), "width": Value("int64"),
                     "height": Value("int64"), "file": Value("string"), "source": Value("string"),
                     "sha256": Value("string")})


def write_maps_parquet(folder: Path, maps: Iterable[Mapping[str, str]]) -> Path | None:
    """Write the maps parquet for ``maps`` (dicts with map_id, city, source) from the PNGs
    already in ``folder/maps``; nothing when there are no maps (text-only build)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mapkit.render.images import image_size

    rows = []
    for m in sorted(maps, key=lambda m: m["map_id"]):
        png = folder / "maps" / f"{m['map_id']}.png"
        content = png.read_bytes()
        width, height = image_size(png)
        rows.append({"map_id": m["map_id"], "image": {"bytes": content, "path": png.name}, "city": m["city"],
                     "width": int(width), "height": int(height), "file": f"maps/{png.name}", "source": m["source"],
                     "sha256": hashlib.sha256(content).hexdigest()})
    if not rows:
        return None
    schema = maps_features().arrow_schema  # carries the `huggingface` metadata that makes `image` an Image
    path = folder / MAPS_FILE
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="none", row_group_size=ROW_GROUP,
                   write_statistics=False)
    return path


def read_maps(folder: Path | str, *, with_images: bool = False) -> list[dict[str, Any]]:
    """The rows of the maps parquet (image bytes left out unless ``with_images``); [] if absent."""
    import pyarrow.parquet as pq

    path = Path(folder) / MAPS_FILE
    if not path.is_file():
        return []
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise DatasetError(f"{path}: cannot read parquet ({e}); rebuild the folder") from e
    if not with_images:
        table = table.drop_columns(["image"])
    return table.to_pylist()


def check_maps(folder: Path, records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Problems with the maps parquet against the questions: a row per map they use, no
    other, each embedded image whole. (That the PNGs and the parquet are the files the
    build wrote is the manifest's sha256 check, in ``mapkit.dataset.check.validate_folder``.)"""
    folder = Path(folder)
    wanted = {r["map_id"]: r["figure"] for r in records if r.get("figure")}
    if not wanted:
        return []
    if not (folder / MAPS_FILE).is_file():
        return [f"{MAPS_FILE} is missing (the `maps` config with one image per map); rebuild the folder with `mapkit build`"]
    problems = []
    rows = read_maps(folder, with_images=True)
    have = {row["map_id"]: row for row in rows}
    if len(have) != len(rows):
        problems.append(f"{MAPS_FILE}: a map_id appears twice")
    for map_id, figure in sorted(wanted.items()):
        row = have.get(map_id)
        if row is None:
            problems.append(f"{MAPS_FILE}: no row for map {map_id!r}, which questions use")
        elif row["file"] != figure:
            problems.append(f"{MAPS_FILE}: map {map_id!r} is {row['file']} but questions show {figure}")
        elif hashlib.sha256(row["image"]["bytes"] or b"").hexdigest() != row["sha256"]:
            problems.append(f"{MAPS_FILE}: the embedded image of map {map_id!r} is damaged")
    extra = sorted(set(have) - set(wanted))
    if extra:
        problems.append(f"{MAPS_FILE}: maps no question uses: {', '.join(extra)}")
    return problems
