"""The minimal dataset card: YAML ``configs`` for ``load_dataset`` plus counts. A richer
card for publishing can replace ``card_text`` (``write_dataset(card=...)``)."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mapkit.dataset.splits import LABELS


def card_text(manifest: Mapping[str, Any], title: str | None = None) -> str:
    """A minimal dataset card: YAML ``configs`` (so ``load_dataset(folder)`` finds the
    splits offline), what the data is, and counts by type and split. ``mapkit.card``
    writes the full card for publishing."""
    splits = list(manifest["counts"]["split"])
    cities = sorted(manifest["cities"])
    yaml = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        yaml += [f"  - split: {split}", f"    path: data/{split}-*.parquet"]
    yaml += ["---", ""]
    from mapkit.card import CARD_MARKER  # lets `mapkit push` replace this card with the full one
    title = title or ("mapkit " + (cities[0] if len(cities) == 1 else f"{len(cities)} cities"))
    table = counts_table(manifest["counts"])
    body = [
        CARD_MARKER,
        "",
        f"# {title}",
        "",
        ("Visual questions about transit maps in the ReasonMap-Plus format (TorF1, TorF2, Counting1-3) plus "
         "ReasonMap route planning, generated from annotations by "
         f"mapkit {manifest['mapkit_version']} with seed {manifest['seed']}."),
        "Every answer comes from a graph query kept in the `program` column.",
        "",
        (f"Cities: {', '.join(cities)}. Map images are in `maps/` (column `figure`), the annotations used in "
         "`annotations/` (column `annotation`); `manifest.json` records input hashes and counts."),
        "",
        "```python",
        "from datasets import load_dataset",
        'ds = load_dataset("path/to/this/folder")',
        "```",
        "",
        table,
        "",
    ]
    return "\n".join(yaml + body)


def counts_table(c: Mapping[str, Any]) -> str:
    splits = list(c["split"])
    rows = ["| type | " + " | ".join(LABELS) + " | " + " | ".join(splits) + " | total |",
            "|---|" + "---:|" * (len(LABELS) + len(splits) + 1)]
    for t in c["type"]:
        by_diff = Counter()
        by_split = Counter()
        for s in splits:
            for d, n in c["split_type_difficulty"][s].get(t, {}).items():
                by_diff[d] += n
                by_split[s] += n
        rows.append(f"| {t} | " + " | ".join(str(by_diff[d]) for d in LABELS) + " | "
                    + " | ".join(str(by_split[s]) for s in splits) + f" | {c['type'][t]} |")
    return "\n".join(rows)


def write_card(folder: str | Path, manifest: Mapping[str, Any] | None = None) -> Path:
    folder = Path(folder)
    manifest = manifest or json.loads((folder / "manifest.json").read_text("utf-8"))
    path = folder / "README.md"
    path.write_text(card_text(manifest), encoding="utf-8")
    return path


