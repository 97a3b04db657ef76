"""Time to load, validate and build the graphs of the 30 ReasonMap cities plus Tokyo.

Target (issue #2): under 2 s on a 2-core machine. Prints figures; asserts nothing.
Usage: python benchmarks/bench_graph.py [--reasonmap ../shared/reasonmap]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mapkit.annotation import load
from mapkit.graph import TransitMap
from mapkit.importers.reasonmap import import_reasonmap

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reasonmap", type=Path, default=ROOT.parent / "shared" / "reasonmap")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        import_reasonmap(args.reasonmap / "stations", tmp, maps=args.reasonmap / "maps")
        print(f"import 30 ReasonMap cities: {time.perf_counter() - t0:.3f} s (once)")
        files = sorted(Path(tmp).glob("*.json"))
        tokyo = ROOT / "annotations" / "tokyo.json"
        if tokyo.is_file():
            files.append(tokyo)
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            stations = 0
            for file in files:
                tm = TransitMap.from_annotation(load(file))
                stats = tm.stats()  # forces the station graph and the line graph
                _ = tm.line_graph
                stations += stats.station_count
            best = min(best, time.perf_counter() - t0)
    print(f"load + validate + build graphs of {len(files)} cities ({stations} stations): {best:.3f} s (best of {args.repeat}; target < 2 s)")


if __name__ == "__main__":
    main()
