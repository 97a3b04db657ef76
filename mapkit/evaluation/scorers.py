"""Scorers for saved or fresh completions: mapkit's own rules, or the released scripts.

    >>> from mapkit.evaluation.scorers import Scorer
    >>> Scorer("reasonmap-plus").score({"id": "q", "type": "TorF1", "answer": 1}, "<think>no</think> \\\\boxed{yes}", None)["correct"]
    True

* ``mapkit`` (default): the papers' written rules as ``mapkit.rewards`` implements them
  (``--reward-mode default`` or ``paper``) and ``mapkit.rewards.map_score``; its
  differences from the released scripts are listed in docs/scoring.md.
* ``reasonmap`` / ``reasonmap-plus``: the released evaluation scripts, quirks included.
  Route planning is scored as ReasonMap's ``main.py`` does (``mapkit.evaluation.reasonmap``),
  the five Plus types as ``main_plus.py`` does (``mapkit.evaluation.plus``). Neither script
  covers the other's types, so both names score a mixed split the same way; the report
  names the script behind each type (``scored_by``).

Every scorer grades the final answer: by default the text after the last ``</think>`` or
``◁/think▷`` (``mapkit.evaluation.answer``). Nothing here imports torch.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mapkit.errors import ConfigError
from mapkit.evaluation.answer import THINK_MARKERS, AnswerCut, final_answer
from mapkit.vocab import GROUNDING_TYPES

SCORERS = ("mapkit", "reasonmap", "reasonmap-plus")
RELEASED_SCRIPT = {"planning": "ReasonMap main.py", "plus": "ReasonMap main_plus.py"}


@dataclass(frozen=True)
class Scorer:
    name: str = "mapkit"
    reward_mode: str = "default"  # mapkit scorer: the mapkit.rewards mode that decides correctness
    cut: AnswerCut = field(default_factory=AnswerCut)

    def __post_init__(self) -> None:
        if self.name not in SCORERS:
            raise ConfigError(f"--scorer {self.name!r} is not one of {', '.join(SCORERS)}")
        if self.reward_mode not in ("default", "paper"):
            raise ConfigError(f"--reward-mode {self.reward_mode!r} is not one of default, paper")

    @property
    def released(self) -> bool:
        return self.name != "mapkit"

    def scored_by(self, kind: str) -> str:
        if not self.released or kind in GROUNDING_TYPES:  # no released script has Grounding questions
            return f"mapkit.rewards ({self.reward_mode} mode)"
        return RELEASED_SCRIPT["planning" if kind == "planning" else "plus"]

    def describe(self) -> dict[str, Any]:
        return {"scorer": self.name, "answer": self.cut.describe(),
                **({"reward_mode": self.reward_mode} if not self.released else {})}

    def score(self, record: Mapping[str, Any], completion: str, lines: Any) -> dict[str, Any]:
        """One prediction row: the record's columns, the completion, ``correct``,
        ``parsed`` and, for planning, ``map_score`` / ``map_score_max`` / ``route_form``."""
        from mapkit.evaluation.report import RECORD_FIELDS, score_prediction

        text = completion if isinstance(completion, str) else ("" if completion is None else str(completion))
        answer = self.cut(text)
        if not self.released or record["type"] in GROUNDING_TYPES:
            row = score_prediction(record, answer, lines, mode=self.reward_mode)
        else:
            row = {k: record.get(k) for k in RECORD_FIELDS if k in record}
            if record["type"] == "planning":
                from mapkit.evaluation.reasonmap import score_route

                result = score_route(answer, record, lines or {})
                row.update(correct=bool(result.acc), parsed=result.parsed, route_form=result.form,
                           map_score=result.map_score, map_score_max=result.map_score_max,
                           departure_arrival_score=result.departure_arrival_score, route_name_score=result.route_name_score,
                           stops_score=result.stops_score, num_via_stop_score=result.num_via_stop_score,
                           via_stops_score=result.via_stops_score)
            else:
                from mapkit.evaluation.plus import score_choice

                correct, parsed = score_choice(answer, record)
                row.update(correct=correct, parsed=parsed)
        row["completion"] = text
        if answer is not text:
            row["answer_graded"] = answer
        return row


__all__ = ["SCORERS", "THINK_MARKERS", "AnswerCut", "Scorer", "final_answer"]
