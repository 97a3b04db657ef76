"""Benchmark of `mapkit build` over the 30 ReasonMap cities (and Tokyo when present).

    .venv/bin/python benchmarks/bench_build.py [--reasonmap ../shared/reasonmap] [--per-type 40]

Prints wall time and questions per second for:
  1. the 17 cities that have a real map image (`--all --skip-missing-images`, defaults);
  2. all 30 cities text-only at ReasonMap-Plus scale (target: >= 4,018 Plus-type
     questions in under 60 s); ``--per-type`` defaults to 40 because a few small cities
     (Sydney: one line) cannot supply the default counts, leaving 3,898 at defaults;
  3. Tokyo (`mapkit build --city tokyo`), when annotations/tokyo.json exists.
Each build is a real one: generation, validation, parquet, images, manifest, card.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapkit.dataset import build_dataset, resolve_counts
from mapkit.importers.reasonmap import import_reasonmap


def run(label: str, paths: list[Path], out: Path, **kwargs) -> None:
    start = time.perf_counter()
    result = build_dataset(paths, out, warn=lambda m: None, **kwargs)
    wall = time.perf_counter() - start
    total = result.counts["total"]
    plus = total - result.counts["type"].get("planning", 0)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(f"{label:<44} {len(result.cities):>3} cities {total:>6} questions ({plus} Plus-type) "
          f"{wall:6.2f} s  {total / wall:7.0f} q/s  {size:6.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reasonmap", type=Path, default=ROOT.parent / "shared" / "reasonmap")
    parser.add_argument("--per-type", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if (args.reasonmap / "stations").is_dir():
            start = time.perf_counter()
            import_reasonmap(args.reasonmap / "stations", tmp / "ann", args.reasonmap / "maps")
            print(f"import of the 30 ReasonMap cities: {time.perf_counter() - start:.2f} s")
            paths = sorted((tmp / "ann").glob("*.json"))
            run("--all --skip-missing-images (real images)", paths, tmp / "img", skip_missing_images=True)
            run("--all --no-images (defaults)", paths, tmp / "text", images=False)
            run(f"--all --no-images --per-type {args.per_type}", paths, tmp / "scale", images=False,
                counts_by_type=resolve_counts(args.per_type))
        else:
            print(f"ReasonMap data not found at {args.reasonmap}; skipping the 30-city builds")
        tokyo = ROOT / "annotations" / "tokyo.json"
        if tokyo.is_file():
            run("--city tokyo", [tokyo], tmp / "tokyo")


if __name__ == "__main__":
    main()
