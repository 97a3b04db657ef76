"""ReasonMap's "map score": partial credit of a route answer against reference routes.

ReasonMap grades a planning answer twice: *correct* (a valid route, the reward's
R_correct) and the map score, which compares it section by section with the routes a
map app gave (our records' ``reference_routes``), keeping the best reference:

* short form (max 20): +1 when the first departure is station_1 and the last arrival
  is station_2; only then, per section paired in order with the reference's, +2 same
  line, +1 same departure, +1 same arrival; capped at 10; +10 when the answer is
  correct.
* long forms (max 40): the same section credit plus the via credit of
  ``mapkit.rewards.score.via_credit`` (Number of Via Stops: up to 4 per section;
  Via Stops: (10 * IoU + min(10, matched)) / 2), capped at 20; +20 when correct.

Routes are read exactly as the default reward reads them (``planning_sections``: the one
``\\boxed{}`` or the whole completion, labels in any case), names compared through
``normalize`` and line names through the map's line index, so the map score and the
correctness it is reported beside come from one parser. Differences from the released
evaluation: a hedge (several boxes) scores 0; via credit needs the reference section's
line (see ``via_credit``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mapkit.errors import RewardError
from mapkit.rewards.lines import index_for
from mapkit.rewards.names import normalize
from mapkit.rewards.parse import as_text
from mapkit.rewards.score import _valid_route, check_record, names_as_text, planning_sections, route_form, via_credit

SHORT_CAP, SHORT_MAX = 10.0, 20.0  # partial credit cap, and cap + the bonus of a correct answer
LONG_CAP, LONG_MAX = 20.0, 40.0


@dataclass(frozen=True)
class MapScore:
    score: float  # 0 .. maximum
    maximum: float  # 20 (short) or 40 (long forms)
    form: str  # short, long_num, long_via
    correct: bool  # the bonus was given
    endpoints: bool  # first departure and last arrival are the question's stations
    sections: float  # line / departure / arrival credit of the best reference (before the cap)
    via: float  # via credit of the best reference (long forms)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def map_score(completion: Any, record: Mapping[str, Any], lines: Mapping[str, Sequence[str]], *,
              correct: bool | None = None) -> MapScore:
    """The map score of a planning answer, best over ``record["reference_routes"]``.

    ``correct`` is the correctness the report shows beside it (``breakdown(...).correct
    > 0`` in the chosen reward mode); left out, it is the default mode's route validity.

    >>> lines = {"Red": ["A", "B", "C"], "Blue": ["C", "D"]}
    >>> record = {"type": "planning", "answer": -1, "station_1": "A", "station_2": "D",
    ...           "difficulty_city": "easy", "question_transfer_count": 1, "template_id": "planning_short",
    ...           "reference_routes": [[
    ...               {"route_name": "Red", "departure_stop": "A", "arrival_stop": "C", "via_stops": ["B"], "num_via_stops": 1},
    ...               {"route_name": "Blue", "departure_stop": "C", "arrival_stop": "D", "via_stops": [], "num_via_stops": 0}]]}
    >>> answer = "Route Name: Red\\nDeparture Stop: A\\nArrival Stop: C\\n--\\nRoute Name: Blue\\nDeparture Stop: C\\nArrival Stop: D"
    >>> map_score(answer, record, lines).score   # min(10, 1 + 4 + 4) + 10
    19.0
    """
    check_record(record)
    if record["type"] != "planning":
        raise RewardError(f"record {record.get('id', '<no id>')}: the map score is for planning records, not {record['type']}")
    form = route_form(record)
    cap, maximum = (SHORT_CAP, SHORT_MAX) if form == "short" else (LONG_CAP, LONG_MAX)
    index = index_for(lines)
    sections, _ = planning_sections(as_text(completion), names_as_text(record, index))
    if not sections:
        return MapScore(0.0, maximum, form, False, False, 0.0, 0.0)
    route = [(index.resolve(s.route), normalize(s.departure or ""), normalize(s.arrival or "")) for s in sections]
    if correct is None:
        correct = all(s.complete for s in sections) and _endpoints(route, record) and _valid_route(route, index)
    if not _endpoints(route, record):
        return MapScore(maximum - cap if correct else 0.0, maximum, form, bool(correct), False, 0.0, 0.0)
    best: tuple[float, float, float] | None = None  # (capped partial credit, section credit, via credit)
    routes = record.get("reference_routes")  # may be a numpy array (records read with pandas)
    for reference in (() if routes is None else routes):
        credit = 0.0
        for (line, departure, arrival), ref in zip(route, reference):
            credit += 2.0 if line is not None and line == index.resolve(ref["route_name"]) else 0.0
            credit += 1.0 if departure and departure == normalize(ref["departure_stop"]) else 0.0
            credit += 1.0 if arrival and arrival == normalize(ref["arrival_stop"]) else 0.0
        via = via_credit(sections, reference, index, form)
        total = min(cap, 1.0 + credit + via)
        if best is None or total > best[0]:
            best = (total, credit, via)
    if best is None:  # no reference routes: only the endpoints can be credited
        best = (1.0, 0.0, 0.0)
    return MapScore(best[0] + (maximum - cap if correct else 0.0), maximum, form, bool(correct), True, best[1], best[2])


def _endpoints(route: Sequence[tuple[str | None, str, str]], record: Mapping[str, Any]) -> bool:
    s1, s2 = normalize(record["station_1"]), normalize(record["station_2"])
    return bool(s1) and route[0][1] == s1 and route[-1][2] == s2
