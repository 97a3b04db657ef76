"""`--scorer reasonmap`: each quirk of the released ReasonMap main.py (Q1-Q12 in
mapkit/evaluation/reasonmap.py), pinned by numbers worked out by hand from reading the
released script. Pure Python, no torch."""
from __future__ import annotations

import pytest

from mapkit.evaluation.reasonmap import china_line, parse_sections, reasonmap_clean, rewrite_answer_line, score_route
from mapkit.evaluation.scorers import AnswerCut, Scorer

# --- a Chinese city: station files carry 站, the map app's reference stops do not ---------
CN_LINES = {"Line 5": ["甲站", "乙站", "丙站", "丁站"], "Line 1": ["戊站", "甲站"]}
CN_REF = {"route_name": "地铁5号线(甲--丁)", "departure_stop": "甲", "arrival_stop": "丙", "via_stops": ["乙"], "num_via_stops": 1}


def cn(form="short", **extra):
    question = {"short": "Plan a route.", "long_num": "Plan.\nNumber of Via Stops: <n>", "long_via": "Plan.\nVia Stops: <list>"}[form]
    return {"id": "c", "type": "planning", "country": "china", "city": "dalian", "station_1": "甲站", "station_2": "丙站",
            "route_form": form, "question": question, "reference_routes": [[dict(CN_REF)]], **extra}


# --- an English-named city --------------------------------------------------------------
EN_LINES = {"Line 2": ["A Station", "B Station", "C Station"], "Red": ["C Station", "D Station"]}
EN_REF = {"route_name": "Metro 2", "departure_stop": "A", "arrival_stop": "C", "via_stops": ["B"], "num_via_stops": 1}


def en(form="short", **extra):
    question = {"short": "Plan a route.", "long_num": "Plan.\nNumber of Via Stops: <n>", "long_via": "Plan.\nVia Stops: <list>"}[form]
    return {"id": "e", "type": "planning", "country": "america", "city": "x", "station_1": "A Station", "station_2": "C Station",
            "route_form": form, "question": question, "reference_routes": [[dict(EN_REF)]], **extra}


def section(route, dep, arr, extra=""):
    return f"Route Name: {route}\nDeparture Stop: {dep}\nArrival Stop: {arr}\n{extra}"


def test_q1_clean_string():
    assert reasonmap_clean("Metropolitan Ave (Transfer Station)") == "politanave"  # inside words, "(...)" dropped
    assert reasonmap_clean("Shibuya") != reasonmap_clean("Shibuya Station")  # "Station" stays
    assert reasonmap_clean("西直门") != reasonmap_clean("西直门站")  # and so does 站
    assert reasonmap_clean("St. John's-Wood  *") == "st.john'swood"
    assert reasonmap_clean("METRO") == "metro" and reasonmap_clean(reasonmap_clean("METRO")) == ""  # not idempotent


def test_q2_sections_and_labels():
    good = section("Line 2", "A Station", "C Station")
    assert score_route(good, en(), EN_LINES).acc == 1
    # a "---" rule cuts the section in two halves, neither with all three labels
    assert score_route(good.replace("Arrival", "---\nArrival"), en(), EN_LINES).map_score == 0
    assert score_route(good.replace("Route Name", "route name"), en(), EN_LINES).acc == 0  # labels in exact case
    s = parse_sections("Route Name:Line 2\nDeparture Stop: A Station\nArrival Stop: C Station", "short")
    assert s[0].route == "Wrong"  # no space after the colon
    s = parse_sections("Route Name: Line 2\nArrival Stop: C Station\nDeparture Stop: A Station", "short")
    assert s[0].departure == "Wrong"  # nothing after the value: no newline, no match
    # long form: the arrival needs its newline too
    s = parse_sections("Route Name: Line 2\nDeparture Stop: A Station\nArrival Stop: C Station", "long", num_form=True)
    assert s[0].arrival == "Wrong"


def test_q3_short_arrival_runs_to_the_end_of_the_section():
    plain = section("Line 2", "A Station", "C Station")
    assert score_route(plain, en(), EN_LINES).acc == 1
    remark = plain + "Hope this helps!"
    assert parse_sections(remark, "short")[0].arrival == "cstationhopethishelps!"
    r = score_route(remark, en(), EN_LINES)
    assert (r.acc, r.map_score) == (0, 0)


def test_q4_line_names_exact_stops_in_any_order_and_beijing_aliases():
    assert score_route(section("line 2", "A Station", "C Station"), en(), EN_LINES).acc == 0
    back = en(station_1="C Station", station_2="A Station")
    assert score_route(section("Line 2", "C Station", "A Station"), back, EN_LINES).acc == 1  # order never checked
    # 八通 reads as Line 1: 戊站 -> 甲站 on "八通线"
    rec = cn(station_1="戊站", station_2="甲站", reference_routes=None)
    assert score_route(section("八通线", "戊站", "甲站"), rec, CN_LINES).acc == 1
    assert score_route(section("Line 9", "戊站", "甲站"), rec, CN_LINES).acc == 0


def test_q5_china_reference_lines_and_suffix():
    assert china_line("地铁5号线(甲--丁)") == "Line 5" and china_line("地铁05号线") == "Line 5"
    assert china_line("地铁昌平线(昌平西山口--蓟门桥)") == "昌平线"
    # ref dep 甲 lacks 站, so the short form compares the arrival (丙 + 站):
    # 1 endpoints + 2 line + 1 departure + 1 arrival = 5, + 10 correct
    r = score_route(section("Line 5", "甲站", "丙站"), cn(), CN_LINES)
    assert (r.acc, r.map_score, r.route_name_score, r.stops_score, r.departure_arrival_score) == (1, 15, 2, 2, 1)
    assert score_route(section("Line 5", "甲站", "丙站"), cn(country="China"), CN_LINES).map_score == 15  # mapkit's spelling
    assert score_route(section("Line 5", "甲站", "丙站"), cn(country="japan"), CN_LINES).map_score == 11  # 1 + 0 + 0 + 0, + 10


def test_q6_outside_china_the_answer_line_is_compared_with_itself():
    assert rewrite_answer_line("Line 2", "x") == "Line Li"
    assert rewrite_answer_line("Metro B-Line", "x") == "Line B"
    assert rewrite_answer_line("Linea C", "x") == "Line C"
    assert rewrite_answer_line("B1", "rome") == "Line B" and rewrite_answer_line("B1", "oslo") == "Line B1"
    assert rewrite_answer_line("银座线", "tokyo") == "银座线"  # no ASCII letter or digit: unchanged
    # "Line 2" (right line): no line credit. 1 + 0 + 1 (A + " Station") + 1 (C + " Station") = 3, + 10
    r = score_route(section("Line 2", "A Station", "C Station"), en(), EN_LINES)
    assert (r.acc, r.map_score, r.route_name_score, r.stops_score) == (1, 13, 0, 2)
    # a line name without ASCII always gets the +2, even a wrong one (acc 0: not a line)
    r = score_route(section("银座线", "A Station", "C Station"), en(), EN_LINES)
    assert (r.acc, r.map_score, r.route_name_score) == (0, 5, 2)
    # the suffix is appended to the reference: an answer without " Station" loses the stop credit
    rec = en(station_1="A", station_2="C")
    r = score_route(section("Line 2", "A", "C"), rec, {"Line 2": ["A", "B", "C"]})
    assert (r.acc, r.map_score, r.stops_score) == (1, 11, 0)


def test_q7_reference_arrival_replaced_by_its_departure():
    # China, ref departure already ends in 站: the short form compares the arrival with 甲站
    ref = {**CN_REF, "departure_stop": "甲站"}
    r = score_route(section("Line 5", "甲站", "丙站"), cn(reference_routes=[[ref]]), CN_LINES)
    assert (r.map_score, r.stops_score) == (14, 1)  # 1 + 2 + 1 + 0, + 10
    # ... the Chinese long form uses the arrival: 1 + 2 + 1 + 1 = 5; num via 1 = 1: +4; 9 + 20
    r = score_route(section("Line 5", "甲站", "丙站", "Number of Via Stops: 1"), cn("long_num", reference_routes=[[ref]]), CN_LINES)
    assert (r.map_score, r.stops_score, r.num_via_stop_score) == (29, 2, 4)
    # outside China the long form keeps the quirk: ref "A Station" makes the arrival "A Station"
    ref = {**EN_REF, "departure_stop": "A Station"}
    answer = section("Line 2", "A Station", "C Station", "Number of Via Stops: 1")
    r = score_route(answer, en("long_num", reference_routes=[[ref]]), EN_LINES)
    assert (r.map_score, r.stops_score) == (1 + 1 + 4 + 20, 1)


def test_q8_pairing_cap_bonus_and_ties():
    # two sections against a one-section reference: only the first pair counts
    rec = en(station_2="D Station")
    two = section("Line 2", "A Station", "C Station") + "--\n" + section("Red", "C Station", "D Station")
    r = score_route(two, rec, EN_LINES)
    assert (r.acc, r.map_score) == (1, 13)  # 1 + 0 + 1 + 1 (first pair only), + 10
    # cap at 10 before the bonus: three China sections matching three references sections
    lines = {"Line 5": ["甲站", "乙站", "丙站", "丁站"]}
    refs = [{"route_name": "5号线", "departure_stop": a, "arrival_stop": b, "via_stops": [], "num_via_stops": 0}
            for a, b in (("甲", "乙"), ("乙", "丙"), ("丙", "丁"))]
    ans = "--\n".join(section("Line 5", a + "站", b + "站") for a, b in (("甲", "乙"), ("乙", "丙"), ("丙", "丁")))
    r = score_route(ans, cn(station_2="丁站", reference_routes=[refs]), lines)
    assert (r.acc, r.map_score, r.route_name_score, r.stops_score) == (1, 20, 6, 6)  # min(10, 13) + 10
    # a tie keeps the LATER reference's parts: ref 1 gives the line (+2), ref 2 the two stops (+2)
    ref1 = {"route_name": "5号线", "departure_stop": "X", "arrival_stop": "Y", "via_stops": [], "num_via_stops": 0}
    ref2 = {"route_name": "9号线", "departure_stop": "甲", "arrival_stop": "丙", "via_stops": [], "num_via_stops": 0}
    r = score_route(section("Line 5", "甲站", "丙站"), cn(reference_routes=[[ref1], [ref2]]), CN_LINES)
    assert (r.map_score, r.route_name_score, r.stops_score) == (13, 0, 2)
    r = score_route(section("Line 5", "甲站", "丙站"), cn(reference_routes=[[ref2], [ref1]]), CN_LINES)
    assert (r.map_score, r.route_name_score, r.stops_score) == (13, 2, 0)
    # the released layout {"route_0": [...]} reads the same as a list
    r = score_route(section("Line 5", "甲站", "丙站"), cn(reference_routes={"route_0": [CN_REF], "route_1": None}), CN_LINES)
    assert r.map_score == 15


@pytest.mark.parametrize("given,truth,expected", [("3 stops", 4, 3.0), ("1", 1, 4.0), ("0", 0, 4.0), ("1", 0, 0.0),
                                                   ("9", 2, 0.0), ("none", 2, 0.0)])
def test_q9_number_of_via_stops(given, truth, expected):
    ref = {**CN_REF, "num_via_stops": truth}
    ans = section("Line 5", "甲站", "丙站", f"Number of Via Stops: {given}\n")
    r = score_route(ans, cn("long_num", reference_routes=[[ref]]), CN_LINES)
    # 3 vs 4: 4 - 4 * 1/4 = 3; 9 vs 2: 4 - 4 * 7/2 < 0 -> 0; "none" reads as 0: 4 - 4 * 2/2 = 0; truth 0 and wrong: 0
    assert r.num_via_stop_score == expected
    assert r.map_score == 5 + expected + 20


def test_q9_label_missing_reads_digits_anywhere_in_the_section():
    # no "Number of Via Stops: " in the section: the whole section is searched; "Line 5" gives 5
    ref = {**CN_REF, "num_via_stops": 5}
    r = score_route(section("Line 5", "甲站", "丙站"), cn("long_num", reference_routes=[[ref]]), CN_LINES)
    assert r.num_via_stop_score == 4


def test_q10_via_list_untrimmed_and_only_with_zhan():
    def via(text, ref=CN_REF):
        return score_route(section("Line 5", "甲站", "丙站", f"Via Stops: {text}\n"), cn("long_via", reference_routes=[[ref]]), CN_LINES)

    r = via("乙站")  # matched 1, IoU 1: (10 + 1) / 2 = 5.5; 5 + 5.5 = 10.5, + 20
    assert (r.via_stops_score, r.map_score) == (5.5, 30.5)
    r = via("乙站, 丁站")  # ["乙站", " 丁站"]: matched 1, IoU 1/2: (5 + 1) / 2
    assert r.via_stops_score == 3.0
    assert via("丁站, 乙站").via_stops_score == 0.0  # " 乙站" never equals "乙站"
    assert via("乙").via_stops_score == 0.0  # no 站 in the list: no list at all
    assert via("乙站,乙站,乙站").via_stops_score == (10 * 1 + 3) / 2  # repeats count again
    empty = {**CN_REF, "via_stops": [], "num_via_stops": 0}
    assert via("", empty).via_stops_score == 0.0  # a rightly empty list earns nothing (IoU of two empty sets is 0)


def test_q11_no_via_credit_outside_china():
    ans = section("银座线", "A Station", "C Station", "Via Stops: B站\n")  # even with a 站 and the line credit
    r = score_route(ans, en("long_via"), EN_LINES)
    assert r.via_stops_score == 0.0 and r.route_name_score == 2


def test_q12_nothing_parsed_scores_zero():
    r = score_route("I cannot tell.", cn(), CN_LINES)
    assert (r.acc, r.map_score, r.map_score_max) == (0, 0, 20)
    assert score_route("", cn("long_via"), CN_LINES).map_score_max == 40


def test_scorer_rows_and_reasoning_traces():
    draft = "<think>" + section("Line 9", "甲站", "丙站") + "</think>\n"
    final = section("Line 5", "甲站", "丙站")
    row = Scorer("reasonmap").score(cn(), draft + final, CN_LINES)
    assert row["correct"] is True and row["map_score"] == 15 and row["map_score_max"] == 20
    assert row["completion"] == draft + final and row["parsed"][0]["route"] == "Line 5"
    # the whole text: the draft section comes first (its line 9 does not exist)
    assert Scorer("reasonmap", cut=AnswerCut.from_options(full_text=True)).score(cn(), draft + final, CN_LINES)["correct"] is False
    kimi = "◁think▷" + section("Line 9", "甲站", "丙站") + "◁/think▷" + final
    assert Scorer("reasonmap").score(cn(), kimi, CN_LINES)["correct"] is True
