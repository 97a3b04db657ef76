"""Render time for Tokyo at 4000 px and the number of labels that could not be placed.

Targets (issue #3): under 2 s per render, 0 unplaced labels. Prints figures; asserts nothing.
Usage: python benchmarks/bench_render.py [--annotation annotations/tokyo.json] [--width 4000] [--repeat 3] [--out FILE.png]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mapkit.annotation import load
from mapkit.render import render_map
from mapkit.render.layout import compute_layout

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotation", type=Path, default=ROOT / "annotations" / "tokyo.json")
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="also save the last render here")
    args = parser.parse_args()
    annotation = load(args.annotation)
    print(f"{annotation.city}: {len(annotation.stations)} stations, {len(annotation.lines)} lines, width {args.width} px")
    times, cpu_times, layout_times = [], [], []
    rendered = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        compute_layout(annotation)
        layout_times.append(time.perf_counter() - t0)
        t0, c0 = time.perf_counter(), time.process_time()
        rendered = render_map(annotation, width=args.width)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    assert rendered is not None
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rendered.save(Path(tmp) / "map.png")
        save_s = time.perf_counter() - t0
    if args.out:
        rendered.save(args.out)
    g = rendered.geometry
    print(f"render_map: best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s over {len(times)} run(s) "
          f"(CPU time {min(cpu_times):.3f} s; layout alone {min(layout_times):.3f} s; target < 2 s)")
    print(f"  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: wall times above grow with other work on the machine")
    print(f"save PNG + geometry: {save_s:.3f} s ({g['width']}x{g['height']})")
    print(f"unplaced labels: {len(g['unplaced_labels'])} of {len(g['stations'])} (target 0)"
          + (f": {', '.join(g['unplaced_labels'][:10])}" if g["unplaced_labels"] else ""))
    print(f"labels in a reduced size: {len(g['reduced_labels'])}; line crossings added by the layout: {g['added_crossings']}")


if __name__ == "__main__":
    main()
