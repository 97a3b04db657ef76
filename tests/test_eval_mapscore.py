"""ReasonMap's map score (mapkit.rewards.map_score) against values worked out by hand.

The mini city: Red Line Alpha-Bravo-Central-Delta-Echo-India, Blue Line
Foxtrot-Central-Golf-Hotel, Orange Loop Central-Foxtrot-Kilo-Lima, Green Line
Echo-Juliet-Hotel. Short answers score out of 20 (partial credit capped at 10, +10 when
correct), long ones out of 40 (capped at 20, +20 when correct).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from mapkit.errors import RewardError
from mapkit.rewards import load_lines, map_score


@pytest.fixture(scope="module")
def lines():
    return load_lines(Path(__file__).resolve().parent / "fixtures" / "mini.json")


def sec(line, dep, arr, via=()):
    return {"route_name": line, "departure_stop": dep, "arrival_stop": arr, "via_stops": list(via), "num_via_stops": len(via)}


REF_1 = [sec("Red Line", "Alpha", "Central", ["Bravo"]), sec("Blue Line", "Central", "Golf")]
REF_2 = [sec("Red Line", "Alpha", "Bravo"), sec("Blue Line", "Bravo", "Golf")]  # made up: only its sections' names matter
REF_3 = [sec("Red Line", "Alpha", "Central", ["Bravo"]), sec("Orange Loop", "Central", "Foxtrot"),
         sec("Blue Line", "Foxtrot", "Golf", ["Central"])]


def record(template="planning_short", refs=(REF_1, REF_2), s1="Alpha", s2="Golf", transfers=1):
    return {"id": "p", "type": "planning", "answer": -1, "station_1": s1, "station_2": s2, "difficulty_city": "easy",
            "question_transfer_count": transfers, "template_id": template, "reference_routes": [list(r) for r in refs]}


def answer(*sections, count=None, via=None):
    parts = []
    for i, (line, dep, arr) in enumerate(sections):
        text = f"Route Name: {line}\nDeparture Stop: {dep}\nArrival Stop: {arr}"
        if count is not None:
            text += f"\nNumber of Via Stops: {count[i]}"
        if via is not None:
            text += f"\nVia Stops: {', '.join(via[i])}"
        parts.append(text)
    return "\n--\n".join(parts)


EXACT = answer(("Red Line", "Alpha", "Central"), ("Blue Line", "Central", "Golf"))
DETOUR = answer(("Red Line", "Alpha", "Central"), ("Orange Loop", "Central", "Foxtrot"), ("Blue Line", "Foxtrot", "Golf"))


def test_short_exact_answer(lines):
    s = map_score(EXACT, record(), lines)
    # endpoints 1 + two sections of (line 2 + departure 1 + arrival 1) = 9, under the cap; + 10 correct
    assert (s.score, s.maximum, s.form, s.correct, s.endpoints, s.sections) == (19.0, 20.0, "short", True, True, 8.0)
    assert map_score(f"The route:\n\\boxed{{{EXACT}}}", record(), lines).score == 19.0  # the box is read like the reward does


def test_short_best_reference_and_cap(lines):
    # vs REF_1: section 1 = 4, section 2 Orange/Central/Foxtrot vs Blue/Central/Golf = departure only 1 -> 1 + 5 = 6
    # vs REF_2: section 1 Red/Alpha/Central vs Red/Alpha/Bravo = 3, section 2 = 0 -> 4; best 6, + 10 (a valid route)
    assert map_score(DETOUR, record(), lines).score == 16.0
    # vs REF_3 every section matches: 1 + 12 = 13, capped at 10; + 10
    assert map_score(DETOUR, record(refs=(REF_1, REF_2, REF_3)), lines).score == 20.0


def test_short_partial_and_zero(lines):
    invalid = answer(("Red Line", "Alpha", "Golf"))  # Golf is not on the Red Line: not correct
    # endpoints 1 + line 2 + departure 1 (arrival Golf vs Central / Bravo: 0) = 4; no bonus
    s = map_score(invalid, record(), lines)
    assert (s.score, s.correct) == (4.0, False)
    assert map_score(answer(("Red Line", "Bravo", "Central"), ("Blue Line", "Central", "Golf")), record(), lines).score == 0.0
    assert map_score(f"\\boxed{{{EXACT}}} or \\boxed{{{DETOUR}}}", record(), lines).score == 0.0  # a hedge earns nothing
    assert map_score("I am not sure.", record(), lines).score == 0.0
    assert map_score(EXACT, record(), lines, correct=False).score == 9.0  # the caller's verdict decides the bonus
    assert map_score(EXACT, record(refs=()), lines).score == 11.0  # no references: endpoints only, + 10


def test_long_number_of_via_stops(lines):
    rec = record("planning_long_num")
    # sections 8 + via counts exact (1 and 0): 4 + 4 = 8 -> 1 + 8 + 8 = 17; + 20 correct
    s = map_score(answer(("Red Line", "Alpha", "Central"), ("Blue Line", "Central", "Golf"), count=[1, 0]), rec, lines)
    assert (s.score, s.maximum, s.form, s.via) == (37.0, 40.0, "long_num", 8.0)
    # counts 3 (want 1: 4 - 4 * 2 / 1 < 0 -> 0) and 1 (want 0: only exact earns) -> 1 + 8 + 0 + 20
    assert map_score(answer(("Red Line", "Alpha", "Central"), ("Blue Line", "Central", "Golf"), count=[3, 1]), rec, lines).score == 29.0
    one = record("planning_long_num", refs=([sec("Red Line", "Alpha", "Echo", ["Bravo", "Central", "Delta"])],), s2="Echo", transfers=0)
    # count 2 against 3: 4 - 4 * 1 / 3 = 2.667 -> 1 + 4 + 2.667 + 20
    assert map_score(answer(("Red Line", "Alpha", "Echo"), count=[2]), one, lines).score == pytest.approx(27.6667, abs=1e-4)
    # three exact sections vs REF_3: 1 + 12 + min(10, 12) = 23, capped at 20; + 20
    three = record("planning_long_num", refs=(REF_3,))
    assert map_score(answer(("Red Line", "Alpha", "Central"), ("Orange Loop", "Central", "Foxtrot"), ("Blue Line", "Foxtrot", "Golf"),
                            count=[1, 0, 1]), three, lines).score == 40.0


def test_long_via_stops_list(lines):
    rec = record("planning_long_via", refs=([sec("Red Line", "Alpha", "Echo", ["Bravo", "Central", "Delta"])],), s2="Echo", transfers=0)
    # listed {Bravo, Central, Kilo} vs {Bravo, Central, Delta}: matched 2, IoU 2/4 -> (10 * 0.5 + 2) / 2 = 3.5
    s = map_score(answer(("Red Line", "Alpha", "Echo"), via=[["Bravo", "Central", "Kilo"]]), rec, lines)
    assert (s.score, s.via) == (28.5, 3.5)  # 1 + 4 + 3.5 + 20
    # all three right: (10 + 3) / 2 = 6.5 -> 1 + 4 + 6.5 + 20
    assert map_score(answer(("Red Line", "Alpha", "Echo"), via=[["Bravo", "Central", "Delta"]]), rec, lines).score == 31.5


def test_only_planning_records(lines):
    torf = {"id": "t", "type": "TorF1", "answer": 1, "station_1": "Alpha", "station_2": "Golf", "difficulty_city": "easy",
            "question_transfer_count": 0}
    with pytest.raises(RewardError, match="map score is for planning records"):
        map_score("\\boxed{yes}", torf, lines)
