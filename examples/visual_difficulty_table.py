"""Print the README's visual-difficulty figures: `difficulty_visual` over real and
generated maps, and its Spearman correlation with the graph-based labels.

    python examples/visual_difficulty_table.py [--reasonmap ../shared/reasonmap] [--generated 30]

Builds (in a temporary folder) Tokyo with its rendered map, the ReasonMap cities that
ship a real map image (when the reference data is present), and N generated cities
(easy -> hard ladder), each with --per-type 10.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapkit.dataset import build_dataset, resolve_counts  # noqa: E402
from mapkit.difficulty import LABELS, visual_difficulty  # noqa: E402
from mapkit.generate import plan, write_cities  # noqa: E402
from mapkit.publish.card import spearman  # noqa: E402


def row(label: str, records: list[dict]) -> str:
    rows = [r for r in records if r.get("difficulty_visual") is not None]
    v = [r["difficulty_visual"] for r in rows]
    q = " / ".join(f"{x:.2f}" for x in np.quantile(v, [0.25, 0.5, 0.75]))
    buckets = " / ".join(str(sum(visual_difficulty(x) == d for x in v)) for d in LABELS)
    rq = spearman(v, [LABELS.index(r["difficulty_question"]) for r in rows])
    rm = spearman(v, [LABELS.index(r["difficulty_city"]) for r in rows])
    fmt = lambda x: "n/a" if x is None else f"{x:+.2f}"  # noqa: E731
    return f"| {label} | {len({r['city'] for r in rows})} | {len(rows)} | {q} | {buckets} | {fmt(rq)} | {fmt(rm)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reasonmap", type=Path, default=ROOT.parent / "shared" / "reasonmap")
    parser.add_argument("--generated", type=int, default=30)
    args = parser.parse_args()
    counts = resolve_counts(10)
    quiet = lambda m: None  # noqa: E731
    print("| maps | cities | rows | 25% / median / 75% | easy / middle / hard | Spearman vs question | Spearman vs map |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tokyo = build_dataset([ROOT / "annotations" / "tokyo.json"], tmp / "tokyo", counts_by_type=counts, warn=quiet)
        print(row("Tokyo (rendered)", tokyo.records))
        if (args.reasonmap / "stations").is_dir():
            from mapkit.importers.reasonmap import import_reasonmap

            import_reasonmap(args.reasonmap / "stations", tmp / "ann", args.reasonmap / "maps")
            real = build_dataset(sorted((tmp / "ann").glob("*.json")), tmp / "real", counts_by_type=counts, images_root=args.reasonmap / "maps",
                                 skip_missing_images=True, warn=quiet)
            images = [r for r in real.records if real.map_sources.get(r["city"]) == "image"]
            print(row("ReasonMap real images", images))
        paths = write_cities(plan(args.generated, difficulty="ladder"), tmp / "gen", seed=0)
        gen = build_dataset(paths, tmp / "gen-out", counts_by_type=counts, warn=quiet)
        print(row(f"generated (ladder, {args.generated})", gen.records))


if __name__ == "__main__":
    main()
