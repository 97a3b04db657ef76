"""Scores the way the papers report them, from per-record predictions.

A prediction is the record's columns plus ``correct`` (bool, from mapkit.rewards'
parser, so training and evaluation cannot disagree) and, for planning, ``map_score``
and ``map_score_max``. This module only aggregates; generating the predictions is
``mapkit.train.evaluate`` (it needs torch).

Weighted accuracy is ReasonMap-Plus's: every record weighs by its map difficulty
(easy 1.0, middle 1.5, hard 2.0) and the score is sum(w * correct) / sum(w), in percent.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping

from mapkit.errors import MapkitError

DIFFICULTY_WEIGHTS = {"easy": 1.0, "middle": 1.5, "hard": 2.0}
TYPES = ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning")
PLUS_TYPES = TYPES[:-1]


def _accuracy(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    right = sum(1 for r in rows if r["correct"])
    return {"n": n, "correct": right, "accuracy": round(100.0 * right / n, 2) if n else None}


def _weighted(rows: list[Mapping[str, Any]]) -> float | None:
    weights = [DIFFICULTY_WEIGHTS[r["difficulty_city"]] for r in rows]
    total = sum(weights)
    if not total:
        return None
    return round(100.0 * sum(w for w, r in zip(weights, rows) if r["correct"]) / total, 2)


def _group(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[str(r[key])].append(r)
    return dict(sorted(groups.items()))


def planning_form(template_id: str) -> str:
    """"short" or "long": the two ReasonMap prompt forms (long has via stops)."""
    return "long" if "long" in template_id else "short"


def summarize(predictions: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The report of ``mapkit eval``: overall, by type, difficulty and city, planning.

    >>> rows = [{"type": "TorF1", "difficulty_city": "easy", "city": "x", "correct": True},
    ...         {"type": "TorF1", "difficulty_city": "hard", "city": "x", "correct": False}]
    >>> summarize(rows)["weighted_accuracy"]   # 1.0 / (1.0 + 2.0)
    33.33
    """
    for i, r in enumerate(predictions):
        for field in ("type", "difficulty_city", "city", "correct"):
            if field not in r:
                raise MapkitError(f"prediction {i} has no {field!r}: each prediction carries its record's columns and `correct`")
        if r["difficulty_city"] not in DIFFICULTY_WEIGHTS:
            raise MapkitError(f"prediction {i}: unknown difficulty {r['difficulty_city']!r} (expected easy, middle or hard)")
    plus = [r for r in predictions if r["type"] in PLUS_TYPES]
    planning = [r for r in predictions if r["type"] == "planning"]
    report: dict[str, Any] = {
        "n": len(predictions),
        "accuracy": _accuracy(predictions)["accuracy"],
        "weighted_accuracy": _weighted(plus) if plus else _weighted(predictions),
        "by_type": {t: _accuracy(rows) for t, rows in _group(predictions, "type").items()},
        "by_difficulty": {d: _accuracy(rows) for d, rows in _group(predictions, "difficulty_city").items()},
        "by_city": {c: {**_accuracy(rows), "weighted_accuracy": _weighted(rows)} for c, rows in _group(predictions, "city").items()},
    }
    if planning:
        forms = _group([{**r, "form": planning_form(str(r.get("template_id", "")))} for r in planning], "form")
        scored = [r for r in planning if r.get("map_score") is not None]
        report["planning"] = {
            **{f"accuracy_{form}": _accuracy(rows)["accuracy"] for form, rows in forms.items()},
            "weighted_accuracy": _weighted(planning),
            "map_score": round(sum(r["map_score"] for r in scored) / len(scored), 3) if scored else None,
            "map_score_max": max((r.get("map_score_max") or 0) for r in scored) if scored else None,
        }
    return report


def load_report(path: str | Path) -> dict[str, Any]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MapkitError(f"{path}: no such report (write one with `mapkit eval ... --out {path}`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MapkitError(f"{path}: not a mapkit eval report ({e})") from None
    if not isinstance(report, dict) or "by_type" not in report:
        raise MapkitError(f"{path}: not a mapkit eval report (no by_type section)")
    return report


def compare_rows(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, float | None, float | None, float | None]]:
    """(metric, A, B, B - A) rows for two reports, in the papers' order."""
    rows: list[tuple[str, float | None, float | None]] = [
        ("weighted accuracy", a.get("weighted_accuracy"), b.get("weighted_accuracy")),
        ("accuracy", a.get("accuracy"), b.get("accuracy")),
    ]
    for t in TYPES:
        if t in a.get("by_type", {}) or t in b.get("by_type", {}):
            rows.append((t, a.get("by_type", {}).get(t, {}).get("accuracy"), b.get("by_type", {}).get(t, {}).get("accuracy")))
    for d in DIFFICULTY_WEIGHTS:
        if d in a.get("by_difficulty", {}) or d in b.get("by_difficulty", {}):
            rows.append((f"map {d}", a.get("by_difficulty", {}).get(d, {}).get("accuracy"), b.get("by_difficulty", {}).get(d, {}).get("accuracy")))
    pa, pb = a.get("planning", {}), b.get("planning", {})
    for key in ("accuracy_short", "accuracy_long", "map_score"):
        if key in pa or key in pb:
            rows.append((f"planning {key.replace('accuracy_', '')}", pa.get(key), pb.get(key)))
    return [(name, x, y, round(y - x, 2) if x is not None and y is not None else None) for name, x, y in rows]
