"""Reward throughput: scores per second per question type and mode, on one core.

Target (issue #6): >= 20,000/s for TorF and Counting, >= 5,000/s for planning.
Completions are varied (random stations and lines of a real city, ~1,500 characters of
reasoning before the answer) so name caches see realistic traffic. Also times a few
adversarial completions. Prints figures; asserts nothing.
Usage: python benchmarks/bench_rewards.py [--city ../shared/reasonmap/stations/china/beijing.json] [--n 20000]
"""
from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from mapkit.rewards import MODES, load_lines, score

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CITY = ROOT.parent / "shared" / "reasonmap" / "stations" / "china" / "beijing.json"
FALLBACK_CITY = ROOT / "tests" / "fixtures" / "mini.json"
REASONING = "I look at the map, find both stations and follow the coloured lines between them. " * 18


def cases(lines, n: int, rng: random.Random) -> dict[str, list[tuple[str, dict]]]:
    names = [name for name, stations in lines.items() if len(stations) >= 4]
    out: dict[str, list[tuple[str, dict]]] = {k: [] for k in ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning",
                                                                "Grounding1", "Grounding2", "Grounding3")}
    for i in range(n):
        line, other = rng.choice(names), rng.choice(names)
        st = lines[line]
        a, b = sorted(rng.sample(range(len(st)), 2))
        base = {"id": f"b{i}", "difficulty_city": rng.choice(["easy", "middle", "hard"]), "question_transfer_count": 0, "line": None}
        yes = rng.choice(["yes", "no"])
        out["TorF1"].append((f"{REASONING}\\boxed{{{yes}}}", {**base, "type": "TorF1", "answer": 1, "station_1": st[a], "station_2": st[b]}))
        out["TorF2"].append((f"{REASONING}\\boxed{{{yes}}}", {**base, "type": "TorF2", "answer": 0, "station_1": st[a], "station_2": None, "line": line}))
        stops = ", ".join(st[a + 1:b][:6])
        out["Counting1"].append((f"{REASONING}Stops: [{stops}]\n\\boxed{{{rng.choice('ABCD')}}}",
                                 {**base, "type": "Counting1", "answer": rng.randrange(4), "station_1": st[a], "station_2": st[b], "line": line}))
        out["Counting2"].append((f"{REASONING}\\boxed{{{rng.randrange(1, 5)}}}",
                                 {**base, "type": "Counting2", "answer": 2, "station_1": st[a], "station_2": None}))
        out["Counting3"].append((f"{REASONING}\\boxed{{{rng.randrange(5, 25)}}}",
                                 {**base, "type": "Counting3", "answer": len(lines), "station_1": None, "station_2": None}))
        transfer = rng.choice(lines[other])
        route = (f"Route Name: {line}\nDeparture Stop: {st[a]}\nArrival Stop: {st[b]}\n--\n"
                 f"Route Name: {other}\nDeparture Stop: {st[b]}\nArrival Stop: {transfer}")
        out["planning"].append((f"{REASONING}\n{route}", {**base, "type": "planning", "answer": -1, "station_1": st[a],
                                                         "station_2": transfer, "question_transfer_count": 1}))
        x, y = rng.randrange(3000), rng.randrange(3000)
        frame = {"frame": {"width": 4000, "height": 3000}, "image_size": [3612, 2716], "answer": -1, "station_2": None}
        box = f'{{"op":"locate_station","args":{{"station":"s{i}"}},"result":{{"box":[{x},{y},{x + 20},{y + 16}]}}}}'
        out["Grounding1"].append((f"{REASONING}\\boxed{{[{x * 0.9:.0f}, {y * 0.9:.0f}, {x * 0.9 + 18:.0f}, {y * 0.9 + 15:.0f}]}}",
                                  {**base, **frame, "type": "Grounding1", "station_1": st[a], "program": box}))
        out["Grounding2"].append((f"{REASONING}\\boxed{{{rng.choice(st)}}}", {**base, **frame, "type": "Grounding2", "station_1": st[a],
                                  "answer_text": st[a], "program": '{"op":"read_label","args":{"point":[1,1]},"result":"s"}'}))
        out["Grounding3"].append((f"{REASONING}\\boxed{{{rng.choice(names)}}}", {**base, **frame, "type": "Grounding3", "station_1": None,
                                  "line": line, "program": '{"op":"identify_line","args":{"point":[1,1]},"result":"l"}'}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", type=Path, default=DEFAULT_CITY if DEFAULT_CITY.is_file() else FALLBACK_CITY)
    parser.add_argument("--n", type=int, default=20000, help="completions per type")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    lines = load_lines(args.city)
    print(f"city: {args.city.name} ({len(lines)} lines, {sum(map(len, lines.values()))} stations); {args.n} completions per type")
    table = cases(lines, args.n, random.Random(args.seed))
    print(f"{'type':<10} {'mode':<8} {'scores/s':>10}")
    for kind, items in table.items():
        for mode in MODES:
            start = time.perf_counter()
            for text, record in items:
                score(text, record, lines, mode=mode)
            rate = len(items) / (time.perf_counter() - start)
            print(f"{kind:<10} {mode:<8} {rate:>10,.0f}")
    record = {"id": "adv", "type": "planning", "answer": -1, "station_1": "A", "station_2": "B", "difficulty_city": "hard",
              "question_transfer_count": 1}
    for name, text in {"100k x \\boxed{": "\\boxed{" * 100_000, "300k unclosed '('": "Arrival Stop: " + "(" * 300_000,
                       "50k labels, no newline": "Route Name: " * 50_000}.items():
        for kind in ("TorF1", "planning"):
            start = time.perf_counter()
            for mode in MODES:
                score(text, {**record, "type": kind, "answer": 1 if kind == "TorF1" else -1}, lines, mode=mode)
            print(f"adversarial {name:<24} {kind:<9} {len(text):>9,} chars  {(time.perf_counter() - start) / 2 * 1000:7.1f} ms/score")


if __name__ == "__main__":
    main()
