"""R = W_difficulty * (R_format + R_correct + alpha * R_detail), in two modes.

``mode="paper"`` is the released reward (see ``mapkit.rewards.paper``; R_format = 0);
``mode="default"`` is the same design with the released quirks fixed (see the package
docstring for the list). ``check_record`` validates a record up front; ``score`` and
``breakdown`` call it too, so a bad record fails loudly on its first use, while no
completion string can make them raise.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mapkit.errors import RewardError
from mapkit.rewards import grounding, paper
from mapkit.rewards.lines import LineIndex, index_for
from mapkit.rewards.names import normalize
from mapkit.rewards.parse import KINDS, admissible, as_text, find_box, literal_names, parse_route, phrase_answers, stops_list
from mapkit.vocab import ALL_TYPES as TYPES
from mapkit.vocab import REWARD_CITY_WEIGHTS as CITY_WEIGHT
from mapkit.vocab import REWARD_MODES as MODES
from mapkit.vocab import WEIGHTINGS

REQUIRED = ("type", "answer", "station_1", "station_2", "difficulty_city", "question_transfer_count")
ROUTE_FORMS = ("short", "long_num", "long_via")

ALPHA = 0.5  # weight of the detail reward
CORRECT = 10.0  # R_correct of a right answer
FORMAT = 1.0  # default mode: R_format of a well-formed, admissible answer (the paper has none)
DETAIL_CAP = 10.0  # planning and Counting1 detail are capped at 10 (alpha * 10 < CORRECT)
DETAIL_FLOOR = -10.0  # default mode only: the released planning detail has no floor
TRANSFER_BONUS = 0.5  # planning questions with at least one transfer

_STATION_FIELDS = {  # which of station_1 / station_2 a type needs as a non-empty string
    "TorF1": ("station_1", "station_2"), "TorF2": ("station_1",), "Counting1": ("station_1", "station_2"),
    "Counting2": ("station_1",), "Counting3": (), "planning": ("station_1", "station_2"),
    "Grounding1": (), "Grounding2": (), "Grounding3": (),  # their targets are checked by rewards.grounding
}
_ANSWERS = {"TorF1": range(2), "TorF2": range(2), "Counting1": range(4)}


# --------------------------------------------------------------------------- records

def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_record(record: Mapping[str, Any]) -> None:
    """Raise RewardError naming the record and the field when ``record`` cannot be scored.

    >>> check_record({"id": "q1", "type": "TorF1", "answer": 1})
    Traceback (most recent call last):
    ...
    mapkit.errors.RewardError: record q1: missing field(s) station_1, station_2, difficulty_city, question_transfer_count (a reward record needs ...)
    """
    if not isinstance(record, Mapping):
        raise RewardError(f"a reward record must be a mapping of columns, not {type(record).__name__}")
    rid = record.get("id", "<no id>")
    missing = [f for f in REQUIRED if f not in record]
    if missing:
        raise RewardError(f"record {rid}: missing field(s) {', '.join(missing)} (a reward record needs {', '.join(REQUIRED)})")
    kind = record["type"]
    if kind not in TYPES:
        raise RewardError(f"record {rid}: unknown type {kind!r}; expected one of {', '.join(TYPES)}")
    if record["difficulty_city"] not in CITY_WEIGHT:
        raise RewardError(f"record {rid}: difficulty_city {record['difficulty_city']!r} is not easy, middle or hard")
    answer = _int(record["answer"])
    if answer is None:
        raise RewardError(f"record {rid}: answer {record['answer']!r} is not an integer")
    if kind in _ANSWERS and answer not in _ANSWERS[kind]:
        raise RewardError(f"record {rid}: answer {answer} is out of range for {kind} "
                          f"({'1 = yes, 0 = no' if kind.startswith('TorF') else 'option index 0-3'})")
    if kind in ("Counting2", "Counting3") and answer < 0:
        raise RewardError(f"record {rid}: a count cannot be negative (answer {answer})")
    for name in _STATION_FIELDS[kind]:
        if not isinstance(record[name], str) or not record[name].strip():
            raise RewardError(f"record {rid}: {kind} needs {name} as a station name, got {record[name]!r}")
    if kind == "planning":
        transfers = _int(record["question_transfer_count"])
        if transfers is None or transfers < 0:
            raise RewardError(f"record {rid}: question_transfer_count {record['question_transfer_count']!r} "
                              "is not a non-negative integer")
        _check_routes(record, rid)
    if kind == "Counting1" and record.get("line") is not None and not isinstance(record["line"], str):
        raise RewardError(f"record {rid}: line {record['line']!r} is not a line name")
    if kind in grounding.GROUNDING_TYPES:
        grounding.check(record)


def check_records(records: Iterable[Mapping[str, Any]], *, limit: int = 20) -> int:
    """Validate every record before training; raise one RewardError listing the
    problems (the first ``limit`` of them) or return how many records were checked."""
    problems, count = [], 0
    for count, record in enumerate(records, start=1):  # noqa: B007 - count is returned after the loop
        try:
            check_record(record)
        except RewardError as e:
            problems.append(str(e))
    if problems:
        shown = "\n".join(problems[:limit])
        more = f"\n... and {len(problems) - limit} more" if len(problems) > limit else ""
        raise RewardError(f"{len(problems)} of {count} records cannot be scored:\n{shown}{more}")
    return count


def _check_routes(record: Mapping[str, Any], rid: Any) -> None:
    routes = record.get("reference_routes")
    if routes is None:
        return  # only the long-form via credit uses them; without them it is 0
    try:
        for route in routes:
            for section in route:
                for key in ("route_name", "departure_stop", "arrival_stop", "via_stops", "num_via_stops"):
                    section[key]
    except (TypeError, KeyError) as e:
        raise RewardError(f"record {rid}: reference_routes must be a list of routes, each a list of sections with "
                          f"route_name, departure_stop, arrival_stop, via_stops, num_via_stops ({e!r})") from None
    form = record.get("route_form")
    if form is not None and form not in ROUTE_FORMS:
        raise RewardError(f"record {rid}: route_form {form!r} is not one of {', '.join(ROUTE_FORMS)}")


def route_form(record: Mapping[str, Any]) -> str:
    """short, long_num (Number of Via Stops) or long_via (Via Stops) for a planning record.

    From the record, never from the completion (adding via lines to a short answer must
    not earn via credit): an explicit ``route_form`` column, else the ``template_id``
    (planning_short / planning_long_num / planning_long_via), else the question text
    (ReasonMap tells its long forms apart by the "Number of Via Stops" / "Via Stops"
    instruction), else short.
    """
    form = record.get("route_form")
    if form in ROUTE_FORMS:
        return form
    template = str(record.get("template_id") or "").lower()
    if "long_num" in template or "num_via" in template:
        return "long_num"
    if "long_via" in template or "via_list" in template:
        return "long_via"
    if "short" in template:
        return "short"
    question = str(record.get("question") or "")
    if "Number of Via Stops" in question:
        return "long_num"
    if "Via Stops" in question:
        return "long_via"
    return "short"


# --------------------------------------------------------------------------- result

@dataclass(frozen=True)
class Breakdown:
    """The parts of one reward, for logging. ``reward == weight * (format + correct + alpha * detail)``."""

    reward: float
    correct: float  # R_correct: 10 or 0
    detail: float  # R_detail before alpha (planning; Counting1 in default mode)
    format: float  # R_format (default mode only)
    weight: float  # W_difficulty
    parsed: Any  # the answer as read: a string for TorF/Counting, a list of section dicts for planning
    valid: bool  # default: an admissible answer / a fully parsed route was read; paper: some answer was read
    reason: str = ""  # why nothing or only part was earned
    iou: float | None = None  # Grounding1 box answers: IoU with the marker box (0 when unreadable)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


def difficulty_weight(record: Mapping[str, Any], weighting: str = "difficulty_aware") -> float:
    """W_difficulty: map easy 1.0 / middle 1.2 / hard 1.5, +0.5 for planning with transfers."""
    if weighting == "baseline":
        return 1.0
    weight = CITY_WEIGHT[record["difficulty_city"]]
    if record["type"] == "planning" and _int(record["question_transfer_count"]) > 0:
        weight = weight + TRANSFER_BONUS
    return weight


def _finish(fmt: float, correct: float, detail: float, weight: float, **rest: Any) -> Breakdown:
    total = 0.0
    total += fmt
    total += correct
    total += ALPHA * detail
    total *= weight  # same operation order as the released code, so paper mode is bit-exact
    if not math.isfinite(total):  # cannot happen with the bounded parts; kept as a guard
        total = 0.0
    return Breakdown(total, correct, detail, fmt, weight, **rest)


# --------------------------------------------------------------------------- entry points

def breakdown(completion: Any, record: Mapping[str, Any], lines: Mapping[str, Sequence[str]] | None = None, *,
              mode: str = "default", weighting: str = "difficulty_aware", detail: bool = True) -> Breakdown:
    """Score one completion and return the parts. ``detail=False`` turns R_detail off (ablation)."""
    if mode not in MODES:
        raise RewardError(f"unknown reward mode {mode!r}; use one of {', '.join(MODES)}")
    if weighting not in WEIGHTINGS:
        raise RewardError(f"unknown weighting {weighting!r}; use one of {', '.join(WEIGHTINGS)}")
    check_record(record)
    kind = record["type"]
    # planning always reads the map; Counting1 only for its default-mode stop list
    needs_lines = kind == "planning" or (kind == "Counting1" and mode == "default" and detail)
    if needs_lines and lines is None:
        raise RewardError(f"record {record.get('id', '<no id>')}: {kind} needs the city's lines (load_lines(annotation))")
    text = as_text(completion)
    weight = difficulty_weight(record, weighting)
    if kind in grounding.GROUNDING_TYPES:
        g = grounding.grade(text, record)
        return _finish(g["format"] if mode == "default" else 0.0, g["correct"], g["detail"] if detail else 0.0, weight,
                       parsed=g["parsed"], valid=g["parsed"] is not None, reason=g["reason"], iou=g["iou"])
    index = index_for(lines) if needs_lines else None
    if mode == "paper":
        if kind == "planning":
            return _paper_planning(text, record, index, weight, detail)
        return _paper_choice(text, record, weight)
    if kind == "planning":
        return _default_planning(text, record, index, weight, detail)
    return _default_choice(text, record, index, weight, detail)


def score(completion: Any, record: Mapping[str, Any], lines: Mapping[str, Sequence[str]] | None = None, *,
          mode: str = "default", weighting: str = "difficulty_aware", detail: bool = True) -> float:
    """The RewardMap reward of one completion for one record.

    >>> record = {"type": "TorF1", "answer": 1, "station_1": "A", "station_2": "B",
    ...           "difficulty_city": "middle", "question_transfer_count": 0}
    >>> score("They share the Red Line. \\\\boxed{yes}", record, mode="paper")
    12.0
    >>> score("They share the Red Line. \\\\boxed{yes}", record)  # + R_format
    13.2
    """
    return breakdown(completion, record, lines, mode=mode, weighting=weighting, detail=detail).reward


# --------------------------------------------------------------------------- paper mode

def _paper_choice(text: str, record: Mapping[str, Any], weight: float) -> Breakdown:
    kind = record["type"]
    parsed = paper.paper_answer(text)
    family = "TorF" if kind.startswith("TorF") else kind if kind == "Counting1" else "Counting"
    right = paper.paper_choice_correct(family, parsed, _int(record["answer"]))
    # Counting1's detail reward exists in the released code but is never applied.
    return _finish(0.0, CORRECT if right else 0.0, 0.0, weight, parsed=parsed, valid=bool(parsed),
                   reason="" if right else "wrong or unreadable answer")


def _paper_planning(text: str, record: Mapping[str, Any], index: LineIndex, weight: float, use_detail: bool) -> Breakdown:
    sections = paper.paper_sections(text)
    sets = index.paper_sets
    s1, s2 = record["station_1"], record["station_2"]
    right = paper.paper_route_correct(sections, sets, s1, s2)
    detail = paper.paper_planning_detail(sections, sets, s1, s2, _int(record["question_transfer_count"])) if use_detail else 0.0
    parsed = [{"route_name": s.route, "departure_stop": s.departure, "arrival_stop": s.arrival} for s in sections]
    return _finish(0.0, CORRECT if right else 0.0, detail, weight, parsed=parsed, valid=bool(sections),
                   reason="" if right else "route not valid" if sections else "no route sections")


# --------------------------------------------------------------------------- default mode

def names_as_text(record: Mapping[str, Any], index: LineIndex | None) -> tuple[str, ...]:
    """Names the box search must read as plain text: the record's stations and line, and
    with the map every line and station name that holds box syntax."""
    own = literal_names([record.get("station_1"), record.get("station_2"), record.get("line")])
    if index is None or not index.literal_names:
        return own
    return literal_names([*own, *index.literal_names])


def _choice_answer(text: str, kind: str, names: tuple[str, ...] = ()) -> tuple[str | None, bool, str]:
    """(admissible answer or None, well-formed for R_format, reason)."""
    boxes = find_box(text, names)
    if boxes.count > 1:
        return None, False, f"{boxes.count} boxed answers (a hedge earns nothing)"
    if boxes.count == 1:
        if boxes.content is None:
            return None, False, "unbalanced braces in \\boxed{}"
        value = admissible(boxes.content, kind)
        return value, value is not None, "" if value else f"boxed answer is not one {kind} answer"
    # No box: the "the answer is X" phrases may still be right, without format credit,
    # but only if every such phrase gives the same admissible answer.
    answers = phrase_answers(text, kind)
    if not answers:
        return None, False, "no \\boxed{} answer"
    if None in answers or len(set(answers)) > 1:
        return None, False, "answer phrases disagree or are not admissible"
    return answers[-1], False, "answer not boxed (no format credit)"


def _truth_text(record: Mapping[str, Any]) -> str:
    kind, answer = record["type"], _int(record["answer"])
    if kind.startswith("TorF"):
        return "yes" if answer == 1 else "no"
    if kind == "Counting1":
        return "ABCD"[answer]
    return str(answer)


def _default_choice(text: str, record: Mapping[str, Any], index: LineIndex | None, weight: float, use_detail: bool) -> Breakdown:
    kind = record["type"]
    value, well_formed, reason = _choice_answer(text, KINDS[kind], names_as_text(record, index))
    right = value is not None and value == _truth_text(record)
    detail = 0.0
    if kind == "Counting1" and use_detail and well_formed:
        # The stop list only pays next to a well-formed answer: a hedge earns nothing.
        detail = _counting1_detail(stops_list(text), record, index)
    return _finish(FORMAT if well_formed else 0.0, CORRECT if right else 0.0, detail, weight,
                   parsed=value, valid=value is not None, reason=reason if not right else "")


def _between(record: Mapping[str, Any], index: LineIndex) -> frozenset[str]:
    """Normalised stations strictly between station_1 and station_2 on the record's line
    (or, without one, on the first line holding both, as the released helper does)."""
    s1, s2 = normalize(record["station_1"]), normalize(record["station_2"])
    name = index.resolve(record.get("line"))
    candidates = [name] if name else [n for n, keys in index.norm_sets.items() if s1 in keys and s2 in keys][:1]
    for name in candidates:
        keys = index.norm_lists[name]
        if s1 in keys and s2 in keys:
            i, j = sorted((keys.index(s1), keys.index(s2)))
            return frozenset(keys[i + 1:j]) - {""}
    return frozenset()


def _counting1_detail(stops: list[str], record: Mapping[str, Any], index: LineIndex) -> float:
    if not stops:
        return 0.0
    truth = _between(record, index)
    seen: set[str] = set()
    total = 0.0
    for stop in stops:
        key = normalize(stop)
        if key in truth and key not in seen:
            total += 0.5
            seen.add(key)
        else:
            total -= 0.5  # wrong or repeated
    return max(DETAIL_FLOOR, min(total, DETAIL_CAP))


def planning_sections(text: str, names: tuple[str, ...] = ()) -> tuple[list[Any] | None, str]:
    """Default mode's reading of a route answer: the sections of the one ``\\boxed{}``,
    else of the whole completion; (None, reason) for a hedge (several boxes) or an
    unbalanced box. ``names`` (``names_as_text``) are read as text, never as braces."""
    boxes = find_box(text, names)
    if boxes.count > 1:
        return None, f"{boxes.count} boxed answers"
    if boxes.count == 1 and boxes.content is None:
        return None, "unbalanced braces in \\boxed{}"
    return parse_route(boxes.content if boxes.count == 1 else text), ""


def _default_planning(text: str, record: Mapping[str, Any], index: LineIndex, weight: float, use_detail: bool) -> Breakdown:
    sections, why = planning_sections(text, names_as_text(record, index))
    if sections is None:
        return _finish(0.0, 0.0, 0.0, weight, parsed=None, valid=False, reason=why)
    parsed = [s.as_dict() for s in sections]
    broken = [i + 1 for i, s in enumerate(sections) if not s.complete]
    if not sections or broken:
        why = "no route sections" if not sections else f"section(s) {broken} incomplete or repeat a label"
        return _finish(0.0, 0.0, 0.0, weight, parsed=parsed, valid=False, reason=why)
    form = route_form(record)
    # a long-form question wants its via line in every section for the format credit
    missing_via = {"long_num": lambda s: s.via_count is None, "long_via": lambda s: s.via_stops is None}.get(form)
    well_formed = missing_via is None or not any(missing_via(s) for s in sections)
    route = [(index.resolve(s.route), normalize(s.departure), normalize(s.arrival)) for s in sections]
    s1, s2 = normalize(record["station_1"]), normalize(record["station_2"])
    endpoints = bool(s1) and route[0][1] == s1 and route[-1][2] == s2
    right = endpoints and _valid_route(route, index)
    detail = 0.0
    if use_detail and endpoints:
        transfers = _int(record["question_transfer_count"])
        detail = _planning_detail(route, index, s1, s2, transfers)
        if form != "short":
            # one cap for both parts: a made-up route with the right endpoints must stay
            # far below a valid one (alpha * 10 < CORRECT)
            detail = min(DETAIL_CAP, detail + _via_credit(sections, record, index, form))
    reason = "" if right else "endpoints wrong" if not endpoints else "route not valid on the map"
    if right and not well_formed:
        reason = f"{form} answer without its via lines (no format credit)"
    return _finish(FORMAT if well_formed else 0.0, CORRECT if right else 0.0, detail, weight,
                   parsed=parsed, valid=well_formed, reason=reason)


Route = Sequence[tuple[str | None, str, str]]  # (map line or None, departure key, arrival key)


def _valid_route(route: Route, index: LineIndex) -> bool:
    for i, (line, departure, arrival) in enumerate(route):
        keys = index.norm_sets.get(line) if line else None
        if keys is None or departure not in keys or arrival not in keys:
            return False
        if i + 1 < len(route) and arrival != route[i + 1][1]:
            return False
    return True


def _planning_detail(route: Route, index: LineIndex, s1: str, s2: str, transfers: int) -> float:
    """The released planning detail with the off-by-one fixed and a floor (endpoints are right)."""
    total = 2.0
    for k, (line, departure, arrival) in enumerate(route, start=1):
        if k > transfers + 1:  # sections beyond what the question needs
            total -= 5
        keys = index.norm_sets.get(line) if line else None
        if keys is None:
            continue
        if transfers == 0:
            total += 4 if (s1 in keys and s2 in keys) else 0
        else:
            total += 3
        if departure in keys and arrival in keys and k < len(route) and k <= transfers and arrival == route[k][1]:
            total += 1
    return max(DETAIL_FLOOR, min(total, DETAIL_CAP))


def _via_credit(sections: Sequence[Any], record: Mapping[str, Any], index: LineIndex, form: str) -> float:
    """ReasonMap's map-score credit for the long forms, best over the reference routes
    (see ``via_credit``)."""
    routes = record.get("reference_routes")  # may be a numpy array (records read with pandas)
    return max((via_credit(sections, reference, index, form) for reference in (() if routes is None else routes)), default=0.0)


def via_credit(sections: Sequence[Any], reference: Sequence[Mapping[str, Any]], index: LineIndex, form: str) -> float:
    """ReasonMap's map-score via credit of an answer against one reference route, in [0, 10].

    long_num: per section (paired in order with the reference's), 4 if the via count is
    exact, else max(0, 4 - 4 * |error| / reference count); capped at 10.
    long_via: (10 * IoU + min(10, matched)) / 2, where matched counts the distinct
    listed stops found in the paired reference section and IoU is taken over all
    sections. Unlike ReasonMap, a section only earns when it names the reference
    section's line, and repeated stops count once. short: 0.
    """
    if form not in ("long_num", "long_via"):
        return 0.0
    count_credit, matched, union, inter, empty_agree = 0.0, 0, set(), set(), False
    for mine, ref in zip(sections, reference):
        if index.resolve(mine.route) != index.resolve(ref["route_name"]) or index.resolve(mine.route) is None:
            continue
        if form == "long_num":
            want, got = _int(ref["num_via_stops"]) or 0, mine.via_count
            if got is None:
                continue
            error = abs(got - want)
            count_credit += 4.0 if error == 0 else 0.0 if want == 0 else max(0.0, 4.0 - 4.0 * error / want)
        else:
            listed = {normalize(s) for s in mine.via_stops or ()} - {""}
            truth = {normalize(s) for s in ref["via_stops"]} - {""}
            matched += len(listed & truth)
            union |= listed | truth
            inter |= listed & truth
            empty_agree |= not listed and not truth  # "Via Stops:" left empty, rightly
    if form == "long_num":
        return min(10.0, count_credit)
    iou = len(inter) / len(union) if union else 1.0 if empty_agree else 0.0
    return (10.0 * iou + min(10, matched)) / 2
