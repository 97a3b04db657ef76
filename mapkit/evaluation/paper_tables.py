"""Reports as the papers' tables, from prediction rows (pure arithmetic, no torch).

ReasonMap (planning): the released script averages, over every question with weight 1
(its per-question weight is a TODO fixed at 1): acc short, acc long, map score short
(/20) and long (/40), and the saved via scores of the long answers ("num via stop
score" and "via stops score", each averaged over all long questions, 0 for the other
long form). The difficulty weighting is reported beside it, separately: each question
weighs by its map difficulty, easy 1.0, middle 1.5, hard 2.0 (the weights ReasonMap-Plus
publishes; sum(w * correct) / sum(w)).

ReasonMap-Plus: accuracy per type and the weighted accuracy over the five types with
the same weights.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mapkit.evaluation.report import planning_form, summarize
from mapkit.vocab import ACCURACY_WEIGHTS as DIFFICULTY_WEIGHTS
from mapkit.vocab import PLUS_TYPES


def _pct(values: Sequence[float]) -> float | None:
    return round(100.0 * sum(values) / len(values), 2) if values else None


def _mean(values: Sequence[float], n: int | None = None) -> float | None:
    n = len(values) if n is None else n
    return round(sum(values) / n, 4) if n else None


def _weighted(rows: Sequence[Mapping[str, Any]]) -> float | None:
    weights = [DIFFICULTY_WEIGHTS.get(r.get("difficulty_city"), 0.0) for r in rows]
    total = sum(weights)
    return round(100.0 * sum(w for w, r in zip(weights, rows, strict=True) if r["correct"]) / total, 2) if total else None


def reasonmap_table(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """ReasonMap's planning figures (weight 1) and the difficulty-weighted accuracies."""
    planning = [r for r in rows if r.get("type") == "planning"]
    if not planning:
        return None
    forms: dict[str, list[Mapping[str, Any]]] = {"short": [], "long": []}
    for r in planning:
        forms[planning_form(str(r.get("template_id") or ""), r.get("route_form"))].append(r)
    short, long_ = forms["short"], forms["long"]
    table: dict[str, Any] = {
        "n_short": len(short), "n_long": len(long_),
        "acc_short": _pct([bool(r["correct"]) for r in short]), "acc_long": _pct([bool(r["correct"]) for r in long_]),
        "map_score_short": _mean([float(r.get("map_score") or 0) for r in short]),
        "map_score_long": _mean([float(r.get("map_score") or 0) for r in long_]),
        "weighted_acc_short": _weighted(short), "weighted_acc_long": _weighted(long_),
    }
    if any("num_via_stop_score" in r for r in long_):  # the released scorer's saved via scores
        table["num_via_stop_score"] = _mean([float(r.get("num_via_stop_score") or 0) for r in long_])
        table["via_stops_score"] = _mean([float(r.get("via_stops_score") or 0) for r in long_])
    return table


def plus_table(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """ReasonMap-Plus accuracy per type and the weighted accuracy (1.0 / 1.5 / 2.0)."""
    plus = [r for r in rows if r.get("type") in PLUS_TYPES]
    if not plus:
        return None
    by_type = {t: _pct([bool(r["correct"]) for r in plus if r["type"] == t]) for t in PLUS_TYPES
               if any(r["type"] == t for r in plus)}
    return {"n": len(plus), "accuracy": by_type, "weighted_accuracy": _weighted(plus)}


def build_report(rows: list[Mapping[str, Any]], scorer: Any) -> dict[str, Any]:
    """``mapkit.evaluation.report.summarize`` plus the scorer that produced the rows and the
    papers' tables (``reasonmap``, ``reasonmap_plus``)."""
    report = summarize(rows)
    report.update(scorer.describe())
    report["scored_by"] = {t: scorer.scored_by(t) for t in sorted({str(r["type"]) for r in rows})}
    for key, table in (("reasonmap", reasonmap_table(rows)), ("reasonmap_plus", plus_table(rows))):
        if table is not None:
            report[key] = table
    return report


def _cell(value: Any) -> str:
    return "-" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))


def format_tables(report: Mapping[str, Any]) -> str:
    """The ReasonMap / ReasonMap-Plus blocks of a report, one line of figures each."""
    blocks = []
    rm = report.get("reasonmap")
    if rm:
        keys = ["acc_short", "acc_long", "map_score_short", "map_score_long"]
        keys += [k for k in ("num_via_stop_score", "via_stops_score") if k in rm]
        head = "  ".join(keys)
        blocks.append(f"ReasonMap table ({report.get('scorer', 'mapkit')} scorer; every question weight 1; "
                      f"n short {rm['n_short']}, n long {rm['n_long']})\n{head}\n"
                      + "  ".join(_cell(rm[k]).rjust(len(k)) for k in keys)
                      + f"\ndifficulty-weighted acc (map easy 1.0 / middle 1.5 / hard 2.0): short {_cell(rm['weighted_acc_short'])}, "
                        f"long {_cell(rm['weighted_acc_long'])}")
    plus = report.get("reasonmap_plus")
    if plus:
        types = list(plus["accuracy"])
        blocks.append(f"ReasonMap-Plus table ({report.get('scorer', 'mapkit')} scorer, accuracy %)\n"
                      + "  ".join([*types, "weighted"]) + "\n"
                      + "  ".join([*(_cell(plus["accuracy"][t]).rjust(len(t)) for t in types),
                                   _cell(plus["weighted_accuracy"]).rjust(8)]))
    return "\n\n".join(blocks)
