"""RewardMap reward, properties: never raises, linear time, modes agree where no
quirk applies, hedges never pay. Bounded example counts keep the file well under 30 s."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapkit.rewards import MODES, TYPES, breakdown, load_lines, normalize, score

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mini():
    from conftest import FIXTURES

    return load_lines(FIXTURES / "mini.json")


MINI = _mini()
STATIONS = sorted({s for stations in MINI.values() for s in stations})


def record_for(kind: str, **extra) -> dict:
    base = {
        "TorF1": {"answer": 1, "station_1": "Alpha", "station_2": "Delta"},
        "TorF2": {"answer": 0, "station_1": "Alpha", "station_2": None, "line": "Blue Line"},
        "Counting1": {"answer": 1, "station_1": "Alpha", "station_2": "Delta", "line": "Red Line"},
        "Counting2": {"answer": 3, "station_1": "Central", "station_2": None},
        "Counting3": {"answer": 4, "station_1": None, "station_2": None},
        "planning": {"answer": -1, "station_1": "Alpha", "station_2": "Golf"},
        "Grounding1": {"answer": -1, "station_1": "Alpha", "station_2": None, "frame": {"width": 400, "height": 300},
                       "program": '{"op":"locate_station","args":{"station":"a"},"result":{"box":[10,20,30,40]}}'},
        "Grounding2": {"answer": -1, "station_1": "Alpha", "station_2": None, "answer_text": "Alpha",
                       "frame": {"width": 400, "height": 300}, "program": '{"op":"read_label","args":{"point":[20,30]},"result":"a"}'},
        "Grounding3": {"answer": -1, "station_1": None, "station_2": None, "line": "Red Line", "image_size": [224, 168],
                       "frame": {"width": 400, "height": 300}, "program": '{"op":"identify_line","args":{"point":[20,30]},"result":"r"}'},
    }[kind]
    out = {"id": f"p-{kind}", "type": kind, "difficulty_city": "middle", "question_transfer_count": 1, **base}
    out.update(extra)
    return out


# ----------------------------------------------------------------------------- never raises

FRAGMENTS = [
    "\\boxed{", "\\BOXED{", "oxed{", "{", "}", "{}", "yes", "no", "A", "B", "(C)", "3", "03", ".", ":", "=", " ", "\n", "\r\n",
    "the answer is ", "The final answer is ", "--", "---", "Route Name: ", "Departure Stop: ", "Arrival Stop: ",
    "Number of Via Stops: ", "Via Stops: ", "Stops: [", "]", "[", "(", ")", "（", "）", "Red Line", "Central", "Alpha",
    "Golf", "站", "Station", "\\text{", "$", "\x00", "\x1b[31m", "\u202e", "\ud800", "ﬁ", "İ", "٣", "３", "\\sqrt", "1/2",
]
pieces = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=40).map("".join)
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=300)


@SETTINGS
@given(text=st.one_of(pieces, any_text), kind=st.sampled_from(TYPES), mode=st.sampled_from(MODES),
       weighting=st.sampled_from(["difficulty_aware", "baseline"]))
def test_score_never_raises_and_is_finite(text, kind, mode, weighting):
    value = score(text, record_for(kind), MINI, mode=mode, weighting=weighting)
    assert isinstance(value, float) and math.isfinite(value)
    # a bounded reward: W <= 2, R_format + R_correct <= 11, |alpha * R_detail| <= 10 (paper:
    # planning detail has no floor, but at most one section per "--", so at most ~5 per char)
    assert value <= 2 * (11 + 10)
    if mode == "default":
        assert value >= 2 * -5


@SETTINGS
@given(name=any_text)
def test_normalize_is_idempotent(name):
    once = normalize(name)
    assert normalize(once) == once


ADVERSARIAL = {
    "many boxes": "\\boxed{" * 60_000,
    "many upper-case boxes": "\\BOXED{" * 60_000,
    "many oxed then one brace": "oxed{" * 60_000 + "}",
    "unclosed parentheses in a name": "Route Name: Red Line\nDeparture Stop: Alpha\nArrival Stop: " + "(" * 300_000,
    "labels without newline": "Route Name: " * 30_000,
    "departures without newline": "Departure Stop: " * 25_000 + "Route Name: x\nArrival Stop: y",
    "dashes": "--" * 200_000,
    "deep braces": "\\boxed{" + "{" * 300_000,
    "closing braces": "}" * 300_000,
    "unclosed stop list": "Stops: [" + "(" * 100_000 + "," * 100_000,
    "answer phrases": "the answer is " * 25_000,
    "many sections": "Route Name: Red Line\nDeparture Stop: Alpha (\nArrival Stop: Delta\n--\n" * 8_000,
    "control and other scripts": "".join(chr(i) for i in range(0x3000)) * 25,
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_completions_score_finite(name):
    # The released regular expressions backtrack for minutes on these inputs; timings
    # live in benchmarks/bench_rewards.py (house rule: no timed assertions in tests).
    text = ADVERSARIAL[name]
    for kind in TYPES:
        for mode in MODES:
            assert math.isfinite(score(text, record_for(kind), MINI, mode=mode))


# ----------------------------------------------------------------------------- modes agree

ANSWERS = {
    "TorF1": ["yes", "no", "Yes", "NO"],
    "TorF2": ["yes", "no", "YES", "No"],
    "Counting1": ["A", "B", "c", "D"],
    "Counting2": [str(n) for n in range(12)],
    "Counting3": [str(n) for n in range(12)],
}
prose = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,\n", max_size=80).filter(lambda s: "answer" not in s)


@SETTINGS
@given(kind=st.sampled_from(list(ANSWERS)), data=st.data(), before=prose, after=prose)
def test_paper_and_default_agree_on_plain_boxed_answers(kind, data, before, after):
    answer = data.draw(st.sampled_from(ANSWERS[kind]))
    text = f"{before}\\boxed{{{answer}}}{after}"
    paper = breakdown(text, record_for(kind), MINI, mode="paper")
    default = breakdown(text, record_for(kind), MINI, mode="default")
    assert paper.correct == default.correct
    assert default.format == 1.0 and paper.format == 0.0
    assert default.reward == pytest.approx(paper.reward + paper.weight)  # only R_format differs


@st.composite
def routes(draw):
    n = draw(st.integers(1, 4))
    sections, departure = [], draw(st.sampled_from(STATIONS))
    for _ in range(n):
        line = draw(st.sampled_from([*MINI, "Purple Line"]))
        arrival = draw(st.sampled_from(STATIONS))
        sections.append((line, departure, arrival))
        departure = arrival if draw(st.booleans()) or draw(st.booleans()) else draw(st.sampled_from(STATIONS))
    return sections


@SETTINGS
@given(sections=routes(), transfers=st.integers(0, 3), own_endpoints=st.booleans())
def test_paper_and_default_agree_on_plain_routes(sections, transfers, own_endpoints):
    text = "\n--\n".join(f"Route Name: {r}\nDeparture Stop: {d}\nArrival Stop: {a}" for r, d, a in sections)
    s1, s2 = (sections[0][1], sections[-1][2]) if own_endpoints else ("Alpha", "Golf")
    record = record_for("planning", station_1=s1, station_2=s2, question_transfer_count=transfers)
    paper = breakdown(text, record, MINI, mode="paper")
    default = breakdown(text, record, MINI, mode="default")
    assert paper.correct == default.correct  # route validity: no quirk applies to plain names
    if len(sections) <= transfers or paper.detail == default.detail == 0.0:
        assert paper.detail == default.detail  # no section reaches the off-by-one
    elif -10.0 < default.detail < 10.0:
        assert paper.detail == default.detail - 5  # exactly the off-by-one -5
    elif default.detail == 10.0:
        assert 5.0 <= paper.detail <= 10.0
    else:
        assert paper.detail <= -15.0


# ----------------------------------------------------------------------------- hedges

HEDGE_OPTIONS = {"TorF1": ["yes", "no"], "Counting1": ["A", "B", "C", "D"], "Counting2": ["2", "3", "4", "5"]}


@SETTINGS
@given(kind=st.sampled_from(list(HEDGE_OPTIONS)), data=st.data(), prefix=prose,
       layout=st.sampled_from(["boxes", "one box", "boxes with words"]),
       sep=st.sampled_from([" or ", "/", ", ", " and ", " | ", "; ", "\n"]))
def test_listing_several_options_never_pays(kind, data, prefix, layout, sep):
    options = data.draw(st.lists(st.sampled_from(HEDGE_OPTIONS[kind]), min_size=2, max_size=4, unique=True))
    if layout == "boxes":
        text = prefix + "".join(f"\\boxed{{{o}}}" for o in options)
    elif layout == "one box":
        text = prefix + "\\boxed{" + sep.join(options) + "}"
    else:
        text = prefix + " maybe ".join(f"\\boxed{{{o}}}" for o in options)
    for truth in range(2 if kind == "TorF1" else 4):
        record = record_for(kind, answer=truth + (2 if kind == "Counting2" else 0))
        parts = breakdown(text, record, MINI, mode="default")
        assert parts.reward == 0.0 and parts.format == 0.0 and parts.correct == 0.0


HACKS = [
    ("TorF1", "\\boxed{yes}\\boxed{no}"), ("TorF1", "\\boxed{yes/no}"), ("TorF1", "\\boxed{yes or no}"),
    ("TorF1", "\\boxed{\\text{yes}}\\boxed{\\text{no}}"), ("TorF1", "\\boxed{yes, no}"), ("TorF1", "\\boxed{yesno}"),
    ("TorF1", "the answer is yes. the answer is no."), ("TorF1", "\\boxed{yes} \\boxed{yes} \\boxed{no}"),
    ("Counting1", "\\boxed{ABCD}"), ("Counting1", "\\boxed{A or B}"), ("Counting1", "\\boxed{A}\\boxed{B}\\boxed{C}\\boxed{D}"),
    ("Counting1", "\\boxed{A, B, C, D}"), ("Counting1", "\\boxed{(A)(B)}"), ("Counting1", "\\boxed{B/C}"),
    ("Counting1", "Stops: [Bravo, Central]\n\\boxed{A}\\boxed{B}"),
    ("Counting2", "\\boxed{2}\\boxed{3}\\boxed{4}"), ("Counting2", "\\boxed{3 or 4}"), ("Counting2", "\\boxed{2-4}"),
    ("Counting2", "\\boxed{3, 4}"), ("Counting2", "\\boxed{3.5}"), ("Counting2", "\\boxed{\\{3\\}}"),
    ("planning", ("\\boxed{Route Name: Red Line\nDeparture Stop: Alpha\nArrival Stop: Central}"
                  "\\boxed{Route Name: Blue Line\nDeparture Stop: Alpha\nArrival Stop: Golf}")),
]


@pytest.mark.parametrize("kind, text", HACKS)
def test_hack_strings_earn_nothing_in_default_mode(kind, text):
    for truth in ([0, 1] if kind == "TorF1" else [0, 1, 2, 3] if kind == "Counting1" else [2, 3, 4] if kind == "Counting2" else [-1]):
        assert score(text, record_for(kind, answer=truth), MINI) == 0.0


# ----------------------------------------------------------------------------- review findings

TORF = {"id": "q", "type": "TorF1", "answer": 1, "station_1": "Alpha", "station_2": "Bravo",
        "difficulty_city": "easy", "question_transfer_count": 0}


@pytest.mark.parametrize("text", [
    "\\boxed {no} or \\boxed{yes}",
    "\\boxed{}{no} or \\boxed{yes}",
    "\\boxed\n{no} ... \\boxed{yes}",
    "\\BOXED{no} \\boxed{yes}",
])
def test_hedges_behind_other_box_spellings_never_pay(text):
    assert score(text, TORF, MINI) == 0.0


def test_empty_format_echo_is_still_ignored():
    assert score("Answer with \\boxed{}: \\boxed{yes}", TORF, MINI) == 11.0
    assert score("\\boxed{yes} \\BOXED{}", TORF, MINI) == 11.0
