"""The released ReasonMap planning evaluation (``main.py``), reproduced result for result.

``score_route(answer, record, lines)`` gives what the released script writes for one
question: ``acc`` (0/1), the best "map api score" (short /20, long /40) and the saved
via scores. ``answer`` is the final answer (see ``mapkit.evaluation.answer``); the record
says the form (short / long) and, through its question text, which long form.

Quirks of the released code, all kept (each pinned by a hand-worked test in
tests/test_scoring_reasonmap.py):

Q1  Names go through ReasonMap's ``clean_string`` (``reasonmap_clean``): "Metro",
    "metro", ",", "*" and newlines deleted (inside words too: "Metropolitan" ->
    "politan"), "(...)" groups dropped, spaces and hyphens dropped, lower-cased. It
    keeps "Station" and "站": "Shibuya" and "Shibuya Station" are different stations.
Q2  Sections are cut at every "--" (a "---" rule splits too); a section counts only
    with all three labels "Route Name:", "Departure Stop:", "Arrival Stop:" in exact
    case. "Route Name: " and "Departure Stop: " (and, long form, "Arrival Stop: ")
    need one space after the colon and a newline after the value, else the value is
    "Wrong".
Q3  Short form: the arrival is everything after the section's last "Arrival Stop:",
    cleaned, so a remark after the last section becomes part of the last station
    ("...Arrival Stop: B\\nHope this helps" never matches B).
Q4  Line names must be keys of the city's station file exactly (case-sensitive);
    names containing 八通 read as "Line 1", 大兴 as "Line 4" (Beijing). Stops only
    need to lie on the line (any order, departure may equal arrival).
Q5  Map score, China: the reference line "地铁5号线(...)" becomes "Line 5" (first
    number, leading zeros dropped), else "(...)" and 地铁 are removed; 站 is appended
    to reference stops that lack it, so an answer without 站 never matches.
Q6  Map score outside China: the reference line name is never used. The ANSWER's line
    name is rewritten ("Metro X Line", "Metro X", "Linea X" -> "Line X", else "Line "
    + its first one or two ASCII letters/digits, "B1" -> "B" in Rome) and compared with
    itself unrewritten, so "Line 2" gets no credit ("Line Li" vs "Line 2"), while a
    name with no ASCII letter or digit (e.g. "地铁2号线") always does (+2). The
    released code lists more rewrites (Auckland, Budapest, Dubai, KL, "X Line",
    "X Train") after the "first two letters" rule; they can never be reached.
    " Station" is appended to reference stops that lack it.
Q7  The reference ARRIVAL is replaced by the reference DEPARTURE whenever the
    departure already ends in the suffix (short form everywhere; long form outside
    China). China long form uses the arrival.
Q8  Sections are paired with the reference's in order (zip: extra sections on
    either side are ignored); endpoints right: +1; per pair +2 line, +1 departure,
    +1 arrival; capped at 10 (short) / 20 (long), then +10 / +20 when acc = 1. The best
    reference wins; on a tie the later reference's parts are saved.
Q9  "Number of Via Stops" (long form whose question contains "Number of Via Stops:"):
    the first run of digits after the section's last "Number of Via Stops: " (or
    anywhere in the section when the label is missing: "Line 2" reads as 2), 0 when
    none; +4 when equal, else max(0, 4 - 4 * |n - ref| / ref) (0 when ref = 0); cap 10.
Q10 "Via Stops": the text after the section's last "Via Stops: " split on "," WITHOUT
    trimming, and only when it contains 站 (so never outside China); a stop counts
    when it equals a reference via stop (站 appended) character for character, so in
    "a站, b站" only "a站" can match; repeats count again; cap 10. IoU over all
    sections whose line-name check passed (Q5/Q6), 0 when both lists are empty (a
    rightly empty list earns nothing). Score (10 * IoU + matched) / 2.
Q11 Outside China the released script never defines the reference via list (its
    value leaks from an earlier Chinese question, or the script stops); here it is
    empty, which gives the same 0 via credit whenever the answer has no 站.
Q12 No route parsed: every score 0.

One liberty: the country test ("china") ignores case, because mapkit's records say
"China" where the released data says "china".
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mapkit.rewards.names import drop_parenthesised
from mapkit.rewards.paper import route_alias  # the same Beijing aliases in the released evaluation
from mapkit.rewards.score import route_form

SHORT, LONG = "short", "long"
_LABELS = ("Route Name:", "Departure Stop:", "Arrival Stop:")
_SPACE_HYPHEN = re.compile(r"[\s\-]+")
_DIGITS = re.compile(r"\d+")
_PAREN_LAZY = re.compile(r"\(.*?\)")
# Q6 rewrites, tried in this order; IGNORECASE as released (so [A-Z] also takes a few
# non-ASCII letters that case-fold to ASCII, such as the Kelvin sign).
_METRO_LINE = re.compile(r"Metro\s+([A-Z0-9]{1,2})[-\s]?Line", re.IGNORECASE)
_METRO = re.compile(r"Metro\s+([A-Z0-9]{1,2})", re.IGNORECASE)
_LINEA = re.compile(r"Linea\s+([A-Z0-9]{1,2})", re.IGNORECASE)
_FIRST_TWO = re.compile(r"([A-Z0-9]{1,2})", re.IGNORECASE)


def reasonmap_clean(s: str) -> str:
    """ReasonMap's ``clean_string`` (Q1): same output, linear time.

    >>> reasonmap_clean("Metropolitan Ave (Transfer Station)")
    'politanave'
    """
    for old in ("Metro", "metro", ",", "*", "\n"):
        s = s.replace(old, "")
    return _SPACE_HYPHEN.sub("", drop_parenthesised(s)).lower()


@dataclass(frozen=True)
class Section:
    route: str  # stripped, or "Wrong"
    departure: str  # cleaned once, or "Wrong"
    arrival: str  # cleaned once, or "Wrong"
    via: str | None  # long form: the raw text after the via label (Q9 / Q10)


def _to_newline(section: str, label: str) -> str | None:
    # re.search(label + "(.*?)\n") of the released code: first label, up to the next newline
    start = section.find(label)
    if start == -1:
        return None
    end = section.find("\n", start + len(label))
    return None if end == -1 else section[start + len(label):end]


def parse_sections(answer: str, form: str, num_form: bool = False) -> list[Section]:
    """The route sections the released script reads from a final answer (Q2, Q3)."""
    out = []
    for chunk in answer.split("--"):
        if not chunk.strip() or any(label not in chunk for label in _LABELS):
            continue
        route = _to_newline(chunk, "Route Name: ")
        departure = _to_newline(chunk, "Departure Stop: ")
        via = None
        if form == SHORT:
            arrival: str | None = chunk.rpartition("Arrival Stop:")[2].strip()
        else:
            arrival = _to_newline(chunk, "Arrival Stop: ")
            via = chunk.rpartition("Number of Via Stops: " if num_form else "Via Stops: ")[2].strip()
        out.append(Section(route.strip() if route is not None else "Wrong",
                           reasonmap_clean(departure) if departure is not None else "Wrong",
                           reasonmap_clean(arrival) if arrival is not None else "Wrong", via))
    return out


def route_acc(sections: Sequence[Section], lines: Mapping[str, Sequence[str]], station_1: str, station_2: str) -> int:
    """1 when the released validity check passes (Q4), else 0."""
    if not sections or not _endpoints(sections, station_1, station_2):
        return 0
    for i, section in enumerate(sections):
        stations = lines.get(route_alias(section.route))
        if stations is None:
            return 0
        cleaned = {reasonmap_clean(s) for s in stations}
        departure, arrival = reasonmap_clean(section.departure), reasonmap_clean(section.arrival)
        if departure not in cleaned or arrival not in cleaned:
            return 0
        if i < len(sections) - 1 and arrival != reasonmap_clean(sections[i + 1].departure):
            return 0
    return 1


def _endpoints(sections: Sequence[Section], station_1: str, station_2: str) -> bool:
    return (reasonmap_clean(sections[0].departure) == reasonmap_clean(station_1)
            and reasonmap_clean(sections[-1].arrival) == reasonmap_clean(station_2))


def china_line(name: str) -> str:
    """Q5: a Chinese reference line name as the released script rewrites it."""
    number = _DIGITS.search(name)
    if number:
        return f"Line {int(number.group())}"
    return _PAREN_LAZY.sub("", name).replace("地铁", "")


def rewrite_answer_line(name: str, city: str) -> str:
    """Q6: the answer's line name as rewritten outside China (then compared with itself)."""
    for pattern in (_METRO_LINE, _METRO, _LINEA, _FIRST_TWO):
        hit = pattern.search(name)
        if hit:
            code = hit.group(1)
            if pattern is _FIRST_TWO and code == "B1" and city == "rome":
                code = "B"
            return f"Line {code}"
    return name


def _with_suffix(stop: str, suffix: str, test: str) -> str:
    return stop if stop.endswith(test) else stop + suffix


@dataclass(frozen=True)
class RouteScore:
    acc: int
    map_score: float  # best over the reference routes (0..20 short, 0..40 long)
    map_score_max: float
    form: str  # short | long_num | long_via
    departure_arrival_score: int
    route_name_score: int
    stops_score: int
    num_via_stop_score: float  # long_num only (saved with the best reference)
    via_stops_score: float  # long_via only
    parsed: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _references(record: Mapping[str, Any]) -> list[Sequence[Mapping[str, Any]]]:
    routes = record.get("reference_routes")
    if routes is None:
        return []
    if isinstance(routes, Mapping):  # the released layout: {"route_0": [...], ...}
        return [r for r in routes.values() if r is not None]
    return [r for r in routes if r is not None]


def score_route(answer: str, record: Mapping[str, Any], lines: Mapping[str, Sequence[str]]) -> RouteScore:
    """What the released script records for one planning question (see the quirks above)."""
    detailed = route_form(record)
    form = SHORT if detailed == "short" else LONG
    num_form = form == LONG and "Number of Via Stops:" in str(record.get("question") or "")
    detailed = detailed if form == SHORT else ("long_num" if num_form else "long_via")
    cap, bonus = (10, 10) if form == SHORT else (20, 20)
    sections = parse_sections(answer, form, num_form)
    parsed = [asdict(s) for s in sections]
    if not sections:
        return RouteScore(0, 0, cap + bonus, detailed, 0, 0, 0, 0, 0, parsed)
    s1, s2 = str(record["station_1"]), str(record["station_2"])
    acc = route_acc(sections, lines, s1, s2)
    endpoints = _endpoints(sections, s1, s2)
    # the released data writes "china"; mapkit records "China": the same country
    china = str(record.get("country") or "").strip().lower() == "china"
    city = str(record.get("city") or "")
    best: tuple | None = None
    best_score: float = 0
    for reference in _references(record):
        score: float = 0
        parts = [0, 0, 0]  # departure/arrival, route name, stops
        num_score: float = 0
        via_score: float = 0
        if endpoints:
            score += 1
            parts[0] = 1
            via_matched = 0
            union: set[str] = set()
            common: set[str] = set()
            for ans, ref in zip(sections, reference, strict=False):  # Q8: extra sections on either side are ignored
                ref_dep, ref_arr = str(ref["departure_stop"]), str(ref["arrival_stop"])
                if china:
                    ref_line = china_line(str(ref["route_name"]))
                    dep = _with_suffix(ref_dep, "站", "站")
                    # Q7: short form takes the departure in place of the arrival
                    arr = _with_suffix(ref_arr, "站", "站") if form == LONG else (ref_dep if ref_dep.endswith("站") else ref_arr + "站")
                    ref_via = [_with_suffix(str(v), "站", "站") for v in ref["via_stops"]]
                else:
                    ref_line = rewrite_answer_line(ans.route, city)  # Q6: from the answer, not the reference
                    dep = _with_suffix(ref_dep, " Station", "Station")
                    arr = ref_dep if ref_dep.endswith("Station") else ref_arr + " Station"  # Q7
                    ref_via = []  # Q11
                same_line = reasonmap_clean(ref_line) == reasonmap_clean(ans.route)
                if same_line:
                    score += 2
                    parts[1] += 2
                if reasonmap_clean(dep) == reasonmap_clean(ans.departure):
                    score += 1
                    parts[2] += 1
                if reasonmap_clean(arr) == reasonmap_clean(ans.arrival):
                    score += 1
                    parts[2] += 1
                if form == LONG and num_form:
                    digits = _DIGITS.search(ans.via or "")
                    given = int(digits.group()) if digits else 0
                    truth = int(ref["num_via_stops"])
                    error = abs(given - truth)
                    if error == 0:
                        num_score += 4
                    elif truth != 0:
                        num_score += max(0, 4 - (error / truth) * 4)
                elif form == LONG:
                    listed = (ans.via or "").split(",") if "站" in (ans.via or "") else []
                    via_matched += sum(1 for v in listed if v in ref_via)
                    if same_line:
                        union.update(ref_via)
                        union.update(listed)
                        common.update(set(ref_via) & set(listed))
            if form == LONG:
                via_matched = min(10, via_matched)
                num_score = min(10, num_score)
                iou = len(common) / len(union) if union else 0
                score += (iou * 10 + via_matched) / 2 + num_score
                via_score = (iou * 10 + via_matched) / 2
        score = min(cap, score)
        if acc == 1:
            score += bonus
        if score >= best_score:
            best_score = score
            best = (parts, num_score, via_score)
    parts, num_score, via_score = best if best is not None else ([0, 0, 0], 0, 0)
    return RouteScore(acc, best_score, cap + bonus, detailed, parts[0], parts[1], parts[2], num_score, via_score, parsed)
