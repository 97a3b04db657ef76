"""The question-blind chance figure logged next to a run's rewards (mapkit.train.chance).
Expected values are hand-worked from the reward's definition or enumerated by a plain loop."""
from __future__ import annotations

import itertools
import statistics

import pytest

from mapkit.rewards import score
from mapkit.train.chance import ChanceMeter, chance_reward, random_route

LINES = {"Red Line": ("Alpha", "Bravo", "Central")}


def reward(completion, record, lines):
    return {"reward": score(completion, record, lines, mode="default")}


def choice(kind, **kw):
    return {"id": f"r-{kind}", "type": kind, "difficulty_city": "easy", "question": "?", "options": [],
            "question_transfer_count": 0, "station_1": "Alpha", "station_2": "Central", "line": "Red Line", **kw}


@pytest.mark.parametrize("record, expected", [
    # right: R_format 1 + R_correct 10 = 11, wrong: 1; times W (easy 1.0, middle 1.2, hard 1.5)
    (choice("TorF1", answer=1, answer_text="yes", difficulty_city="hard"), (11 + 1) / 2 * 1.5),
    (choice("Counting1", answer=2, options=["3", "4", "5", "6"], answer_text="C"), (11 + 3 * 1) / 4),
    (choice("Counting2", answer=2, answer_text="2", city_line_count=4, difficulty_city="middle"), (11 + 3 * 1) / 4 * 1.2),
    (choice("Counting3", answer=4, answer_text="4", city_line_count=4), (11 + 3 * 1) / 4),
])
def test_choice_types_average_their_whole_answer_space(record, expected):
    assert chance_reward(record, LINES, reward) == pytest.approx(expected)


def planning(**kw):
    return {"id": "r-plan", "type": "planning", "template_id": "planning_short", "difficulty_city": "easy",
            "question": "From Alpha to Central?", "question_transfer_count": 0, "station_1": "Alpha", "station_2": "Central",
            "answer": -1, "answer_text": "", "options": [], "line": None,
            "reference_routes": [[{"route_name": "Red Line", "departure_stop": "Alpha", "arrival_stop": "Central",
                                   "via_stops": ["Bravo"], "num_via_stops": 1}]], **kw}


def test_planning_guesser_matches_an_enumeration_of_its_answer_space():
    record = planning()
    # every answer the guesser can write on this one-line map: 6 ordered station pairs
    answers = [f"Route Name: Red Line\nDeparture Stop: {a}\nArrival Stop: {b}" for a, b in itertools.permutations(LINES["Red Line"], 2)]
    enumerated = statistics.fmean(score(a, record, LINES, mode="default") for a in answers)
    # hand-worked: the right pair is a valid route, 1 + 10 + 0.5 * (2 + 4) = 14; the five others earn R_format only
    assert enumerated == pytest.approx((14 + 5 * 1) / 6)
    assert chance_reward(record, LINES, reward, draws=3000) == pytest.approx(enumerated, abs=0.35)


def test_planning_guesser_writes_the_records_route_form_and_never_reads_the_question():
    import random

    rng = random.Random(0)
    num = random_route(planning(template_id="planning_long_num"), LINES, rng)
    assert num.count("\n") == 3 and "\nNumber of Via Stops: " in num
    via = random_route(planning(template_id="planning_long_via"), LINES, rng)
    assert "\nVia Stops: " in via
    starts = {random_route(planning(), LINES, rng).split("\n")[1] for _ in range(200)}
    assert starts == {f"Departure Stop: {s}" for s in LINES["Red Line"]}  # not only the question's Alpha


def test_meter_caches_per_record_and_skips_types_without_a_chance_figure():
    calls = []

    def counting(completion, record, lines):
        calls.append(completion)
        return reward(completion, record, lines)

    meter = ChanceMeter(counting, lambda r: LINES)
    torf = choice("TorF2", answer=0, answer_text="no")
    grounding = choice("Grounding2")
    assert meter.mean([torf, grounding]) == pytest.approx(6.0)
    assert meter.mean([torf]) == pytest.approx(6.0) and len(calls) == 2  # yes and no, scored once
    assert meter.mean([grounding]) is None
