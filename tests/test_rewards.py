"""RewardMap reward, table-driven: every expected value below is worked out by hand.

R = W * (R_format + R_correct + 0.5 * R_detail). Paper mode has no R_format; default
mode gives R_format = 1 to a well-formed, admissible answer. The fixture city (see
tests/fixtures/mini.json):

    Red Line    Alpha, Bravo, Central, Delta, Echo, India
    Blue Line   Foxtrot, Central, Golf, Hotel
    Orange Loop Central, Foxtrot, Kilo, Lima
    Green Line  Echo, Juliet, Hotel
"""
from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest

from mapkit.errors import MapkitError, RewardError
from mapkit.rewards import (
    Breakdown,
    Lines,
    breakdown,
    check_record,
    check_records,
    load_lines,
    normalize,
    paper_clean,
    reward_function,
    reward_functions,
    route_form,
    score,
)


@pytest.fixture(scope="module")
def mini(request):
    from conftest import FIXTURES

    return load_lines(FIXTURES / "mini.json")


def rec(kind: str, answer: int, **extra) -> dict:
    base = {"id": "q1", "type": kind, "answer": answer, "station_1": "Alpha", "station_2": "Delta",
            "difficulty_city": "easy", "question_transfer_count": 0, "line": None}
    base.update(extra)
    return base


def both(text, record, lines=None, **kw) -> tuple[float, float]:
    return (score(text, record, lines, mode="paper", **kw), score(text, record, lines, mode="default", **kw))


# ----------------------------------------------------------------------------- TorF

TORF_YES = [
    # completion, paper, default, why
    ("\\boxed{yes}", 10.0, 11.0, "plain box; default adds R_format"),
    ("Both lie on the Red Line.\n\\boxed{Yes}.", 10.0, 11.0, "case ignored; text after the box ignored"),
    ("\\boxed{no}", 0.0, 1.0, "wrong but well-formed: format credit only"),
    ("\\boxed{\\text{yes}}", 0.0, 11.0, "paper quirk 4: \\text removed, braces kept -> '{yes}'"),
    ("\\boxed{no} Wait. \\boxed{yes}", 10.0, 0.0, "paper quirk 2: last box wins; default: a hedge"),
    ("\\boxed{yes} or maybe \\boxed{no}", 0.0, 0.0, "last box 'no' / hedge"),
    ("\\boxed{yes/no}", 0.0, 0.0, "two options in one box"),
    ("\\boxed{yes or no}", 0.0, 0.0, "two options in one box"),
    ("\\boxed{y e s}", 10.0, 0.0, "paper quirk 4: spaces removed everywhere"),
    ("The answer is yes.", 10.0, 10.0, "phrase fallback; default: right but no box, no format"),
    ("the answer is yes. Hmm, the answer is no.", 0.0, 0.0, "paper: last phrase; default: phrases disagree"),
    ("the answer is yes or no", 0.0, 0.0, "hedge after the phrase"),
    ("\\BOXED{yes}", 10.0, 0.0, "paper quirk 3: case-sensitive box test, lower-cased extraction"),
    ("", 0.0, 0.0, "empty"),
    ("\\boxed{}", 0.0, 0.0, "empty box"),
    ("\\boxed{} \\boxed{yes}", 10.0, 11.0, "an empty box is ignored (paper: deleted)"),
    ("\\boxed{yes", 0.0, 0.0, "unbalanced"),
    ("\\boxed{$yes$}", 10.0, 11.0, "dollars dropped in both"),
]


@pytest.mark.parametrize("text, paper, default, why", TORF_YES, ids=[c[3] for c in TORF_YES])
def test_torf_yes_table(text, paper, default, why):
    assert both(text, rec("TorF1", 1)) == (paper, default)


def test_torf_no_and_torf2():
    record = rec("TorF2", 0, station_2=None, line="Red Line")
    assert both("\\boxed{no}", record) == (10.0, 11.0)
    assert both("\\boxed{yes}", record) == (0.0, 1.0)


@pytest.mark.parametrize("city, weighting, paper, default", [
    ("easy", "difficulty_aware", 10.0, 11.0),
    ("middle", "difficulty_aware", 10.0 * 1.2, 11.0 * 1.2),
    ("hard", "difficulty_aware", 15.0, 16.5),
    ("hard", "baseline", 10.0, 11.0),
])
def test_difficulty_weights(city, weighting, paper, default):
    record = rec("TorF1", 1, difficulty_city=city)
    assert both("\\boxed{YES}", record, weighting=weighting) == (paper, default)


# ----------------------------------------------------------------------------- Counting1

# Alpha .. Delta on the Red Line: Bravo and Central lie between; the answer is B (index 1).
COUNTING1 = [
    ("\\boxed{B}", 10.0, 11.0),
    ("\\boxed{b}", 10.0, 11.0),
    ("\\boxed{B.}", 10.0, 11.0),
    ("\\boxed{(B)}", 0.0, 11.0),  # paper quirk 5: "(b)" is not a letter
    ("\\boxed{Option B}", 0.0, 0.0),
    ("\\boxed{A or B}", 0.0, 0.0),
    ("\\boxed{ABCD}", 0.0, 0.0),
    ("\\boxed{A, B, C, D}", 0.0, 0.0),
    ("\\boxed{A}\\boxed{B}", 10.0, 0.0),  # paper: last box; default: hedge
    ("\\boxed{E}", 0.0, 0.0),
    # Counting1 detail: paper never applies it; default +0.5 per distinct right stop
    ("Stops: [Bravo, Central]\n\\boxed{B}", 10.0, 11.0 + 0.5 * 1.0),
    ("Stops: [Bravo, Bravo, Echo]\n\\boxed{B}", 10.0, 11.0 + 0.5 * (0.5 - 0.5 - 0.5)),
    ("Stops: [Bravo, Central]\n\\boxed{C}", 0.0, 1.0 + 0.5 * 1.0),  # wrong letter still earns the stops
    ("Stops: [Bravo, Central]\n\\boxed{B or C}", 0.0, 0.0),  # a hedge earns nothing, stops included
    ("Stops: [Bravo (Transfer Station), and Central.]\n\\boxed{B}", 10.0, 11.5),  # markers, "and", "."
    ("Stops: [Alpha, Delta]\n\\boxed{B}", 10.0, 11.0 + 0.5 * -1.0),  # endpoints are not intermediate
    ("stops : [ bravo , CENTRAL ] \\boxed{B}", 10.0, 11.5),
]


@pytest.mark.parametrize("text, paper, default", COUNTING1)
def test_counting1_table(text, paper, default, mini):
    assert both(text, rec("Counting1", 1, line="Red Line", options=[3, 2, 1, 4]), mini) == (paper, default)


def test_counting1_detail_is_direction_free_and_finds_the_line(mini):
    text = "Stops: [Bravo, Central]\n\\boxed{B}"
    assert score(text, rec("Counting1", 1, station_1="Delta", station_2="Alpha", line="Red Line"), mini) == 11.5
    # no `line` column: the first line holding both stations, as the released helper does
    assert score(text, rec("Counting1", 1, line=None), mini) == 11.5


def test_counting1_detail_is_capped_and_floored():
    lines = {"Long Line": [f"S{i}" for i in range(30)]}
    record = rec("Counting1", 2, station_1="S0", station_2="S29", line="Long Line")
    all_28 = "Stops: [" + ", ".join(f"S{i}" for i in range(1, 29)) + "]\n\\boxed{C}"
    assert score(all_28, record, lines) == 11.0 + 0.5 * 10.0  # 28 * 0.5 = 14, capped at 10
    wrong_40 = "Stops: [" + ", ".join(f"X{i}" for i in range(40)) + "]\n\\boxed{C}"
    assert score(wrong_40, record, lines) == 11.0 + 0.5 * -10.0  # -20, floored at -10
    assert score(all_28, record, lines, detail=False) == 11.0  # ablation switch


# ----------------------------------------------------------------------------- Counting2/3

COUNTING2 = [
    ("\\boxed{3}", 3, 10.0, 11.0),
    ("\\boxed{03}", 3, 10.0, 11.0),
    ("\\boxed{３}", 3, 10.0, 11.0),  # full-width digit: int() / NFKC
    ("\\boxed{3.}", 3, 10.0, 11.0),
    ("\\boxed{$3$}", 3, 10.0, 11.0),
    ("\\boxed{3 units}", 3, 10.0, 0.0),  # paper quirk 4: units dropped
    ("\\boxed{3\\%}", 3, 10.0, 0.0),
    ("\\boxed{x = 3}", 3, 10.0, 0.0),  # paper keeps what follows "="
    ("\\boxed{+3}", 3, 10.0, 0.0),  # int("+3"); default: digits only
    ("\\boxed{3_0}", 30, 10.0, 0.0),  # paper quirk 5: int("3_0") == 30
    ("\\boxed{3.0}", 3, 0.0, 0.0),
    ("\\boxed{-3}", 3, 0.0, 0.0),
    ("\\boxed{3 lines}", 3, 0.0, 0.0),
    ("\\boxed{3 or 4}", 3, 0.0, 0.0),
    ("\\boxed{4}\\boxed{3}", 3, 10.0, 0.0),
    ("\\boxed{4}", 3, 0.0, 1.0),
    ("The answer is 3. Because two lines cross there.", 3, 10.0, 10.0),
    ("I count 3 lines", 3, 0.0, 0.0),
]


@pytest.mark.parametrize("text, answer, paper, default", COUNTING2)
def test_counting2_table(text, answer, paper, default):
    assert both(text, rec("Counting2", answer, station_2=None)) == (paper, default)


def test_counting3_and_the_lone_dot_quirk():
    record = rec("Counting3", 4, station_1=None, station_2=None)
    assert both("\\boxed{4}", record) == (10.0, 11.0)
    # paper quirk 4: "." -> "0." -> "0" after the final rstrip: read as the integer 0
    assert breakdown("\\boxed{.}", record, mode="paper").parsed == "0"
    assert both("\\boxed{.}", rec("Counting3", 0, station_1=None, station_2=None)) == (10.0, 0.0)


def test_parsed_answers_are_reported():
    assert breakdown("\\boxed{\\text{Yes}}", rec("TorF1", 1), mode="paper").parsed == "{yes}"
    assert breakdown("\\boxed{\\text{Yes}}", rec("TorF1", 1)).parsed == "yes"
    assert breakdown("\\boxed{(b)}", rec("Counting1", 1), mode="default", detail=False).parsed == "B"
    hedge = breakdown("\\boxed{A} \\boxed{B}", rec("Counting1", 1), detail=False)
    assert hedge.parsed is None and not hedge.valid and "2 boxed answers" in hedge.reason


# ----------------------------------------------------------------------------- planning


def route(*sections: tuple[str, str, str], sep: str = "\n--\n", extra: str = "") -> str:
    return sep.join(f"Route Name: {r}\nDeparture Stop: {d}\nArrival Stop: {a}{extra}" for r, d, a in sections)


ZERO = route(("Red Line", "Alpha", "Delta"))  # Alpha -> Delta, no transfer
ONE = route(("Red Line", "Alpha", "Central"), ("Blue Line", "Central", "Golf"))  # Alpha -> Golf
TWO = route(("Orange Loop", "Kilo", "Central"), ("Red Line", "Central", "Echo"), ("Green Line", "Echo", "Juliet"))


def plan(s1="Alpha", s2="Delta", transfers=0, **extra):
    return rec("planning", -1, station_1=s1, station_2=s2, question_transfer_count=transfers, **extra)


PLANNING = [
    # paper detail: +2 endpoints, then per section -5 if index > transfers (the off-by-one),
    # +4/+3 for the line, +1 per chained transfer (index <= transfers); cap 10.
    # default detail: the same with -5 only if index > transfers + 1; floor -10.
    ("0 transfers", ZERO, plan(),
     10 + 0.5 * (2 - 5 + 4), 1 + 10 + 0.5 * (2 + 4)),
    ("0 transfers, middle map", ZERO, plan(difficulty_city="middle"),
     (10 + 0.5 * (2 - 5 + 4)) * 1.2, (1 + 10 + 0.5 * (2 + 4)) * 1.2),
    ("1 transfer", ONE, plan(s2="Golf", transfers=1),
     (10 + 0.5 * (2 + (3 + 1) + (-5 + 3))) * 1.5, (1 + 10 + 0.5 * (2 + (3 + 1) + 3)) * 1.5),
    ("2 transfers", TWO, plan(s1="Kilo", s2="Juliet", transfers=2),
     (10 + 0.5 * (2 + 4 + 4 + (-5 + 3))) * 1.5, (1 + 10 + 0.5 * 10) * 1.5),  # default 2+4+4+3 = 13 -> cap 10
    ("2 transfers, hard map", TWO, plan(s1="Kilo", s2="Juliet", transfers=2, difficulty_city="hard"),
     (10 + 0.5 * 8) * 2.0, (1 + 10 + 0.5 * 10) * 2.0),
    ("1 transfer, chain broken", route(("Red Line", "Alpha", "Central"), ("Blue Line", "Foxtrot", "Golf")),
     plan(s2="Golf", transfers=1), 0.5 * (2 + 3 + (-5 + 3)) * 1.5, (1 + 0.5 * (2 + 3 + 3)) * 1.5),
    ("1 transfer, one section too many",
     route(("Red Line", "Alpha", "Bravo"), ("Red Line", "Bravo", "Central"), ("Blue Line", "Central", "Golf")),
     plan(s2="Golf", transfers=1),
     (10 + 0.5 * (2 + (3 + 1) + (-5 + 3) + (-5 + 3))) * 1.5, (1 + 10 + 0.5 * (2 + (3 + 1) + 3 + (-5 + 3))) * 1.5),
    ("0 transfers, two sections", route(("Red Line", "Alpha", "Central"), ("Red Line", "Central", "Delta")), plan(),
     10 + 0.5 * (2 + (-5 + 4) + (-5 + 4)), 1 + 10 + 0.5 * (2 + 4 + (-5 + 4))),
    ("wrong line", route(("Blue Line", "Alpha", "Delta")), plan(),
     0.5 * (2 - 5), 1 + 0.5 * 2),  # Blue does not hold the endpoints: no +4; route not valid
    ("wrong departure", route(("Red Line", "Bravo", "Delta")), plan(), 0.0, 1.0),
    ("unknown line", route(("Purple Line", "Alpha", "Delta")), plan(), 0.5 * (2 - 5), 1 + 0.5 * 2),
    ("station suffix and case", route(("Red Line", "alpha station", "DELTA")), plan(),
     10 + 0.5 * 1, 1 + 10 + 0.5 * 6),
    # paper quirk 7: whatever follows the last section becomes part of its arrival
    ("remark after the route", ZERO + "\nThat is the fastest way.", plan(), 0.0, 14.0),
    ("route in a box", "\\boxed{" + ZERO + "}", plan(), 0.0, 14.0),
    ("labels in lower case", ZERO.lower().replace("red line", "Red Line").replace("alpha", "Alpha").replace("delta", "Delta"),
     plan(), 0.0, 14.0),  # paper: detail reads the section but its regexes need exact case -> "Wrong"
    ("no space after the colons", ZERO.replace(": ", ":"), plan(), 0.0, 14.0),
    ("markdown bullets and bold", "- **Route Name:** Red Line\n- **Departure Stop:** Alpha\n- **Arrival Stop:** Delta",
     plan(), 0.0, 14.0),
    ("reasoning before it", "First I find both stations. " + ZERO, plan(), 10.5, 14.0),
    ("a '---' rule before it", "I will answer now.\n---\n" + ZERO, plan(), 10.5, 14.0),
    ("empty", "", plan(), 0.0, 0.0),
    ("section without arrival", "Route Name: Red Line\nDeparture Stop: Alpha\n", plan(), 0.0, 0.0),
    ("two departures in a section", "Route Name: Red Line\nDeparture Stop: Alpha\nDeparture Stop: Bravo\nArrival Stop: Delta",
     plan(), 10.5, 0.0),  # paper reads the first; default: malformed, nothing
    ("two boxed routes", "\\boxed{" + ZERO + "}\n\\boxed{" + ZERO + "}", plan(), 0.0, 0.0),
]


@pytest.mark.parametrize("name, text, record, paper, default", PLANNING, ids=[c[0] for c in PLANNING])
def test_planning_table(name, text, record, paper, default, mini):
    assert both(text, record, mini) == (paper, default)


def test_planning_detail_unbounded_in_paper_floored_in_default(mini):
    stops = ["Alpha", "Bravo"] * 10 + ["Delta"]  # 20 sections bouncing on the Red Line, still a valid route
    text = route(*(("Red Line", a, b) for a, b in itertools.pairwise(stops)))
    paper, default = both(text, plan(), mini)
    assert paper == 10 + 0.5 * (2 + 20 * (-5 + 4))  # 2 - 20 = -18, no floor
    assert default == 1 + 10 + 0.5 * -10  # 2 + 4 + 19 * (-1) = -13, floored at -10


def test_planning_detail_switch_and_breakdown_parts(mini):
    parts = breakdown(ONE, plan(s2="Golf", transfers=1), mini)
    assert (parts.format, parts.correct, parts.detail, parts.weight) == (1.0, 10.0, 9.0, 1.5)
    assert parts.reward == parts.weight * (parts.format + parts.correct + 0.5 * parts.detail)
    assert [s["route_name"] for s in parts.parsed] == ["Red Line", "Blue Line"]
    assert score(ONE, plan(s2="Golf", transfers=1), mini, detail=False) == 11.0 * 1.5
    paper = breakdown(ONE, plan(s2="Golf", transfers=1), mini, mode="paper")
    assert (paper.format, paper.detail) == (0.0, 4.0) and paper.parsed[1]["arrival_stop"] == "golf"


def test_paper_name_quirks():
    # names.py: substring rules, double cleaning on the answer side (quirk 8)
    assert paper_clean("Metropolitan Ave") == "politanave"
    assert paper_clean("Broadway") == "bluway"
    assert paper_clean("Univ.") == "universityersity"
    assert paper_clean("Asian Games Village") == "yayuncun"
    assert paper_clean("西直门站 ") == "西直门站" and paper_clean(paper_clean("西直门站 ")) == "西直门"
    lines = {"Line 1": ["BROADWAY", "Mid", "Far"]}
    text = route(("Line 1", "BROADWAY", "Far"))
    record = plan(s1="BROADWAY", s2="Far")
    # paper: answer "BROADWAY" -> "broadway" -> "bluway" != "broadway": endpoints wrong
    assert both(text, record, lines) == (0.0, 14.0)


def test_paper_beijing_line_aliases():
    lines = {"Line 1": ["苹果园站", "古城站", "四惠东站"], "Line 4": ["安河桥北站", "北宫门站"]}
    text = route(("地铁八通线", "苹果园站", "四惠东站"))
    record = plan(s1="苹果园站", s2="四惠东站")
    # paper: any name with 八通 is looked up as "Line 1"; default matches line names as written
    assert both(text, record, lines) == (10 + 0.5 * (2 - 5 + 4), 1 + 0.5 * 2)
    assert score(route(("line 1", "苹果园", "四惠东")), record, lines) == 14.0  # case, 站 suffix


def test_default_normaliser():
    assert normalize("Shibuya Station (Transfer Station)") == "shibuya"
    assert normalize("São Sebastião") == normalize("Sao Sebastiao")
    assert normalize("Broadway") == "broadway"  # whole words only
    assert normalize("Univ. Road") == "universitylu"
    assert normalize("がくげいだいがく") != normalize("かくけいたいかく")  # kana voicing is not an accent
    for name in ("sta tion", "İstanbul", "ＡＢＣ", "Main St. (Metro)", "西直门站站"):
        assert normalize(normalize(name)) == normalize(name)


# ----------------------------------------------------------------------------- long forms

REFERENCE = [[{"route_name": "Red Line", "departure_stop": "Alpha", "arrival_stop": "Delta",
               "via_stops": ["Bravo", "Central"], "num_via_stops": 2}]]


@pytest.mark.parametrize("form, via_line, default", [
    ("long_num", "Number of Via Stops: 2", 1 + 10 + 0.5 * (6 + 4)),  # exact count: +4
    ("long_num", "Number of Via Stops: 3", 1 + 10 + 0.5 * (6 + (4 - 4 * 1 / 2))),  # error 1 of 2
    ("long_num", "Number of Via Stops: 9", 1 + 10 + 0.5 * 6),  # 4 - 4 * 7/2 < 0 -> 0
    ("long_num", "", 10 + 0.5 * 6),  # via line missing: correct, no format, no via credit
    ("long_num", "Number of Via Stops: two", 0.0),  # unparsable count: malformed
    ("long_via", "Via Stops: Bravo, Central", 1 + 10 + 0.5 * min(10, 6 + (10 * 1 + 2) / 2)),  # one cap for both parts
    ("long_via", "Via Stops: Bravo", 1 + 10 + 0.5 * (6 + (10 * 1 / 2 + 1) / 2)),
    ("long_via", "Via Stops: Bravo, Central, Echo, India, Golf", 1 + 10 + 0.5 * (6 + (10 * 2 / 5 + 2) / 2)),
    ("long_via", "Via Stops: Bravo, Bravo, Bravo", 1 + 10 + 0.5 * (6 + (10 * 1 / 2 + 1) / 2)),  # repeats count once
    ("short", "Number of Via Stops: 2", 14.0),  # a short question pays no via credit
])
def test_long_forms_earn_map_score_credit(form, via_line, default, mini):
    text = route(("Red Line", "Alpha", "Delta"), extra="\n" + via_line if via_line else "")
    record = plan(reference_routes=REFERENCE, template_id=f"planning_{form}")
    assert score(text, record, mini) == default
    if via_line:
        assert score(text, record, mini, mode="paper") == 0.0  # paper quirk 7: the via line spoils the arrival


def test_via_credit_needs_the_reference_line_and_the_best_reference_counts(mini):
    record = plan(s2="Central", reference_routes=[
        [{"route_name": "Blue Line", "departure_stop": "Alpha", "arrival_stop": "Central", "via_stops": [], "num_via_stops": 0}],
        [{"route_name": "Red Line", "departure_stop": "Alpha", "arrival_stop": "Central", "via_stops": ["Bravo"], "num_via_stops": 1}],
    ], route_form="long_num")
    text = route(("Red Line", "Alpha", "Central"), extra="\nNumber of Via Stops: 1")
    assert score(text, record, mini) == 1 + 10 + 0.5 * (6 + 4)
    record["reference_routes"] = record["reference_routes"][:1]  # only a Blue Line reference: no credit
    assert score(text, record, mini) == 1 + 10 + 0.5 * 6


@pytest.mark.parametrize("record, form", [
    ({"route_form": "long_via"}, "long_via"),
    ({"template_id": "planning_long_num"}, "long_num"),
    ({"template_id": "planning_short", "question": "... Number of Via Stops: ..."}, "short"),
    ({"question": "Answer with Route Name, Departure Stop, Arrival Stop, Number of Via Stops."}, "long_num"),
    ({"question": "Answer with Route Name, Departure Stop, Arrival Stop, Via Stops."}, "long_via"),
    ({}, "short"),
])
def test_route_form_comes_from_the_record(record, form):
    assert route_form(record) == form


# ----------------------------------------------------------------------------- records


@pytest.mark.parametrize("change, message", [
    ({"type": "TorF3"}, "unknown type 'TorF3'"),
    ({"difficulty_city": "medium"}, "difficulty_city 'medium'"),
    ({"answer": 2}, "out of range for TorF1"),
    ({"answer": "1"}, "is not an integer"),
    ({"answer": True}, "is not an integer"),
    ({"station_2": None}, "TorF1 needs station_2"),
])
def test_check_record_names_the_problem(change, message):
    record = {**rec("TorF1", 1), **change}
    with pytest.raises(RewardError, match=message) as err:
        check_record(record)
    assert "record q1" in str(err.value)
    with pytest.raises(RewardError):
        score("\\boxed{yes}", record)  # score validates too


def test_check_record_missing_fields_and_planning_rules(mini):
    with pytest.raises(RewardError, match=r"record q9: missing field\(s\) station_2, question_transfer_count"):
        check_record({"id": "q9", "type": "TorF1", "answer": 1, "station_1": "A", "difficulty_city": "easy"})
    with pytest.raises(RewardError, match="question_transfer_count -1"):
        check_record(plan(transfers=-1))
    with pytest.raises(RewardError, match="reference_routes must be"):
        check_record(plan(reference_routes=[[{"route_name": "Red Line"}]]))
    with pytest.raises(RewardError, match="needs the city's lines"):
        score(ZERO, plan(), None)
    with pytest.raises(RewardError, match="unknown reward mode"):
        score("x", rec("TorF1", 1), mode="released")
    with pytest.raises(RewardError, match="unknown weighting"):
        score("x", rec("TorF1", 1), weighting="uniform")
    check_record(rec("Counting3", 5, station_1=None, station_2=None))  # Counting3 needs no station
    assert issubclass(RewardError, MapkitError)


def test_check_records_reports_every_bad_record_at_once():
    good = [rec("TorF1", 1), plan()]
    assert check_records(good) == 2
    bad = good + [{"id": "x1", "type": "TorF1"}, rec("Counting1", 7, id="x2")]
    with pytest.raises(RewardError) as err:
        check_records(bad)
    message = str(err.value)
    assert message.startswith("2 of 4 records cannot be scored") and "record x1" in message and "record x2" in message


# ----------------------------------------------------------------------------- lines


def test_load_lines_native_and_reasonmap(tmp_path, mini):
    assert isinstance(mini, Lines) and mini["Red Line"] == ("Alpha", "Bravo", "Central", "Delta", "Echo", "India")
    assert list(mini) == ["Red Line", "Blue Line", "Orange Loop", "Green Line"]
    from conftest import FIXTURES

    assert load_lines(FIXTURES / "mini.json") is mini  # cached per file
    rm = tmp_path / "city.json"
    rm.write_text(json.dumps({"Line 1": ["A站（换乘站）", "B站", "C站（支线起始站）"],
                              "Line 2": ["A Station (Transfer Station)", "D Station"]}, ensure_ascii=False), encoding="utf-8")
    lines = load_lines(rm)
    assert dict(lines) == {"Line 1": ("A站", "B站", "C站"), "Line 2": ("A Station", "D Station")}
    with pytest.raises(RewardError, match="cannot be read"):
        load_lines(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(RewardError, match="neither"):
        load_lines(tmp_path / "bad.json")


def test_plain_dict_lines_are_cached_by_identity_not_reused_when_changed():
    lines = {"Line 1": ["A", "B"]}
    record = plan(s1="A", s2="C")
    text = route(("Line 1", "A", "C"))
    assert score(text, record, lines) == 1 + 0.5 * (2 + 0)  # C is not on Line 1
    lines["Line 1"].append("C")  # a changed station count invalidates the cached tables
    assert score(text, record, lines) == 14.0


# ----------------------------------------------------------------------------- TRL


def test_trl_reward_function_matches_score(tmp_path, mini):
    from conftest import FIXTURES

    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "mini.json").write_bytes((FIXTURES / "mini.json").read_bytes())
    rows = [dict(rec("TorF1", 1), annotation="annotations/mini.json"),
            dict(plan(s2="Golf", transfers=1), annotation="annotations/mini.json"),
            dict(rec("Counting1", 1, line="Red Line"), annotation="annotations/mini.json")]
    completions = ["\\boxed{yes}", [{"role": "assistant", "content": ONE}],
                   [{"role": "assistant", "content": [{"type": "text", "text": "Stops: [Bravo]\n\\boxed{B}"}]}]]
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    f = reward_function(root=tmp_path, records=rows)
    got = f(prompts=["p"] * 3, completions=completions, completion_ids=[[1], [2], [3]], trainer_state=object(), **columns)
    assert got == [11.0, (1 + 10 + 0.5 * 9) * 1.5, 11.0 + 0.5 * 0.5]
    assert f.__name__ == "rewardmap_default"
    paper = reward_function(root=tmp_path, mode="paper")(prompts=None, completions=completions, **columns)
    assert paper == [10.0, (10 + 0.5 * 4) * 1.5, 10.0]
    planning_only = reward_function(root=tmp_path, types=["planning"])(completions=completions, **columns)
    assert planning_only[0] is None and planning_only[2] is None and planning_only[1] == got[1]
    parts = [fn(completions=completions, **columns) for fn in reward_functions(root=tmp_path, by="part")]
    assert [sum(p) for p in zip(*parts)] == pytest.approx(got)
    by_family = [fn(completions=completions, **columns) for fn in reward_functions(root=tmp_path, by="family")]
    assert [[v is not None for v in fam] for fam in by_family] == [[True, False, False], [False, False, True], [False, True, False],
                                                                  [False, False, False]]  # no Grounding rows


def test_trl_construction_fails_early():
    with pytest.raises(RewardError, match="record bad"):
        reward_function(records=[{"id": "bad", "type": "planning"}])
    with pytest.raises(RewardError, match="unknown record type"):
        reward_function(types=["Counting9"])
    with pytest.raises(RewardError, match="unknown reward part"):
        reward_function(part="bonus")
    with pytest.raises(RewardError, match="unknown split"):
        reward_functions(by="city")


def test_breakdown_serves_the_trainer_protocol(mini):
    parts = breakdown("\\boxed{yes}", rec("TorF1", 1))
    assert isinstance(parts, Breakdown) and parts.get("reward") == 11.0 and parts.get("missing", 0.0) == 0.0
    assert parts.as_dict()["format"] == 1.0


def test_rewards_package_does_not_import_torch():
    code = "import sys, mapkit.rewards, mapkit.rewards.trl; assert 'torch' not in sys.modules, 'torch imported'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode == 0


def test_a_rightly_empty_via_list_earns_full_via_credit(mini):
    adjacent = [[{"route_name": "Red Line", "departure_stop": "Alpha", "arrival_stop": "Bravo",
                  "via_stops": [], "num_via_stops": 0}]]
    record = plan(s2="Bravo", reference_routes=adjacent, template_id="planning_long_via")
    right = route(("Red Line", "Alpha", "Bravo"), extra="\nVia Stops: ")
    wrong = route(("Red Line", "Alpha", "Bravo"), extra="\nVia Stops: Central")
    # detail 6 (+2 endpoints, +4 line), via (10 * IoU + matched) / 2 = 5 when the empty list is right
    assert score(right, record, mini) == 1 + 10 + 0.5 * min(10, 6 + 5)
    assert score(wrong, record, mini) == 1 + 10 + 0.5 * 6


def test_reference_routes_read_by_pandas_score_like_lists(mini):
    import numpy as np

    two = REFERENCE + [[{"route_name": "Red Line", "departure_stop": "Alpha", "arrival_stop": "Delta",
                         "via_stops": ["Bravo", "Central"], "num_via_stops": 2}]]
    text = route(("Red Line", "Alpha", "Delta"), extra="\nNumber of Via Stops: 2")
    as_lists = plan(reference_routes=two, template_id="planning_long_num")
    as_array = plan(reference_routes=np.array(two, dtype=object), template_id="planning_long_num")
    assert score(text, as_array, mini) == score(text, as_lists, mini) == 1 + 10 + 0.5 * 10
