"""Render time for Tokyo at 4000 px and the number of labels that could not be placed;
then a 400+ stop bus network (benchmarks/synthetic_bus.py through `mapkit import gtfs`):
render time, labels unplaced, and the questions a build's answerability gate drops.

Targets (issues #3, #11): Tokyo under 2 s, the bus network about the time Tokyo took
(3 s at most), 0 unplaced labels. Prints figures; asserts nothing. Wall times grow with
other work on the machine: the CPU time of the process is printed beside them, and the
last line compares the two cases' CPU times from the same run.
Usage: python benchmarks/bench_render.py [--annotation annotations/tokyo.json] [--width 4000] [--repeat 3] [--out FILE.png]
       [--bus-routes 44] [--no-bus]
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
    parser.add_argument("--bus-routes", type=int, default=44, help="routes of the synthetic bus feed (44: 412 stops)")
    parser.add_argument("--no-bus", action="store_true", help="skip the bus network case")
    args = parser.parse_args()
    city = bench(load(args.annotation), args.width, args.repeat, args.out)
    if not args.no_bus:
        bus = bus_case(args.bus_routes, args.width, args.repeat)
        print(f"\nsummary: {bus['stations']}-stop bus network {bus['cpu']:.2f} s CPU (wall {bus['wall']:.2f} s), "
              f"{bus['cpu'] / city['cpu']:.1f}x {city['city']}'s {city['cpu']:.2f} s CPU (wall {city['wall']:.2f} s) in this run; "
              f"target <= 3 s; unplaced {bus['unplaced']}, smaller type {bus['reduced']}, dropped by the gate {bus['dropped']}")


def bus_case(routes: int, width: int, repeat: int) -> dict:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from synthetic_bus import write

    from mapkit.dataset.build import build_dataset
    from mapkit.importers.gtfs import import_gtfs

    with tempfile.TemporaryDirectory() as tmp:
        result = import_gtfs(write(Path(tmp) / "bus.zip", routes), "bus", Path(tmp) / "ann", route_types="bus")
        print()
        figures = bench(result.annotation, width, repeat, None)
        t0, c0 = time.perf_counter(), time.process_time()
        built = build_dataset([result.path], Path(tmp) / "ds", warn=lambda m: None)
        dropped = built.unreadable["bus"]
        print(f"build with the answerability gate: {len(built.records)} questions kept, {sum(dropped.values())} dropped "
              f"({', '.join(f'{n} {r}' for r, n in sorted(dropped.items())) or 'none'}) in {time.perf_counter() - t0:.1f} s "
              f"(CPU {time.process_time() - c0:.1f} s)")
        return {**figures, "dropped": sum(dropped.values())}


def bench(annotation, width: int, repeat: int, out: Path | None) -> dict:
    print(f"{annotation.city}: {len(annotation.stations)} stations, {len(annotation.lines)} lines, width {width} px")
    times, cpu_times, layout_cpu = [], [], []
    rendered = None
    for _ in range(repeat):
        c0 = time.process_time()
        compute_layout(annotation)
        layout_cpu.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        rendered = render_map(annotation, width=width)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    assert rendered is not None
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rendered.save(Path(tmp) / "map.png")
        save_s = time.perf_counter() - t0
    if out:
        rendered.save(out)
    g = rendered.geometry
    print(f"render_map: CPU time best {min(cpu_times):.3f} s, median {sorted(cpu_times)[len(cpu_times) // 2]:.3f} s; "
          f"wall best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s over {len(times)} run(s) "
          f"(one layout pass alone {min(layout_cpu):.3f} s CPU; target: Tokyo < 2 s, 400 stops <= 3 s)")
    print(f"  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: wall times above grow with other work on the machine")
    print(f"save PNG + geometry: {save_s:.3f} s ({g['width']}x{g['height']})")
    print(f"unplaced labels: {len(g['unplaced_labels'])} of {len(g['stations'])} (target 0)"
          + (f": {', '.join(g['unplaced_labels'][:10])}" if g["unplaced_labels"] else ""))
    print(f"labels in a reduced size: {len(g['reduced_labels'])}; line crossings added by the layout: {g['added_crossings']}")
    return {"city": annotation.city, "stations": len(g["stations"]), "cpu": min(cpu_times), "wall": min(times),
            "unplaced": len(g["unplaced_labels"]), "reduced": len(g["reduced_labels"])}


if __name__ == "__main__":
    main()
