"""Scores the way the papers report them, from per-record predictions.

A prediction is the record's columns plus ``correct`` (bool, from mapkit.rewards'
parser, so training and evaluation cannot disagree) and, for planning, ``map_score``
and ``map_score_max``. This module only aggregates; generating the predictions is
``mapkit.train.predict`` (it needs torch).

Weighted accuracy is ReasonMap-Plus's: every record weighs by its map difficulty
(easy 1.0, middle 1.5, hard 2.0) and the score is sum(w * correct) / sum(w), in percent.

``score_prediction`` turns one record and its completion into a prediction (correctness
from ``mapkit.rewards.breakdown``, the map score from ``mapkit.rewards.map_score``);
``write_report`` writes the report and its predictions; ``format_report`` and
``format_comparison`` lay them out as the papers' tables.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mapkit.errors import MapkitError
from mapkit.files import atomic_write_text
from mapkit.vocab import ACCURACY_WEIGHTS as DIFFICULTY_WEIGHTS
from mapkit.vocab import ALL_TYPES as TYPES
from mapkit.vocab import GROUNDING_TYPES, PLUS_TYPES

IOU_CORRECT = 0.5  # a located box counts as right at IoU >= 0.5 (mapkit.rewards.grounding)


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


def planning_form(template_id: str, route_form: str | None = None) -> str:
    """"short" or "long": the two ReasonMap prompt forms (long has via stops). A
    prediction's ``route_form`` (short, long_num, long_via) wins over its template id."""
    if route_form:
        return "short" if route_form == "short" else "long"
    return "long" if "long" in template_id else "short"


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _by_difficulty(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {d: _accuracy(rs) for d, rs in _group(rows, "difficulty_question").items()} if all(
        "difficulty_question" in r for r in rows) else {}


def grounding_summary(predictions: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Perception scores: locating (mean IoU and accuracy at IoU >= 0.5 over box
    answers, accuracy over point answers), label reading and line identification, each
    by question difficulty (clutter around the target)."""
    out: dict[str, Any] = {}
    locate = [r for r in predictions if r["type"] == "Grounding1"]
    boxes = [r for r in locate if r.get("iou") is not None]
    if locate:
        points = [r for r in locate if r.get("iou") is None]
        out["locate"] = {
            "n": len(locate), "n_box": len(boxes), "n_point": len(points),
            "mean_iou": round(sum(r["iou"] for r in boxes) / len(boxes), 4) if boxes else None,
            "accuracy_at_0.5": round(100.0 * sum(r["iou"] >= IOU_CORRECT for r in boxes) / len(boxes), 2) if boxes else None,
            "point_accuracy": _accuracy(points)["accuracy"] if points else None,
            "accuracy": _accuracy(locate)["accuracy"],
            "by_question_difficulty": {
                d: {**_accuracy(rs), "mean_iou": round(sum(r["iou"] for r in rs if r.get("iou") is not None) /
                                                       max(1, sum(r.get("iou") is not None for r in rs)), 4)}
                for d, rs in _group(locate, "difficulty_question").items()} if all("difficulty_question" in r for r in locate) else {},
        }
    for key, kind in (("read_label", "Grounding2"), ("identify_line", "Grounding3")):
        rows = [r for r in predictions if r["type"] == kind]
        if rows:
            out[key] = {**_accuracy(rows), "by_question_difficulty": _by_difficulty(rows)}
    return out


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
    if all("difficulty_question" in r for r in predictions) and predictions:
        report["by_question_difficulty"] = {d: _accuracy(rows) for d, rows in _group(predictions, "difficulty_question").items()}
    if any(r["type"] in GROUNDING_TYPES for r in predictions):
        report["grounding"] = grounding_summary(predictions)
    if planning:
        forms = _group([{**r, "form": planning_form(str(r.get("template_id", "")), r.get("route_form"))} for r in planning], "form")
        scored = [r for r in planning if r.get("map_score") is not None]
        report["planning"] = {
            **{f"accuracy_{form}": _accuracy(rows)["accuracy"] for form, rows in forms.items()},
            **{f"n_{form}": len(rows) for form, rows in forms.items()},
            "weighted_accuracy": _weighted(planning),
            # a short answer scores out of 20 and a long one out of 40: the mean over both
            # mixes scales, so each form has its own mean as well
            "map_score": _mean([r["map_score"] for r in scored]),
            "map_score_max": max((r.get("map_score_max") or 0) for r in scored) if scored else None,
            **{f"map_score_{form}": _mean([r["map_score"] for r in rows if r.get("map_score") is not None])
               for form, rows in forms.items()},
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
    ga, gb = a.get("grounding", {}), b.get("grounding", {})
    for part, key, label in (("locate", "mean_iou", "locate mean IoU"), ("locate", "accuracy_at_0.5", "locate acc@0.5"),
                             ("read_label", "accuracy", "label reading"), ("identify_line", "accuracy", "line identification")):
        if part in ga or part in gb:
            rows.append((label, ga.get(part, {}).get(key), gb.get(part, {}).get(key)))
    pa, pb = a.get("planning", {}), b.get("planning", {})
    for key in ("accuracy_short", "accuracy_long", "map_score", "map_score_short", "map_score_long"):
        if key in pa or key in pb:
            rows.append((f"planning {key.replace('accuracy_', '').replace('_', ' ')}", pa.get(key), pb.get(key)))
    for c in sorted(set(a.get("by_city", {})) | set(b.get("by_city", {}))):
        rows.append((f"city {c}", a.get("by_city", {}).get(c, {}).get("accuracy"), b.get("by_city", {}).get(c, {}).get("accuracy")))
    return [(name, x, y, round(y - x, 2) if x is not None and y is not None else None) for name, x, y in rows]


# --------------------------------------------------------------------------- predictions

# record columns a prediction keeps (enough to re-aggregate and to read it by eye)
RECORD_FIELDS = ("id", "city", "country", "map_id", "type", "template_id", "difficulty_city", "difficulty_question",
                 "question_transfer_count", "station_1", "station_2", "line", "answer", "answer_text", "question", "image_size")


def score_prediction(record: Mapping[str, Any], completion: str, lines: Any, *, mode: str = "default") -> dict[str, Any]:
    """One prediction: the record's columns, the completion, ``correct`` (R_correct of
    ``mapkit.rewards.breakdown`` in ``mode``: the training reward's own verdict) and, for
    planning, the map score (``mapkit.rewards.map_score``, given the same verdict).

    >>> record = {"id": "q1", "type": "TorF1", "answer": 1, "station_1": "A", "station_2": "B", "city": "x",
    ...           "difficulty_city": "easy", "question_transfer_count": 0}
    >>> p = score_prediction(record, "\\\\boxed{yes}", None)
    >>> p["correct"], p["reward"]
    (True, 11.0)
    """
    from mapkit import rewards

    parts = rewards.breakdown(completion, record, lines, mode=mode)
    row: dict[str, Any] = {k: record.get(k) for k in RECORD_FIELDS if k in record}
    row.update(completion=completion, correct=parts.correct > 0, reward=parts.reward, parsed=parts.parsed, reason=parts.reason)
    if parts.iou is not None:
        row["iou"] = parts.iou
    if record["type"] == "planning":
        ms = rewards.map_score(completion, record, lines, correct=row["correct"])
        row.update(route_form=ms.form, map_score=ms.score, map_score_max=ms.maximum)
    return row


def predictions_path(report_path: str | Path) -> Path:
    """The predictions file beside a report: ``eval.json`` -> ``eval.predictions.jsonl``."""
    path = Path(report_path)
    return path.with_name(f"{path.stem if path.suffix == '.json' else path.name}.predictions.jsonl")


def write_report(report: Mapping[str, Any], predictions: list[Mapping[str, Any]], path: str | Path) -> Path:
    """Write ``path`` (the report, with ``predictions`` naming its sibling file) and the
    predictions, one JSON object a line. Returns the predictions' path."""
    path = Path(path)
    if path.is_dir():
        raise MapkitError(f"--out {path} is a folder; give a file name such as {path / 'eval.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        side = predictions_path(path)
        atomic_write_text(side, "".join(json.dumps(p, ensure_ascii=False, default=str) + "\n" for p in predictions))
        atomic_write_text(path, json.dumps({**report, "predictions": side.name}, ensure_ascii=False, indent=2, default=str) + "\n")
    except OSError as e:
        raise MapkitError(f"--out {path}: cannot write the report ({e.strerror or e})") from None
    return side


def load_predictions(report_path: str | Path) -> list[dict[str, Any]]:
    """The predictions written beside a report."""
    report = load_report(report_path)
    side = Path(report_path).with_name(report.get("predictions") or predictions_path(report_path).name)
    try:
        return [json.loads(line) for line in side.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        raise MapkitError(f"{side}: the predictions of {report_path} are missing") from None


# --------------------------------------------------------------------------- tables

def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def model_label(report: Mapping[str, Any]) -> str:
    """A short name for a report's model: the folder name (``run/checkpoint-8``) or ``tiny``."""
    model = str(report.get("model") or "?")
    parts = Path(model).parts
    label = "/".join(parts[-2:]) if parts and parts[-1].startswith("checkpoint-") else (parts[-1] if parts else model)
    return label + (" (text only)" if report.get("generation", {}).get("text_only") else "")


def format_report(report: Mapping[str, Any]) -> str:
    """The report laid out like the papers' tables: ReasonMap-Plus accuracy per type and
    weighted, ReasonMap planning accuracy (short / long) and map score, then accuracy by
    map difficulty and by city."""
    name = model_label(report)
    gen = report.get("generation", {})
    head = [f"model {report.get('model')}  data {report.get('data')}  split {report.get('split')}  n {report.get('n')}"]
    if gen:
        how = "greedy" if not gen.get("temperature") else f"temperature {gen['temperature']} top_p {gen.get('top_p')}"
        head.append(f"{how}, max {gen.get('max_new_tokens')} new tokens, maps at <= {gen.get('max_pixels')} pixels"
                    f"{', text only' if gen.get('text_only') else ''}"
                    + (f"; correctness: mapkit.rewards ({report.get('reward_mode', 'default')} mode)"
                       if report.get("scorer", "mapkit") == "mapkit" else ""))
    if report.get("scorer"):
        head.append(f"scorer: {report['scorer']} (answer graded: {report.get('answer', 'full text')}); "
                    + ", ".join(f"{t}: {by}" for t, by in report.get("scored_by", {}).items()))
    if report.get("smoke"):
        head.append("SMOKE MODEL: the tiny model's answers are noise; these numbers test the pipeline only")
    if report.get("skipped"):
        head.append(f"{report['skipped']} prompt(s) over --max-prompt-length were not asked and count as wrong")
    blocks = ["\n".join(head)]
    by_type = report.get("by_type", {})
    plus = [t for t in PLUS_TYPES if t in by_type]
    if plus:
        blocks.append("ReasonMap-Plus (accuracy %)\n" + _table(
            ["model", *plus, "weighted"], [[name, *(by_type[t]["accuracy"] for t in plus), report.get("weighted_accuracy")]]))
    p = report.get("planning")
    if p:
        blocks.append("ReasonMap planning\n" + _table(
            ["model", "acc short %", "acc long %", "map score short /20", "map score long /40", "weighted acc %"],
            [[name, p.get("accuracy_short"), p.get("accuracy_long"), p.get("map_score_short"), p.get("map_score_long"),
              p.get("weighted_accuracy")]]))
    g = report.get("grounding")
    if g:
        grows = []
        if "locate" in g:
            loc = g["locate"]
            grows.append(["locate station", loc["n"], loc["accuracy"], loc.get("mean_iou"), loc.get("accuracy_at_0.5")])
            grows += [[f"  locate, {d}", v["n"], v["accuracy"], v.get("mean_iou"), None]
                      for d, v in _in_label_order(loc.get("by_question_difficulty", {}))]
        for key, label in (("read_label", "read label"), ("identify_line", "identify line")):
            if key in g:
                grows.append([label, g[key]["n"], g[key]["accuracy"], None, None])
                grows += [[f"  {label.split()[0]}, {d}", v["n"], v["accuracy"], None, None]
                          for d, v in _in_label_order(g[key].get("by_question_difficulty", {}))]
        blocks.append("Grounding (question difficulty = clutter around the target)\n" + _table(
            ["", "n", "accuracy %", "mean IoU", "acc@0.5 %"], grows))
    rows = [[f"map {d} (x{DIFFICULTY_WEIGHTS[d]})", v["n"], v["correct"], v["accuracy"]]
            for d, v in sorted(report.get("by_difficulty", {}).items(), key=lambda kv: list(DIFFICULTY_WEIGHTS).index(kv[0]))]
    rows += [[f"question {d}", v["n"], v["correct"], v["accuracy"]]
             for d, v in sorted(report.get("by_question_difficulty", {}).items(),
                                key=lambda kv: list(DIFFICULTY_WEIGHTS).index(kv[0]) if kv[0] in DIFFICULTY_WEIGHTS else 9)]
    rows += [[t, v["n"], v["correct"], v["accuracy"]] for t, v in sorted(by_type.items(), key=lambda kv: TYPES.index(kv[0]) if kv[0] in TYPES else 99)]
    rows.append(["all", report.get("n"), sum(v["correct"] for v in by_type.values()), report.get("accuracy")])
    blocks.append("By difficulty and type\n" + _table(["", "n", "correct", "accuracy %"], rows))
    from mapkit.evaluation.paper_tables import format_tables

    if report.get("reasonmap") or report.get("reasonmap_plus"):
        blocks.append(format_tables(report))
    cities = report.get("by_city", {})
    if cities:
        blocks.append("By city\n" + _table(["city", "n", "correct", "accuracy %", "weighted %"],
                                           [[c, v["n"], v["correct"], v["accuracy"], v.get("weighted_accuracy")] for c, v in cities.items()]))
    return "\n\n".join(blocks)


def _in_label_order(d: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return sorted(d.items(), key=lambda kv: list(DIFFICULTY_WEIGHTS).index(kv[0]) if kv[0] in DIFFICULTY_WEIGHTS else 9)


def format_comparison(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """Two reports side by side, B - A in the last column, with a note on every setting
    that differs (data, split, n, reward mode, generation) and so makes them incomparable."""
    na, nb = model_label(a), model_label(b)
    if na == nb:
        na, nb = f"A: {na}", f"B: {nb}"
    notes = []
    for key in ("data", "split", "n", "reward_mode", "generation", "types", "limit"):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            notes += [f"note: {key}.{k} differs: A {x.get(k)!r}, B {y.get(k)!r}" for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
        elif x != y:
            notes.append(f"note: {key} differs: A {x!r}, B {y!r}")
    rows = [[name, x, y, (f"{d:+.2f}" if d is not None else None)] for name, x, y, d in compare_rows(a, b)]
    return "\n".join([*notes, _table(["metric", na, nb, "B - A"], rows)])
