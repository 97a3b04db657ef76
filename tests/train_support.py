"""Shared pieces of the training tests: dataset folders and toy rewards.

``dataset`` is a real `mapkit build` of the mini fixture city (the seam between the
data and the learning halves: parquet records, a rendered 4000 x 3518 map, the
annotation copy), built once per session. ``write_dataset`` writes a hand-made folder
in the same layout when a test needs records it controls (ids r-<type>-<i>).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test touches the network


FIXTURES = Path(__file__).resolve().parent / "fixtures"
TYPES = ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning")


def write_dataset(root: Path, per_type: int = 4, image_size: tuple[int, int] = (200, 150), question: str | None = None) -> Path:
    """A hand-made dataset folder with ``per_type`` records of each type (ids r-<type>-<i>)."""
    import pandas as pd
    from PIL import Image

    (root / "data").mkdir(parents=True)
    (root / "maps").mkdir()
    (root / "annotations").mkdir()
    Image.new("RGB", image_size, (240, 240, 240)).save(root / "maps" / "mini.png")
    shutil.copy(FIXTURES / "mini.json", root / "annotations" / "mini.json")
    rows = []
    for kind in TYPES:
        for i in range(per_type):
            rows.append({
                "id": f"r-{kind}-{i}", "split": "train", "city": "mini", "country": "Nowhere", "map_id": "mini",
                "type": kind, "template_id": f"{kind}-0",
                "question": question or f"{kind} question {i} about Alpha and Central. Put the answer in \\boxed{{}}.",
                "options": ["1", "2", "3", "4"] if kind == "Counting1" else [], "answer": -1 if kind == "planning" else i % 2,
                "answer_text": "yes" if i % 2 else "no", "station_1": "Alpha", "station_2": "Central", "line": "Red Line",
                "difficulty_city": "easy", "difficulty_question": "easy", "city_line_count": 4, "city_transfer_count": 3,
                "question_transfer_count": 0, "reference_routes": "[]", "figure": "maps/mini.png",
                "annotation": "annotations/mini.json", "program": "{}",
            })
    pd.DataFrame(rows).to_parquet(root / "data" / "train-00000-of-00001.parquet")
    write_manifest(root)
    return root


def write_manifest(root: Path) -> None:
    """A manifest.json hashing every file, as `mapkit build` writes it: the folder check
    that train and eval run first reads it."""
    import hashlib
    import json

    files = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}
    (root / "manifest.json").write_text(json.dumps({"files": files}))


def toy_reward(completion: str, record: dict, lines) -> dict:
    """Dense, reachable reward: share of characters that are digits; "correct" when any is."""
    digits = sum(ch.isdigit() for ch in completion)
    share = digits / max(len(completion), 1)
    return {"reward": share, "correct": float(digits > 0), "detail": 0.0, "format": share, "weight": 1.0, "parsed": None}


def no_lines(record: dict):
    return None


_BUILT: dict[str, Path] = {}


def built_mini(tmp_path_factory) -> Path:
    """`mapkit build --city mini --annotations tests/fixtures`, once per session; read-only.
    Test modules wrap it in their own ``dataset`` fixture."""
    if "mini" not in _BUILT:
        from mapkit.dataset import build_dataset

        out = tmp_path_factory.mktemp("built") / "mini"
        build_dataset([FIXTURES / "mini.json"], out, seed=0)
        _BUILT["mini"] = out
    return _BUILT["mini"]


def record_types(root: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    return {r["id"]: r["type"] for f in (root / "data").glob("*.parquet") for r in pq.read_table(f).to_pylist()}


def tiny_config(tmp_path: Path, data: Path, **overrides):
    from mapkit.train.config import GRPOConfig

    settings = {"data": str(data), "model": "tiny", "out": str(tmp_path / "run"), "prompts_per_step": 2, "num_generations": 2,
                "micro_batch_size": 4, "max_new_tokens": 8, "max_pixels": 56 * 56, "min_pixels": 56 * 56, "progress": False,
                "log_completions": 2, "tiny_warmup_steps": 0}
    settings.update(overrides)
    return GRPOConfig(**settings)
