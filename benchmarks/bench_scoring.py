"""Benchmark of `mapkit eval --predictions`: scoring saved completions without a model.

    .venv/bin/python benchmarks/bench_scoring.py [--reasonmap ../shared/reasonmap] [--n 1000]

Builds the 30 ReasonMap cities text-only (or Tokyo when the shared data is absent),
writes ``--n`` saved completions (a mix of right, wrong, reasoning-traced and remarked
answers, all six types) and times, for each scorer, the whole command in a fresh
process (``python -m mapkit eval --predictions ... --out ...``: imports, reading the
dataset and the file, scoring, writing the report) and the scoring call alone. Prints
figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapkit.dataset import build_dataset, resolve_counts  # noqa: E402
from mapkit.evaluation.data import open_dataset  # noqa: E402
from mapkit.evaluation.predictions import score_predictions  # noqa: E402
from mapkit.evaluation.scorers import SCORERS, Scorer  # noqa: E402


def completion(record: dict, rng: random.Random) -> str:
    right = record["answer_text"] if record["type"] == "planning" else f"\\boxed{{{record['answer_text']}}}"
    wrong = right.replace("Route Name: ", "Route Name: X", 1) if record["type"] == "planning" else "\\boxed{no}"
    return rng.choice([right, wrong, f"<think>Let me look at the map. {wrong}</think>\n{right}", right + "\nHope this helps."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reasonmap", type=Path, default=ROOT.parent / "shared" / "reasonmap")
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if (args.reasonmap / "stations").is_dir():
            from mapkit.importers.reasonmap import import_reasonmap

            import_reasonmap(args.reasonmap / "stations", tmp / "ann", args.reasonmap / "maps")
            paths, label = sorted((tmp / "ann").glob("*.json")), "30 ReasonMap cities"
        else:
            paths, label = [ROOT / "annotations" / "tokyo.json"], "Tokyo"
        build_dataset(paths, tmp / "data", warn=lambda m: None, images=False, counts_by_type=resolve_counts(40))
        data = open_dataset(str(tmp / "data"), "train")
        data.records = data.records[:args.n]
        rng = random.Random(0)
        pred = tmp / "pred.jsonl"
        pred.write_text("".join(json.dumps({"id": r["id"], "completion": completion(r, rng)}, ensure_ascii=False) + "\n"
                                for r in data.records), encoding="utf-8")
        # the command needs a split whose records are exactly the predicted ones: keep a copy of those
        sub = tmp / "subset" / "data"
        sub.mkdir(parents=True)
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(data.records), sub / "test-00000-of-00001.parquet")
        (tmp / "subset" / "annotations").symlink_to(tmp / "data" / "annotations")
        types = {t: sum(r["type"] == t for r in data.records) for t in sorted({r["type"] for r in data.records})}
        print(f"{len(data.records)} saved completions over {label}: {types}")
        for name in SCORERS:
            start = time.perf_counter()
            report, _ = score_predictions(pred, data, scorer=Scorer(name))
            inner = time.perf_counter() - start
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "mapkit", "eval", "--predictions", str(pred), "--data", str(tmp / "subset"),
                                   "--scorer", name, "--out", str(tmp / f"{name}.json")], capture_output=True, text=True, check=False,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            wall = time.perf_counter() - start
            status = "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-300:]}"
            print(f"--scorer {name:<15} command {wall:5.2f} s ({status}); scoring alone {inner:5.2f} s "
                  f"= {len(data.records) / inner:8.0f} completions/s; accuracy {report['accuracy']}")


if __name__ == "__main__":
    main()
