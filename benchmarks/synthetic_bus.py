"""A synthetic city bus feed for benchmarks: ~400 stops on a street grid, routes whose
two directions run on parallel one-way streets (different stops), one-way loops, and
several routes sharing one colour. Written as a GTFS zip; nothing is downloaded.

Usage: python benchmarks/synthetic_bus.py OUT.zip [--routes 30] [--seed 0]
"""
from __future__ import annotations

import argparse
import csv
import io
import random
import zipfile
from pathlib import Path

STREETS = ["Oak", "Elm", "Pine", "Maple", "Cedar", "Birch", "Ash", "Willow", "Spruce", "Poplar", "Laurel", "Hazel",
           "Alder", "Rowan", "Holly", "Juniper", "Linden", "Magnolia", "Sycamore", "Chestnut", "Walnut", "Cherry",
           "Beech", "Hawthorn", "Larch", "Fir"]
AVENUES = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "11th", "12th", "13th", "14th",
           "15th", "16th", "17th", "18th", "19th", "20th", "21st", "22nd", "23rd", "24th", "25th", "26th"]


def tables(n_routes: int = 30, seed: int = 0, size: int = 26) -> dict[str, list[list[str]]]:
    rng = random.Random(seed)
    stops: dict[tuple[int, int], str] = {}
    stop_rows = [["stop_id", "stop_name", "stop_lat", "stop_lon"]]

    def stop(x: int, y: int) -> str:
        if (x, y) not in stops:
            sid = f"S{x}_{y}"
            stops[(x, y)] = sid
            stop_rows.append([sid, f"{STREETS[y]} St & {AVENUES[x]} Ave", f"{40.70 + y * 0.0027:.6f}", f"{-74.00 + x * 0.0035:.6f}"])
        return stops[(x, y)]

    routes = [["route_id", "route_short_name", "route_long_name", "route_type", "route_color"]]
    trips = [["route_id", "service_id", "trip_id", "direction_id"]]
    times = [["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"]]
    greens = 0
    for k in range(n_routes):
        rid = f"R{k}"
        color = "00933C" if rng.random() < 0.3 else f"{rng.randint(0, 0xFFFFFF):06X}"
        greens += color == "00933C"
        routes.append([rid, str(k + 1), f"Route {k + 1} crosstown", "3", color])
        x, y = rng.randrange(size), rng.randrange(size)
        path = []
        horizontal = rng.random() < 0.5
        for _ in range(rng.randint(12, 20)):
            path.append((x, y))
            if rng.random() < 0.2:
                horizontal = not horizontal
            if horizontal:
                x = min(size - 1, max(0, x + (1 if x < size - 2 else -1)))
            else:
                y = min(size - 1, max(0, y + (1 if y < size - 2 else -1)))
            if (x, y) in path:
                break
        kind = k % 5
        if kind == 0:  # a one-way loop: out along the path, back one block over
            back = [(px, min(size - 1, py + 1)) if py + 1 < size else (px, py - 1) for px, py in reversed(path)]
            seqs = [(0, [stop(*p) for p in path] + [stop(*p) for p in back if p not in path] + [stop(*path[0])])]
        elif kind in (1, 2):  # a couplet: the return direction one block over (other stops)
            back = [(min(size - 1, px + 1), py) for px, py in reversed(path)]
            seqs = [(0, [stop(*p) for p in path]), (1, [stop(*p) for p in back])]
        else:  # both directions on the same street
            seqs = [(0, [stop(*p) for p in path]), (1, [stop(*p) for p in reversed(path)])]
        for direction, seq in seqs:
            seq = [s for i, s in enumerate(seq) if i == 0 or s != seq[i - 1]]
            if len(seq) < 2:
                continue
            for n in range(4):
                tid = f"{rid}-{direction}-{n}"
                trips.append([rid, "wk", tid, str(direction)])
                for i, s in enumerate(seq):
                    times.append([tid, f"07:{i:02d}:00", f"07:{i:02d}:00", s, str(i + 1)])
    return {"agency": [["agency_name", "agency_url", "agency_timezone"], ["Synthetic Bus", "http://example.invalid", "UTC"]],
            "stops": stop_rows, "routes": routes, "trips": trips, "stop_times": times}


def write(path: Path, n_routes: int = 30, seed: int = 0) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, rows in tables(n_routes, seed).items():
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            zf.writestr(f"{name}.txt", buf.getvalue())
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--routes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write(args.out, args.routes, args.seed))
